package spectate_test

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/spectate"
)

// TestReopenedStreamsAreRateLimited runs the attack of an anonymous
// client that reopens a room's feed as soon as it has read its first
// event. Each stream starts with a keyframe, the whole room, which a JSON
// stream decodes entity by entity and writes whole: ~5 ms of a core for
// the arena's largest map, against a few microseconds for the deltas a
// stream that stays gets, at most 10 a second. Only the open streams of
// an address were bounded (4), not how fast it opened them, so each of
// them got a keyframe at every tick of the room: 80 a second at 20 Hz, a
// few hundred at the 120 Hz a guest may give such a room, a core and more
// for one address. An address now opens at most Config.OpenBurst streams
// at once and then Config.OpenRate a second, refused with 429 and
// Retry-After past it; other addresses are not held back.
func TestReopenedStreamsAreRateLimited(t *testing.T) {
	e := start(t, spectate.Config{TrustedProxies: clientip.MustParse("127.0.0.1")})
	room, _ := e.room(opts(t.Name()))
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	const tries = 100
	opened := 0
	var retryAfter string // of the refusal that ended the loop
	for opened < tries {
		req, _ := http.NewRequest("GET", e.http.URL+"/v1/rooms/"+room.ID()+"/events", nil)
		req.Header = from("198.51.100.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		s, code, body := e.stream(resp)
		if s == nil {
			if code == http.StatusTooManyRequests && strings.Contains(body, "too many open streams") {
				// The last stream's handler has not returned yet: its
				// slot of the 4 open streams is still taken.
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if code != http.StatusTooManyRequests || !strings.Contains(body, "opened too fast") {
				t.Fatalf("stream %d: status %d (%s), want 429 for streams opened too fast", opened+1, code, strings.TrimSpace(body))
			}
			retryAfter = resp.Header.Get("Retry-After")
			break
		}
		if st, _ := s.state(); !st.Keyframe {
			t.Fatalf("stream %d began with %+v, not a keyframe", opened+1, st)
		}
		s.resp.Body.Close()
		opened++
	}
	if opened == tries {
		t.Fatalf("%d streams opened one after another from one address, each with a keyframe of the room: none refused", tries)
	}
	if opened < 8 {
		t.Fatalf("refused after %d streams, want a burst of at least 8 (a page's 4 streams, and each reconnecting once)", opened)
	}
	// The refusal says when to come back (read from it, not from another
	// request, by which the bucket may have refilled), and holds back no
	// one else.
	if ra, err := strconv.Atoi(retryAfter); err != nil || ra < 1 {
		t.Fatalf("refusal's Retry-After %q, want whole seconds", retryAfter)
	}
	s, code, body := e.open(room.ID(), "", from("198.51.100.8"))
	if s == nil {
		t.Fatalf("stream from another address: %d (%s), want it open", code, strings.TrimSpace(body))
	}
	s.state()
}

// TestNewRefusesABadOpenRate: an OpenRate of NaN, which no comparison
// with a limit ever trips, or a negative one, is refused naming it.
func TestNewRefusesABadOpenRate(t *testing.T) {
	e := start(t, spectate.Config{})
	for _, tc := range []struct {
		cfg  spectate.Config
		want string
	}{
		{spectate.Config{OpenRate: math.NaN()}, "OpenRate is not a number"},
		{spectate.Config{OpenRate: -1}, "negative limit"},
		{spectate.Config{OpenBurst: -1}, "negative limit"},
	} {
		tc.cfg.Rooms, tc.cfg.Members, tc.cfg.Auth = e.hub.Runtime(), e.hub, e.auth
		if _, err := spectate.New(tc.cfg); !errors.Is(err, spectate.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(OpenRate %g, OpenBurst %d): %v, want ErrConfig saying %q", tc.cfg.OpenRate, tc.cfg.OpenBurst, err, tc.want)
		}
	}
}
