package hub_test

import (
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// A WatchRooms builds its first list from every room of the node (up to
// MaxRooms, 10,000), on the connection's loop, and a client could send
// one again with the same watch id, or unwatch and watch again, at its
// message rate (120 a second): each was served, so one guest had its
// loop walk the node's rooms over and over. The first lists a
// connection asks for are now a token bucket's; past it a WatchRooms is
// refused with ERROR_CODE_RATE_LIMITED and a retry hint, and the watch
// it would have replaced goes on as it was. The bucket refills at a few
// a second, so a burst of three times its size meets it however slowly
// the box answers.
func TestRepeatedWatchRoomsAreRateLimited(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("a")
	r1 := joined(t, a.Request(createSized("tally", 2))).RoomId
	b, _ := e.connect("b")
	r2 := joined(t, b.Request(createSized("tally", 2))).RoomId
	lobby, _ := e.connect("lobby")
	l := watch(t, lobby, 1, &tickroomv1.WatchRooms{Game: "tally"})
	if len(l.rooms) != 2 || l.rooms[r1] == nil || l.rooms[r2] == nil {
		t.Fatalf("first list %v, want %s and %s", keys(l.rooms), r1, r2)
	}

	// The same watch again and again, as fast as the message rate lets.
	const n = 48
	ids := map[uint32]bool{}
	for range n {
		ids[lobby.Send(watchRooms(1, &tickroomv1.WatchRooms{Game: "tally"}))] = true
	}
	lists, refused := 0, 0
	for range n {
		m := lobby.Next(func(m *tickroomv1.ServerMessage) bool { return ids[m.RequestId] })
		switch {
		case m.GetRoomList() != nil:
			lists++
			// A list that is served is whole.
			if got := m.GetRoomList().Rooms; len(got) != 2 {
				t.Fatalf("a repeated WatchRooms listed %d rooms, want 2", len(got))
			}
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
			refused++
			if m.GetError().RetryAfterMs == 0 {
				t.Fatalf("a refused WatchRooms carries no retry_after_ms: %v", m)
			}
		default:
			t.Fatalf("repeated WatchRooms: %v", m)
		}
	}
	if refused == 0 {
		t.Fatalf("%d WatchRooms of one watch id answered with %d first lists, none refused: each walks every room of the node on the loop", n, lists)
	}
	if lists == 0 {
		t.Fatal("no repeated WatchRooms served: the burst should let a few through")
	}

	// Unwatching and watching again is counted too.
	watchRefused := 0
	for range 24 {
		lobby.Send(unwatchRooms(2))
		if m := lobby.Request(watchRooms(2, nil)); m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			watchRefused++
		} else if m.GetRoomList() == nil {
			t.Fatalf("WatchRooms after UnwatchRooms: %v", m)
		}
	}
	if watchRefused == 0 {
		t.Fatal("24 UnwatchRooms and WatchRooms pairs, no WatchRooms refused")
	}

	// The refusals left watch 1 as the last list served made it: it still
	// follows the rooms of its game.
	c, _ := e.connect("c")
	r3 := joined(t, c.Request(createSized("tally", 2))).RoomId
	l.until("the new room", players(r3, 1))

	// Another connection has a bucket of its own.
	other, _ := e.connect("other")
	if o := watch(t, other, 1, &tickroomv1.WatchRooms{Game: "tally"}); len(o.rooms) != 3 {
		t.Fatalf("another connection's first list %v, want 3 rooms", keys(o.rooms))
	}
}
