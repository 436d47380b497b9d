package hub_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// sealed is a tally that closes its seats (Context.CloseSeats) once its
// first player joined, as eights does at the deal.
type sealed struct{ tally }

func (g *sealed) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	g.tally.Notice(ctx, kind, p)
	if kind == game.NoticeJoined && !p.Spectator {
		ctx.CloseSeats()
	}
}

// TestClosedSeatsAreNotListedAsFree: a room whose game closed its seats
// takes no new player, so a ListRooms or a WatchRooms asking for free
// seats only leaves it out, as Runtime.Rooms does; the paged listing
// (Runtime.RoomPage) listed it as long as a player seat was free.
func TestClosedSeatsAreNotListedAsFree(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: func(r *game.Registry) {
		if err := r.Register(game.Definition{Name: "sealed", TickRate: 50, MaxPlayers: 4, New: func(game.Setup) (game.Game, error) {
			return &sealed{tally{vals: map[uint64]int{}}}, nil
		}}); err != nil {
			t.Fatal(err)
		}
	}})
	ann, _ := e.connect("ann")
	j := ann.Request(createSized("sealed", 4)).GetJoined()
	if j == nil {
		t.Fatal("ann's room was not made")
	}
	lobby, _ := e.connect("lobby")
	// Past its connection's burst of ListRooms (20, then 4 a second) the
	// lobby's are refused RATE_LIMITED: a refusal is no answer yet.
	freeListed := func() (rooms []*tickroomv1.RoomInfo, answered bool) {
		m := lobby.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "sealed", FreeSeatsOnly: true}}})
		if l := m.GetRoomList(); l != nil {
			return l.Rooms, true
		}
		if m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			t.Fatalf("ListRooms: %v", m)
		}
		return nil, false
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if rooms, answered := freeListed(); answered && len(rooms) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListRooms free_seats_only lists room %s, whose game closed its seats", j.RoomId)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if l := watch(t, lobby, 1, &tickroomv1.WatchRooms{Game: "sealed", FreeSeatsOnly: true}); len(l.rooms) != 0 {
		t.Fatalf("WatchRooms free_seats_only lists %v, whose game closed its seats", l.rooms)
	}
}
