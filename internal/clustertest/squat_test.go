package clustertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestSeatSquattingAcrossNodes: a client that asks to join rooms of
// another node and never follows its redirects holds at most 4 seat
// reservations (the per-user room budget), then gets ALREADY_IN_ROOM;
// the rooms it was refused still take other players. A room with a
// password on another node refuses a wrong one with WRONG_PASSWORD, as
// its own node does, before any seat is held.
func TestSeatSquattingAcrossNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	create := func(owner string, password string) string {
		t.Helper()
		p := connect(t, n1, owner)
		r := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku", Password: password}}})
		return joined(t, owner, r).RoomId
	}
	var rooms []string
	for i := 0; i < 5; i++ {
		rooms = append(rooms, create(fmt.Sprint("owner", i), ""))
	}
	squat(t, connect(t, n2, "squatter"), n1, rooms)
	if r := followOnceGone(t, c, n2, "other", joinRoom(rooms[4], 0)); r.GetJoined() == nil {
		t.Fatalf("another player joining the room refused to the squatter: %v", r)
	}

	locked := create("keeper", "sesame")
	wrong := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: locked, Password: "guess"}}}
	for _, n := range []*Node{n1, n2} {
		p := connect(t, n, "guesser-"+n.ID)
		if r := p.c.Request(wrong); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
			t.Fatalf("wrong password through %s: %v, want WRONG_PASSWORD", n.ID, r)
		}
	}
	right := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: locked, Password: "sesame"}}}
	if r := followOnceGone(t, c, n2, "friend", right); r.GetJoined() == nil {
		t.Fatalf("right password through %s: %v", n2.ID, r)
	}
}

// TestSeatReservationsFollowMaxRoomsPerUser: -max-rooms-per-user sets the
// reservations a user may hold on other nodes too: at 2, a client that
// does not follow its redirects gets ALREADY_IN_ROOM at the third.
func TestSeatReservationsFollowMaxRoomsPerUser(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-max-rooms-per-user", "2"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	var rooms []string
	for i := 0; i < 3; i++ {
		owner := connect(t, n1, fmt.Sprint("owner", i))
		r := owner.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku"}}})
		rooms = append(rooms, joined(t, "owner", r).RoomId)
	}
	squat(t, connect(t, n2, "squatter"), n1, rooms)
}

// followOnceGone logs name in on node from, sends m there, which is
// answered with a redirect, and follows it with the same token once the
// cluster no longer records the session on from; it returns the reply to
// m, with the redirect's reservation, on the node it names. A client that
// dials the node named at once, as a player on loopback does in a few
// milliseconds, can be closed as replaced (4502) while waiting: its closed
// session's record on from may still be in Redis, and the two nodes order
// the two sessions by their accept times on Redis's clock, each as its
// heartbeats measured it, within half a round trip to Redis; on a loaded
// box those halves differ by more than the few milliseconds between the
// two sessions, and the newer one was taken for the older.
func followOnceGone(t *testing.T, c *Cluster, from *Node, name string, m *tickroomv1.ClientMessage) *tickroomv1.ServerMessage {
	t.Helper()
	tok, uid := from.Login(t, name)
	p := connectAs(t, from, name, tok)
	reply := p.c.Request(m)
	r := reply.GetRedirect()
	if r == nil {
		t.Fatalf("%s through %s: %v, want a redirect", name, from.ID, reply)
	}
	c.WaitSessionRecorded(t, 10*time.Second, from, uid) // else its removal could land after n1's claim
	_ = p.c.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "redirect"), time.Now().Add(time.Second))
	_ = p.c.WS.Close()
	c.WaitSessionGone(t, 10*time.Second, from, uid)
	next, _, err := testclient.Dial(t, r.Url, tok, testclient.Options{Label: name, OnState: p.onState})
	if err != nil {
		t.Fatalf("%s following the redirect to %s: %v", name, r.Url, err)
	}
	next.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	m = m.CloneVT()
	m.GetJoinRoom().Reservation = r.Reservation
	return next.Request(m)
}

// squat has p ask to join rooms, all on node at, without following its
// redirects: each but the last is answered with a redirect there, the
// last, past the user's reservations, with ALREADY_IN_ROOM.
func squat(t *testing.T, p *player, at *Node, rooms []string) {
	t.Helper()
	last := len(rooms) - 1
	for i, room := range rooms[:last] {
		if r := p.c.Request(joinRoom(room, 0)); r.GetRedirect().GetNodeId() != at.ID {
			t.Fatalf("join %d: %v, want a redirect to %s", i, r, at.ID)
		}
	}
	if r := p.c.Request(joinRoom(rooms[last], 0)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM {
		t.Fatalf("join %d without following: %v, want ALREADY_IN_ROOM", last, r)
	}
}
