package game_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// closer is a counter whose input "close" closes its seats.
type closer struct{ counter }

func (g *closer) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) == "close" {
		ctx.CloseSeats()
		return nil
	}
	return g.counter.Input(ctx, seat, data)
}

// TestCloseSeats: once a game closed its seats, a new player is refused
// at once with ErrLocked (what a quick-match passes over) and the room is
// not listed as joinable, while a spectator still joins and a dropped
// player still resumes.
func TestCloseSeats(t *testing.T) {
	defs := []game.Definition{{Name: "closer", TickRate: 20, MaxPlayers: 4, New: func(game.Setup) (game.Game, error) {
		return &closer{counter{vals: map[uint64]int{}}}, nil
	}}}
	e := gametest.NewEnv(t, defs, nil)
	r := e.Create(t, game.RoomOptions{Game: "closer"})
	ann := e.Seat(t, r, "ann")
	e.Advance(t, 100*time.Millisecond)
	ann.Send(t, []byte("close"))
	e.Advance(t, 100*time.Millisecond)

	if err := r.Join(game.JoinRequest{UserID: "bob", Client: gametest.NewClient("bob")}, nil); !errors.Is(err, game.ErrLocked) {
		t.Fatalf("a new player after CloseSeats: %v, want ErrLocked", err)
	}
	if l := e.RT.Rooms(game.RoomFilter{Joinable: true}); len(l) != 0 {
		t.Fatalf("listed as joinable: %+v", l)
	}
	if l, _ := e.RT.RoomPage(game.RoomFilter{Joinable: true}, "", nil, 0, 0); len(l) != 0 {
		t.Fatalf("paged as joinable: %+v", l)
	}
	if info := r.Info(); !info.SeatsClosed || info.Locked {
		t.Fatalf("info %+v", info)
	}
	if res := e.Join(t, r, game.JoinRequest{UserID: "sue", Spectator: true, Client: gametest.NewClient("sue")}); res.Err != nil || !res.Spectator {
		t.Fatalf("a spectator after CloseSeats: %+v", res)
	}
	if err := r.Drop(ann.Seat, ann.Client); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if res := e.Join(t, r, game.JoinRequest{UserID: "ann", Client: gametest.NewClient("ann")}); res.Err != nil || !res.Resumed || res.Seat != ann.Seat {
		t.Fatalf("ann's resume after CloseSeats: %+v", res)
	}
}

// savingCloser is a saving counter whose input "close" closes its seats.
type savingCloser struct{ saving }

func (g *savingCloser) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) == "close" {
		ctx.CloseSeats()
		return nil
	}
	return g.saving.Input(ctx, seat, data)
}

// TestClosedSeatsMoveWithTheRoom: a room whose game closed its seats and
// that moved to another node (a drain) takes no new player there either,
// as the game, which closed them once, does not close them again.
func TestClosedSeatsMoveWithTheRoom(t *testing.T) {
	defs := []game.Definition{{Name: "savingcloser", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
		g, err := newSaving(s)
		if err != nil {
			return nil, err
		}
		return &savingCloser{*g.(*saving)}, nil
	}}}
	a := gametest.NewEnv(t, defs, nil)
	b := gametest.NewEnv(t, defs, nil)
	r := a.Create(t, game.RoomOptions{Game: "savingcloser"})
	ann := a.Seat(t, r, "ann")
	a.Advance(t, 100*time.Millisecond)
	ann.Send(t, []byte("close"))
	a.Advance(t, 100*time.Millisecond)
	saved, err := handoff(t, a, r)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := b.RT.RestoreRoom(saved)
	if err != nil {
		t.Fatal(err)
	}
	if err := moved.Join(game.JoinRequest{UserID: "bob", Client: gametest.NewClient("bob")}, nil); !errors.Is(err, game.ErrLocked) {
		t.Fatalf("a new player in the moved room: %v, want ErrLocked", err)
	}
	if info := moved.Info(); !info.SeatsClosed {
		t.Fatalf("moved room %+v, want its seats closed", info)
	}
	if res := b.Join(t, moved, game.JoinRequest{UserID: "ann", Client: gametest.NewClient("ann2"), ResumeTick: saved.Tick}); res.Err != nil || !res.Resumed {
		t.Fatalf("ann's resume in the moved room: %+v", res)
	}
}
