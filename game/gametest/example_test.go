package gametest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// tally counts each player's inputs; the third ends the match.
type tally struct{ n map[uint32]byte }

func (g *tally) Accept(*game.Context, game.Player) error            { return nil }
func (g *tally) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *tally) Update(*game.Context, time.Duration)                {}
func (g *tally) Input(ctx *game.Context, seat uint32, _ []byte) error {
	if g.n[seat]++; g.n[seat] == 3 {
		ctx.End(game.MatchResult{WinnerSeats: []uint32{seat}, Reason: "three"})
	}
	return nil
}
func (g *tally) Encode(s *game.Snapshot) {
	for seat, n := range g.n {
		s.EntityBytes(uint64(seat), []byte{n})
	}
}

// Example is a game's unit test: a room on a manual clock, a player's
// inputs, the state the player was sent, and the match result.
func Example() {
	t := &testing.T{} // in a real test, the *testing.T of the test
	def := game.Definition{Name: "tally", TickRate: 10, New: func(game.Setup) (game.Game, error) {
		return &tally{n: map[uint32]byte{}}, nil
	}}
	env := gametest.NewEnv(t, []game.Definition{def}, nil)
	room := env.Create(t, game.RoomOptions{Game: "tally"})
	ada := env.Seat(t, room, "ada")
	for range 3 {
		ada.Send(t, []byte("+"))
	}
	env.Advance(t, 200*time.Millisecond) // ticks run here, on this goroutine

	ents, tick := ada.Entities()
	fmt.Printf("ada's entity %d: %d at tick %d\n", ada.Seat, ents[uint64(ada.Seat)][0], tick)
	for _, r := range env.Results() {
		fmt.Println("result:", r.Outcome.Reason, "won by", r.Winners()[0].Name)
	}
	// Output:
	// ada's entity 1: 3 at tick 2
	// result: three won by ada
}
