package tickroom_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// gatedRefusal is race whose rooms refuse alice a seat at the tick, once
// gate closes: the test settles what happens on another node meanwhile.
type gatedRefusal struct {
	*race
	entered chan<- string
	gate    <-chan struct{}
}

func (g gatedRefusal) Accept(ctx *game.Context, p game.Player) error {
	if p.Name != "alice" {
		return nil
	}
	g.entered <- ctx.RoomID()
	<-g.gate
	return game.Refuse("no seat for alice")
}

// A room whose creator's join the game refuses at the tick closes at once
// when nobody sits in it; but on a cluster a player may hold a seat in it
// that the directory reserved through another node, and be on the way to
// the room's node with the token. The room waits for that player: it
// joins, rather than being told the room it was given a seat in is not
// found. Before, bob got "error:{code:ERROR_CODE_ROOM_NOT_FOUND}".
func TestRoomWaitsForAPlayerRedirectedWithAReservation(t *testing.T) {
	t.Parallel()
	entered, gate := make(chan string, 1), make(chan struct{})
	def := raceDefinition()
	def.Name = "gated"
	def.New = func(game.Setup) (game.Game, error) {
		return gatedRefusal{race: &race{at: map[uint32]byte{}}, entered: entered, gate: gate}, nil
	}
	a, b, _ := twoNodes(t, def)

	alice := dial(t, a, "alice")
	createMsg := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gated"}}}
	create := alice.Send(createMsg)
	var room string
	select {
	case room = <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's join never reached her room's tick")
	}
	// While the room's tick asks its game about alice, bob asks node b for
	// a seat in it: the directory reserves one and sends him to node a.
	bob := dial(t, b, "bob")
	join := joinRoom(room)
	r := bob.Request(join).GetRedirect()
	if r == nil || r.Reservation == "" {
		t.Fatalf("bob's join on node b of a room of node a: %v, want a Redirect with a reservation", r)
	}
	close(gate)
	if code := alice.Reply(create).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("alice's creation of a room whose game refuses her: %v, want FORBIDDEN", code)
	}
	// A room closed as empty would be gone well within this.
	time.Sleep(time.Second)
	_, _, m := bob.Move(r, join)
	if m.GetJoined() == nil {
		t.Fatalf("bob, redirected with a seat reserved in room %s, arrived after alice was refused: %v, want Joined", room, m)
	}
	// A room nobody holds a seat in still closes at once (well before
	// the 5 s of a room its creator left).
	again := alice.Send(createMsg)
	var lone string
	select {
	case lone = <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's second join never reached her room's tick")
	}
	if code := alice.Reply(again).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("alice's second creation: %v, want FORBIDDEN", code)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok := a.Runtime().Room(lone); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s, which refused its creator and in which no seat is reserved, still open 2 s later", lone)
		}
	}
}

// The same for a room its creator left: it closes CreatorGoneTimeout (5
// s) later if nobody sits in it then, but not while a player holds a seat
// in it that another node's directory reserved. Before, bob got
// "error:{code:ERROR_CODE_ROOM_NOT_FOUND}".
func TestRoomItsCreatorLeftWaitsForAPlayerRedirectedWithAReservation(t *testing.T) {
	t.Parallel()
	a, b, _ := twoNodes(t, raceDefinition())

	alice := dial(t, a, "alice")
	room := alice.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("alice could not create a room")
	}
	bob := dial(t, b, "bob")
	join := joinRoom(room)
	r := bob.Request(join).GetRedirect()
	if r == nil || r.Reservation == "" {
		t.Fatalf("bob's join on node b of a room of node a: %v, want a Redirect with a reservation", r)
	}
	if m := alice.Request(leaveRoom(room)); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v", m)
	}
	// Past the creator's timeout and a check of the rooms due (one a
	// second), within the reservation's minute.
	time.Sleep(7 * time.Second)
	_, _, m := bob.Move(r, join)
	if m.GetJoined() == nil {
		t.Fatalf("bob, redirected with a seat reserved in room %s, arrived after its creator's timeout: %v, want Joined", room, m)
	}
}
