package hub_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// A JoinRoom sent after a LeaveRoom of a join still pending (a "rematch"
// pressed at once) waits for the two before it: the first join is
// answered, the seat given up and the leave answered Left, then the user
// joins again, rather than being refused ALREADY_IN_ROOM for the join it
// was leaving.
func TestJoinLeaveJoinBeforeTheFirstJoinSettles(t *testing.T) {
	t.Parallel()
	e, rt, room := startWithBobsRoom(t)

	a, _ := e.connect("alice")
	first := a.Send(joinRoom(room, 0))
	leave := a.Send(leaveRoom(room))
	again := a.Send(joinRoom(room, 0))
	// The answers, in the order they come.
	var answers []*tickroomv1.ServerMessage
	replyAsRoomsTick(t, rt, a, 0, func(m *tickroomv1.ServerMessage) bool {
		if m.RequestId == first || m.RequestId == leave || m.RequestId == again {
			answers = append(answers, m)
		}
		return len(answers) == 3 || m.GetError() != nil
	})
	if len(answers) != 3 || answers[0].RequestId != first || answers[1].RequestId != leave || answers[2].RequestId != again {
		t.Fatalf("answers to JoinRoom, LeaveRoom, JoinRoom: %v, want them in that order", answers)
	}
	joined(t, answers[0])
	if l := answers[1].GetLeft(); l == nil || l.RoomId != room || l.Reason != tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED {
		t.Fatalf("LeaveRoom of the pending join: %v, want Left{REQUESTED}", answers[1])
	}
	if j := answers[2].GetJoined(); j.GetRoomId() != room {
		t.Fatalf("JoinRoom sent after the leave: %v, want Joined", answers[2])
	}
	// alice is in the room once, and leaves it as any member.
	if l := a.Request(leaveRoom(room)).GetLeft(); l == nil {
		t.Fatal("alice's leave after joining again not answered with Left")
	}
	aliceOut(t, e, rt, room)
}

// The same pressed twice: JoinRoom, LeaveRoom, JoinRoom, LeaveRoom before
// the first join settles are each answered in turn, and leave the user
// out of the room.
func TestJoinLeaveTwiceBeforeTheFirstJoinSettles(t *testing.T) {
	t.Parallel()
	e, rt, room := startWithBobsRoom(t)

	a, _ := e.connect("alice")
	ids := []uint32{a.Send(joinRoom(room, 0)), a.Send(leaveRoom(room)), a.Send(joinRoom(room, 0)), a.Send(leaveRoom(room))}
	var answers []*tickroomv1.ServerMessage
	replyAsRoomsTick(t, rt, a, 0, func(m *tickroomv1.ServerMessage) bool {
		if slices.Contains(ids, m.RequestId) {
			answers = append(answers, m)
		}
		return len(answers) == len(ids) || m.GetError() != nil
	})
	for i, m := range answers {
		if m.RequestId != ids[i] || (i%2 == 0 && m.GetJoined() == nil) || (i%2 == 1 && m.GetLeft() == nil) {
			t.Fatalf("answers to JoinRoom, LeaveRoom, JoinRoom, LeaveRoom: %v, want Joined, Left, Joined, Left in that order", answers)
		}
	}
	if len(answers) != len(ids) {
		t.Fatalf("answers to JoinRoom, LeaveRoom, JoinRoom, LeaveRoom: %v, want 4", answers)
	}
	aliceOut(t, e, rt, room)
}

// A LeaveRoom served as the game has seated the join it leaves, before
// that join's Joined went out, is answered after the Joined, as one that
// comes while the join is pending. It was answered Left at once, and the
// Joined came after it: the user, told last that it was in the room,
// stayed in the room's chat and in its presence there, out of the room.
func TestLeaveAsTheJoinIsAnsweredIsAnsweredAfterIt(t *testing.T) {
	t.Parallel()
	e, a, room, join, resume := aliceJoinHeld(t)
	leave := a.Send(leaveRoom(room))
	// Served in order on the connection: the Pong tells the leave was.
	ping := a.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	var answers []*tickroomv1.ServerMessage
	a.Next(func(m *tickroomv1.ServerMessage) bool {
		if m.RequestId == join || m.RequestId == leave {
			answers = append(answers, m)
		}
		return m.RequestId == ping
	})
	resume()
	for len(answers) < 2 {
		answers = append(answers, a.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == join || m.RequestId == leave }))
	}
	if answers[0].RequestId != join || answers[0].GetJoined() == nil || answers[1].RequestId != leave || answers[1].GetLeft() == nil {
		t.Fatalf("answers to JoinRoom, then LeaveRoom served as the join was seated: %v, want Joined, then Left", answers)
	}
	if code := errCode(t, a.Request(roomChat(room, "still here?", false))); code != tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM {
		t.Fatalf("alice's chat line to the room she left: %v, want NOT_IN_ROOM", code)
	}
	waitFor(t, "alice's seat given up", func() bool {
		r, ok := e.hub.Runtime().Room(room)
		return ok && r.Seated() == 1
	})
	if n := e.hub.RoomsOf("alice"); n != 0 {
		t.Fatalf("alice is counted in %d rooms after leaving, want 0", n)
	}
}

