package hub_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// TestMovedRoomIsNoLoss: a gomoku room saved away (Room.Handoff, as a
// drain does) takes its members out without a Left, a leave notice or a
// result; restored (here, standing for another node) and adopted, its
// members get an unprompted Redirect, reconnect, and resume the same
// seats with the same board, and the match goes on.
func TestMovedRoomIsNoLoss(t *testing.T) {
	t.Parallel()
	var results atomic.Int32
	e := start(t, options{games: withGomoku, hub: func(c *hub.Config) {
		c.Runtime.OnResult = func(game.Result) { results.Add(1) }
	}})
	black, _ := e.connect("black")
	white, _ := e.connect("white")
	room := joined(t, black.Request(quickMatch("gomoku"))).RoomId
	joined(t, white.Request(quickMatch("gomoku")))
	black.Send(input(room, 1, move(7, 7)))
	waitFor(t, "black's move acked", func() bool { return black.ack(room, 1) == 1 })
	waitFor(t, "white sees it", func() bool { return len(white.entities(room)) == 1 })

	r, ok := e.hub.Runtime().Room(room)
	if !ok {
		t.Fatal("no room")
	}
	saved := make(chan *tickroomv1.SavedRoom, 1)
	if err := r.Handoff(func(s *tickroomv1.SavedRoom, err error) {
		if err != nil {
			t.Error(err)
		}
		saved <- s
	}); err != nil {
		t.Fatal(err)
	}
	s := <-saved
	waitFor(t, "the room gone", func() bool { _, ok := e.hub.Runtime().Room(room); return !ok })
	for _, c := range []*client{black, white} {
		for _, m := range drain(c) {
			if m.GetLeft() != nil || m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_LEFT ||
				m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
				t.Fatalf("%s told %v when the room moved", c.user, m)
			}
		}
	}

	moved, err := e.hub.Runtime().RestoreRoom(s)
	if err != nil {
		t.Fatal(err)
	}
	e.hub.Adopt(moved, s.Members)
	to := hub.Reservation{URL: e.url, NodeID: "here", Token: "tok", TTL: time.Minute}
	if n := e.hub.MovedTo(room, func(string) (hub.Reservation, bool) { return to, true }); n != 2 {
		t.Fatalf("redirected %d sessions, want 2", n)
	}
	for _, p := range []struct {
		c    **client
		seat uint32
	}{{&black, 1}, {&white, 2}} {
		old := *p.c
		r := old.Moved()
		if r.RoomId != room || r.Url != e.url || r.Reservation != "tok" || r.ExpiresInMs != 60000 {
			t.Fatalf("%s: redirect %v", old.user, r)
		}
		c, w := e.connect(old.user)
		if len(w.Seats) != 1 || w.Seats[0].RoomId != room || w.Seats[0].Seat != p.seat {
			t.Fatalf("%s: welcome seats %v", old.user, w.Seats)
		}
		c.adopt(old, room)
		tick, _, _, _ := old.world(room)
		if j := joined(t, c.Request(joinRoom(room, tick))); !j.Resumed || j.Seat != p.seat {
			t.Fatalf("%s: resumed %v", old.user, j)
		}
		*p.c = c
	}
	waitFor(t, "both see the board", func() bool { return len(black.entities(room)) == 1 && len(white.entities(room)) == 1 })
	white.Send(input(room, 1, move(8, 8)))
	waitFor(t, "white's move acked on the restored room", func() bool { return white.ack(room, 2) == 1 })
	if n := results.Load(); n != 0 {
		t.Fatalf("%d results recorded for a match that moved", n)
	}
}
