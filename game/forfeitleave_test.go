package game_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// forfeiter is a game whose match a player's leaving ends (a forfeit).
type forfeiter struct{}

func (forfeiter) Accept(*game.Context, game.Player) error   { return nil }
func (forfeiter) Input(*game.Context, uint32, []byte) error { return nil }
func (forfeiter) Update(*game.Context, time.Duration)       {}
func (forfeiter) Encode(s *game.Snapshot)                   { s.EntityBytes(1, []byte("board")) }
func (forfeiter) Notice(ctx *game.Context, k game.NoticeKind, p game.Player) {
	if k == game.NoticeLeft && !p.Spectator {
		ctx.End(game.MatchResult{Reason: "forfeit"})
	}
}

// TestRemovedInTheTickTheMatchEndedGetsTheResult: a match that a leave
// ended (a forfeit) while more members left in the same tick: those
// removed after it never got the result, which waited for the end of the
// tick. Each gets it before it is removed.
func TestRemovedInTheTickTheMatchEndedGetsTheResult(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	hadResult := map[string]bool{} // at its removal
	e := gametest.NewEnv(t, []game.Definition{{Name: "forfeiter", TickRate: 10, MaxPlayers: 2, MaxSpectators: 1,
		New: func(game.Setup) (game.Game, error) { return forfeiter{}, nil }}}, func(c *game.Config) {
		next := c.OnRemoved
		c.OnRemoved = func(rm game.Removal) {
			if cl, ok := rm.Client.(*gametest.Client); ok {
				mu.Lock()
				hadResult[cl.Name()] = matchEnded(cl) != nil
				mu.Unlock()
			}
			next(rm)
		}
	})
	r := e.Create(t, game.RoomOptions{Game: "forfeiter"})
	ada, bob, sam := e.Seat(t, r, "ada"), e.Seat(t, r, "bob"), e.Watch(t, r, "sam")
	e.Advance(t, 200*time.Millisecond)
	for _, p := range []*gametest.Player{ada, bob, sam} {
		if err := r.Leave(p.Seat); err != nil {
			t.Fatal(err)
		}
	}
	e.Advance(t, 200*time.Millisecond)
	if res := e.Results(); len(res) != 1 || res[0].Outcome.Reason != "forfeit" {
		t.Fatalf("results %v, want the forfeit", res)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range []*gametest.Player{bob, sam} {
		if got, removed := hadResult[p.Name()]; !removed || !got {
			t.Errorf("%s: removed %v, with the match's result before it %v; want it before the removal", p.Name(), removed, got)
		}
	}
}
