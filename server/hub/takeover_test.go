package hub_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// TestInputOfAConnectionWhoseSeatWasTakenOver: once another connection of
// the user has asked to resume the seat, an input from the first one is
// refused NOT_IN_ROOM rather than applied: applied after the resume's
// answer, its sequence number would pass the new connection's
// last_input_seq and that connection's next inputs would be dropped as
// resends.
func TestInputOfAConnectionWhoseSeatWasTakenOver(t *testing.T) {
	t.Parallel()
	ping := func() *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}}
	}
	e, room, a1, seat := aliceInTally(t)
	rt := e.hub.Runtime()
	a1.Send(input(room, 1, []byte("+")))
	a1.Request(ping())

	a2, _ := e.connect("alice")
	jid := a2.Send(joinRoom(room, 0))
	a2.Request(ping())
	iid, pid := a1.Send(input(room, 2, []byte("+"))), a1.Send(ping())
	if m := a1.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == iid || m.RequestId == pid }); m.RequestId != iid || m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM {
		t.Fatalf("the first connection's input once the second asked for the seat: taken (the next answer %v), want NOT_IN_ROOM", m)
	}
	_ = rt.Advance(100 * time.Millisecond)
	j := joined(t, a2.Reply(jid))
	if !j.Resumed || j.LastInputSeq != 1 {
		t.Fatalf("resume: resumed %v, last_input_seq %d, want 1", j.Resumed, j.LastInputSeq)
	}
	a2.Send(input(room, j.LastInputSeq+1, []byte("+")))
	a2.Request(ping())
	_ = rt.Advance(100 * time.Millisecond)
	waitFor(t, "the second connection's input applied", func() bool { return string(a2.entities(room)[uint64(seat)]) == "2" })
}

// aliceInTally starts a hub whose users may hold several connections and
// whose rooms tick only when the test advances their clock, and seats
// alice, on a connection of her own, in bob's tally room.
func aliceInTally(t *testing.T) (e *env, room string, a1 *client, seat uint32) {
	t.Helper()
	clock := game.NewManualClock(time.Now())
	e = start(t, options{hub: func(c *hub.Config) {
		c.Runtime.Clock = clock
		c.MultipleSockets = true
	}})
	rt := e.hub.Runtime()
	room = bobsRoom(t, e, "tally")
	r, _ := rt.Room(room)
	a1, _ = e.connect("alice")
	id := a1.Send(joinRoom(room, 0))
	waitFor(t, "alice's join queued", func() bool { return r.Info().Players == 2 })
	_ = rt.Advance(100 * time.Millisecond)
	return e, room, a1, joined(t, a1.Reply(id)).Seat
}
