package spectate_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/spectate"
)

// TestFeedEndsWhenItsTokenExpires: a private room's feed opened with a
// member's session token ends when the token expires, with an end event
// "token_expired", as the token's connections are closed then; it streamed
// on for as long as it stayed open.
func TestFeedEndsWhenItsTokenExpires(t *testing.T) {
	e := start(t, spectate.Config{})
	room, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	e.member("ann", room.ID())
	now := time.Now()
	short, err := e.auth.Issue(auth.Claims{UserID: "ann", Name: "ann", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	s, code, body := e.open(room.ID(), "?token="+short, nil)
	if s == nil {
		t.Fatalf("feed with a token valid for 2 s: status %d: %s", code, body)
	}
	if st, _ := s.state(); !st.Keyframe {
		t.Fatalf("first state %+v, want a keyframe", st)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("the stream closed without an end event")
			}
			if ev.name != "end" {
				continue
			}
			if ev.data != `{"reason":"token_expired"}` {
				t.Fatalf("end event %s, want the reason token_expired", ev.data)
			}
			if ev, ok := <-s.events; ok {
				t.Fatalf("event %+v after the end", ev)
			}
			return
		case <-deadline:
			t.Fatal("no end event 15 s after the feed opened with a token valid for 2 s, and the stream is still open")
		}
	}
}
