package spectate_test

import (
	"math"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/tickroom/tickroom/server/spectate"
)

// TestFeedRevokedBeforeItsFirstWriteSendsOnlyItsEnd: a feed opened with
// a session token whose token is revoked (a kick) once the room took it,
// with the room's first keyframe already waiting in it, sends its end
// event and nothing of the room: the revocation goes before any state
// that waits with it, every time (the stream wrote the waiting keyframe
// first about half the time).
func TestFeedRevokedBeforeItsFirstWriteSendsOnlyItsEnd(t *testing.T) {
	// The feeds open one after another from one address, past its
	// open rate.
	e := start(t, spectate.Config{OpenRate: math.Inf(1)})
	room, dial := e.room(opts(t.Name()))
	dial.Store(7)
	var user atomic.Pointer[string]
	spectate.SetBeforeRun(t, func(id string) {
		if id != room.ID() {
			return
		}
		tick := room.Info().Tick
		_ = e.hub.Kick(*user.Load(), "")
		// Two ticks on, the room has sent the stream its keyframe.
		waitFor(t, func() bool { return room.Info().Tick > tick+1 })
	})
	const feeds = 24
	for i := range feeds {
		name := "viewer" + strconv.Itoa(i)
		user.Store(&name)
		s, code, body := e.open(room.ID(), "?token="+e.token(name), nil)
		if s == nil {
			t.Fatalf("feed %d: status %d: %s", i, code, body)
		}
		var got []string
		for ev := range s.events {
			got = append(got, ev.name+" "+ev.data)
		}
		if len(got) != 1 || got[0] != `end {"reason":"kicked"}` {
			t.Fatalf("feed %d, its token revoked before its first write: %q, want only its end event", i, got)
		}
	}
}
