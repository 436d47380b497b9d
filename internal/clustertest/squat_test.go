package clustertest

import (
	"fmt"
	"testing"

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
	other := connect(t, n2, "other")
	if r, _ := other.follow(joinRoom(rooms[4], 0)); r.GetJoined() == nil {
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
	p := connect(t, n2, "friend")
	if r, _ := p.follow(right); r.GetJoined() == nil {
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
