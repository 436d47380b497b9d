package gomoku_test

import (
	"bytes"
	"testing"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
)

// FuzzRestore: a saved match, as another node wrote it into Redis, is
// restored or refused, never a crash; one restored saves again to a match
// that restores and saves to the same bytes, holding the stones it was
// given in the order played.
func FuzzRestore(f *testing.F) {
	saved := func(turn uint32, stones ...*gomokuv1.Stone) []byte {
		return must((&gomokuv1.Saved{Globals: &gomokuv1.Globals{TurnSeat: turn, Moves: uint32(len(stones)), TurnDeadlineTick: 40}, Stones: stones}).MarshalVT())
	}
	f.Add(saved(1))
	f.Add(saved(2, &gomokuv1.Stone{X: 7, Y: 7, Seat: 1, Move: 1}))
	f.Add(saved(1, &gomokuv1.Stone{X: 7, Y: 7, Seat: 1, Move: 1}, &gomokuv1.Stone{X: 8, Y: 7, Seat: 2, Move: 2}))
	f.Add(saved(2, &gomokuv1.Stone{X: 15, Y: 0, Seat: 1, Move: 1}))
	f.Add(saved(2, &gomokuv1.Stone{X: 1, Y: 1, Seat: 1, Move: 1}, &gomokuv1.Stone{X: 1, Y: 1, Seat: 2, Move: 2}))
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		restore := func(b []byte) (game.Saver, error) {
			g, err := gomoku.New(game.Setup{MaxPlayers: 2, TickRate: 10})
			if err != nil {
				t.Fatal(err)
			}
			s := g.(game.Saver)
			return s, s.Restore(nil, b)
		}
		g, err := restore(data)
		if err != nil {
			return
		}
		again, err := g.Save(nil)
		if err != nil {
			t.Fatalf("a restored match does not save: %v", err)
		}
		var in, out gomokuv1.Saved
		if err := in.UnmarshalVT(data); err != nil {
			t.Fatal(err)
		}
		if err := out.UnmarshalVT(again); err != nil {
			t.Fatal(err)
		}
		if len(out.Stones) != len(in.Stones) {
			t.Fatalf("restored %d stones, saved %d", len(in.Stones), len(out.Stones))
		}
		for i, st := range in.Stones {
			if o := out.Stones[i]; o.X != st.X || o.Y != st.Y || o.Seat != st.Seat || o.Move != st.Move {
				t.Fatalf("stone %d restored as %v, saved as %v", i+1, st, o)
			}
		}
		g2, err := restore(again)
		if err != nil {
			t.Fatalf("a saved match is refused: %v", err)
		}
		if third, err := g2.Save(nil); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("save, restore, save differs: %x, then %x (%v)", again, third, err)
		}
	})
}
