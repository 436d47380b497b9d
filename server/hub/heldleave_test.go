package hub_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// A seat held from a connection that dropped is given up with a LeaveRoom
// from the user's next connection, without resuming it first: a page
// reloaded mid-match whose player chooses to abandon frees the seat at
// once, rather than keeping the others waiting out the resume window.
func TestLeaveGivesUpASeatHeldFromAnEarlierConnection(t *testing.T) {
	t.Parallel()
	clock := game.NewManualClock(time.Now()) // the room ticks only when told
	e := start(t, options{hub: func(c *hub.Config) {
		c.Runtime.Clock = clock
		c.Runtime.DropGrace = time.Minute
	}})
	rt := e.hub.Runtime()
	room := bobsRoom(t, e, "tally")
	r, _ := rt.Room(room)
	a1 := seatAlice(t, e, r)
	a1.WS.UnderlyingConn().Close()
	a1.WaitClosed()
	waitFor(t, "alice's connection gone", func() bool { return !e.hub.Online("alice") })
	_ = rt.Advance(100 * time.Millisecond) // the room holds the seat

	a2, w := e.connect("alice")
	if len(w.Seats) != 1 || w.Seats[0].RoomId != room {
		t.Fatalf("Welcome lists held seats %v, want the one in %s", w.Seats, room)
	}
	reply := a2.Request(leaveRoom(room))
	if l := reply.GetLeft(); l == nil || l.RoomId != room || l.Reason != tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED {
		t.Fatalf("LeaveRoom of the held seat: reply %v, want Left{REQUESTED}", reply)
	}
	_ = rt.Advance(100 * time.Millisecond)
	for _, p := range r.Players() {
		if p.UserID == "alice" {
			t.Fatalf("alice still has seat %d after leaving it: %+v", p.Seat, p)
		}
	}
	if code := errCode(t, a2.Request(joinRoom(room, 1))); code != tickroomv1.ErrorCode_ERROR_CODE_RESUME_UNAVAILABLE {
		t.Fatalf("resume of the seat given up: %v, want RESUME_UNAVAILABLE", code)
	}
	if code := errCode(t, a2.Request(leaveRoom(room))); code != tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM {
		t.Fatalf("second LeaveRoom: %v, want NOT_IN_ROOM", code)
	}
	_, w = e.connect("alice")
	if len(w.Seats) != 0 {
		t.Fatalf("the next Welcome lists held seats %v after alice left hers", w.Seats)
	}
}

// A LeaveRoom sent while the join of that room was still pending, by a
// connection that then closed before the room settled the join: the user
// asked to be out of the room, so the seat is given up at the tick, not
// held for the resume window as after a drop (the other players would see
// it taken, the room full, until the window ran out, and the user's next
// Welcome would list it).
func TestLeaveOfAPendingJoinHoldsNoSeatWhenTheConnectionCloses(t *testing.T) {
	t.Parallel()
	clock := game.NewManualClock(time.Now()) // the room ticks only when told
	e := start(t, options{hub: func(c *hub.Config) {
		c.Runtime.Clock = clock
		c.Runtime.DropGrace = time.Minute
	}})
	rt := e.hub.Runtime()
	room := bobsRoom(t, e, "tally")
	r, _ := rt.Room(room)

	a1, _ := e.connect("alice")
	a1.Send(joinRoom(room, 0))
	a1.Send(leaveRoom(room))
	a1.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	a1.WS.UnderlyingConn().Close()
	waitFor(t, "alice's connection gone", func() bool { return !e.hub.Online("alice") })
	_ = rt.Advance(100 * time.Millisecond) // the room settles the join
	_ = rt.Advance(100 * time.Millisecond)
	for _, p := range r.Players() {
		if p.UserID == "alice" {
			t.Fatalf("alice, who left before her join settled, still has seat %d: %+v", p.Seat, p)
		}
	}
	if _, w := e.connect("alice"); len(w.Seats) != 0 {
		t.Fatalf("alice's next Welcome lists held seats %v after she left the room", w.Seats)
	}
}
