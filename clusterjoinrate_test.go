package tickroom_test

import (
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestJoinChurnIsRateLimitedOnANodeOfACluster: on a node of a cluster a
// join runs off the event loop, through the cluster directory, and was
// no more bounded than on one node: a guest cycling JoinRoom and
// LeaveRoom of a room of its node had every other member sent two room
// events a cycle. The node's bucket of the user's joins now refuses it
// there too, with ERROR_CODE_RATE_LIMITED and a retry hint, before a
// seat is asked of Redis (docs/limits.md).
func TestJoinChurnIsRateLimitedOnANodeOfACluster(t *testing.T) {
	t.Parallel()
	// A room of four: a seat given up is free again at the room's next
	// tick only, and the guest's next join may come before it.
	def := raceDefinition()
	def.Name, def.MaxPlayers = "race4", 4
	a, _, _ := twoNodes(t, def)
	host := dial(t, a, "host")
	room := host.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race4"}}}).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("the host's room was not made")
	}
	guest := dial(t, a, "guest")
	join := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
	leave := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}
	const n = 64
	served, refused := 0, 0
	for range n {
		m := guest.Request(join)
		switch {
		case m.GetJoined() != nil:
			served++
			if l := guest.Request(leave); l.GetLeft() == nil {
				t.Fatalf("LeaveRoom after a join: %v", l)
			}
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().RetryAfterMs > 0:
			refused++
		default:
			t.Fatalf("JoinRoom of the host's room: %v", m)
		}
	}
	if refused == 0 {
		t.Fatalf("%d JoinRoom and LeaveRoom cycles of one guest on a node of a cluster, none refused", n)
	}
	if served == 0 {
		t.Fatal("no join served: the bucket's burst should let a few through")
	}
}
