package game_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// wakeEnder is a sleeping game that ends its match from Wake once a
// player sent "end": a clock that ran out, found when the room asks
// whether it may sleep.
type wakeEnder struct {
	ctx *game.Context
	end bool
}

func (g *wakeEnder) Accept(ctx *game.Context, _ game.Player) error      { g.ctx = ctx; return nil }
func (g *wakeEnder) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *wakeEnder) Update(*game.Context, time.Duration)                {}
func (g *wakeEnder) Encode(s *game.Snapshot)                            { s.EntityBytes(1, []byte("board")) }

func (g *wakeEnder) Input(_ *game.Context, _ uint32, data []byte) error {
	g.end = string(data) == "end"
	return nil
}

func (g *wakeEnder) Wake() uint64 {
	if g.end {
		g.end = false
		g.ctx.End(game.MatchResult{Reason: "timeout"})
	}
	return game.NeverWake
}

// TestResultEndedInWakeCarriesItsTick: a match its game ended from Wake
// (after a tick) had its MATCH_ENDED go out with the next tick's state,
// stamped with that tick, while the match history recorded the tick it
// ended in. The event carries the recorded tick.
func TestResultEndedInWakeCarriesItsTick(t *testing.T) {
	t.Parallel()
	e := gametest.NewEnv(t, []game.Definition{{Name: "wakeender", TickRate: 10, MaxPlayers: 2,
		New: func(game.Setup) (game.Game, error) { return &wakeEnder{}, nil }}}, nil)
	r := e.Create(t, game.RoomOptions{Game: "wakeender"})
	ada := e.Seat(t, r, "ada")
	e.Advance(t, 200*time.Millisecond)
	ada.Send(t, []byte("end"))
	e.Advance(t, 500*time.Millisecond)
	results := e.Results()
	if len(results) != 1 {
		t.Fatalf("%d results recorded, want 1", len(results))
	}
	res := matchEnded(ada.Client)
	if res == nil {
		t.Fatal("ada: no MATCH_ENDED")
	}
	for _, ev := range ada.Events() {
		if ev.Result != nil && ev.Tick != results[0].Ticks {
			t.Errorf("ada: MATCH_ENDED stamped tick %d, the match history's result tick %d", ev.Tick, results[0].Ticks)
		}
	}
}
