package tickroom_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// raceButAlice is race whose rooms refuse alice a seat, at the tick.
type raceButAlice struct{ *race }

func (g raceButAlice) Accept(_ *game.Context, p game.Player) error {
	if p.Name == "alice" {
		return game.Refuse("no seat for alice")
	}
	return nil
}

// A join the game refuses at the tick, on a node of a cluster, gives back
// the seat it reserved in the room directory: kept until the reservation
// lapsed, a minute, it filled the last seat of a room of two, and everyone
// else's join was refused ROOM_FULL though a seat was free.
func TestJoinRefusedAtTheTickGivesBackItsClusterSeat(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	def := raceDefinition()
	def.Name = "butalice"
	def.New = func(game.Setup) (game.Game, error) { return raceButAlice{&race{at: map[uint32]byte{}}}, nil }
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL()})
	bob := dial(t, srv, "bob")
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "butalice"}}}
	room := bob.Request(create).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("bob could not create a room")
	}
	join := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
	alice := dial(t, srv, "alice")
	if code := alice.Request(join).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("alice's join of a room whose game refuses her: %v, want FORBIDDEN", code)
	}
	// The seat goes back to the directory just after alice's answer: carol
	// asks again while refused ROOM_FULL, for a few seconds (before the
	// fix, for the reservation's minute).
	carol := dial(t, srv, "carol")
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := carol.Request(join)
		if r.GetJoined() != nil {
			break
		}
		if r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || time.Now().After(deadline) {
			t.Fatalf("carol's join of the room's free seat after alice was refused: %v, want Joined", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