// An Input or GetWatchPass of a room sent after a LeaveRoom of it that
// waits for its join's Joined (the join seated, its Joined not sent yet)
// is refused NOT_IN_ROOM, as it is after a LeaveRoom of a join still
// pending: the user asked to be out of the room. The input was applied
// and a watch pass issued, as to a member.
func TestInputAndWatchPassAfterALeaveThatWaitsForTheJoinedAreNotInRoom(t *testing.T) {
	t.Parallel()
	_, a, room, join, resume := aliceJoinHeld(t)
	leave := a.Send(leaveRoom(room))
	pass := a.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetWatchPass{GetWatchPass: &tickroomv1.GetWatchPass{RoomId: room}}})
	in := a.Send(input(room, 1, []byte("+")))
	// Served in order on the connection: the Pong tells the two were.
	ping := a.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	answers := map[uint32]*tickroomv1.ServerMessage{}
	a.Next(func(m *tickroomv1.ServerMessage) bool {
		if m.RequestId == pass || m.RequestId == in {
			answers[m.RequestId] = m
		}
		return m.RequestId == ping
	})
	resume()
	if m := answers[pass]; m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM {
		t.Errorf("GetWatchPass after a LeaveRoom that waits for the Joined: %v, want NOT_IN_ROOM", m)
	}
	if m := answers[in]; m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM {
		t.Errorf("Input after a LeaveRoom that waits for the Joined: %v (nil: taken), want NOT_IN_ROOM", m)
	}
	// The join and the leave are answered, in that order, as ever.
	if m := a.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == join || m.RequestId == leave }); m.RequestId != join || m.GetJoined() == nil {
		t.Fatalf("first answer to JoinRoom, LeaveRoom: %v, want Joined", m)
	}
	if m := a.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == leave }); m.GetLeft() == nil {
		t.Fatalf("LeaveRoom: %v, want Left", m)
	}
}

// startWithBobsRoom starts a hub whose rooms tick only when the test
// advances their clock, has bob quick-match into a room of tally, and
// returns the env, its runtime and the room's id.
func startWithBobsRoom(t *testing.T) (*env, *game.Runtime, string) {
	t.Helper()
	clock := game.NewManualClock(time.Now()) // the rooms tick only when told
	e := start(t, options{hub: func(c *hub.Config) { c.Runtime.Clock = clock }})
	return e, e.hub.Runtime(), bobsRoom(t, e, "tally")
}

// aliceOut moves the rooms' clock on until alice's seat in room is given
// up, bob's the one left, and checks she is counted in no room.
func aliceOut(t *testing.T, e *env, rt *game.Runtime, room string) {
	t.Helper()
	waitFor(t, "alice's seat given up", func() bool {
		_ = rt.Advance(20 * time.Millisecond)
		r, ok := rt.Room(room)
		return ok && r.Seated() == 1
	})
	if n := e.hub.RoomsOf("alice"); n != 0 {
		t.Fatalf("alice is counted in %d rooms after leaving, want 0", n)
	}
}

// aliceJoinHeld starts a hub with bob in a room of tally and alice's
// JoinRoom of it held between its seat and its Joined (HoldJoinAnswer);
// resume lets the Joined go.
func aliceJoinHeld(t *testing.T) (e *env, a *client, room string, join uint32, resume func()) {
	t.Helper()
	var held <-chan struct{}
	e = start(t, options{made: func(h *hub.Hub) { held, resume = h.HoldJoinAnswer(t, "alice") }})
	room = bobsRoom(t, e, "tally")
	a, _ = e.connect("alice")
	join = a.Send(joinRoom(room, 0))
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's join was never seated")
	}
	return e, a, room, join, resume
}
