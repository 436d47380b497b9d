package game_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestResultReported checks what reaches Config.OnResult: the game's own
// end with the players who were seated, a running match closed by the
// operator as "closed", and nothing for a room that never started.
func TestResultReported(t *testing.T) {
	t.Parallel()
	t.Run("game ends the match", func(t *testing.T) {
		e := gametest.NewEnv(t, testDefinitions(), nil)
		r := e.Create(t, game.RoomOptions{Game: "duel"})
		ada, bob := e.Seat(t, r, "ada"), e.Seat(t, r, "bob")
		e.Watch(t, r, "watcher")
		e.Advance(t, 200*time.Millisecond)
		bob.Send(t, []byte("end"))
		e.Advance(t, 200*time.Millisecond)
		res := e.Results()
		if len(res) != 1 {
			t.Fatalf("%d results, want 1", len(res))
		}
		got := res[0]
		if got.Game != "duel" || got.RoomID != r.ID() || got.Outcome.Reason != "test" || len(got.Players) != 2 {
			t.Fatalf("result %+v", got)
		}
		if w := got.Winners(); len(w) != 1 || w[0].UserID != "bob" || w[0].Seat != bob.Seat || got.Players[0].Seat != ada.Seat {
			t.Fatalf("winners %+v, players %+v", w, got.Players)
		}
		if got.Started.IsZero() || !got.Ended.After(got.Started) || got.Ticks == 0 {
			t.Fatalf("times %v → %v, tick %d", got.Started, got.Ended, got.Ticks)
		}
		bob.Send(t, []byte("end"))
		e.Advance(t, 200*time.Millisecond)
		if n := len(e.Results()); n != 1 {
			t.Fatalf("a second End reported again: %d results", n)
		}
	})
	t.Run("a score past the bound", func(t *testing.T) {
		// The seat's score is left out, the rest of the result stands:
		// a store refuses a result with such a score whole.
		e := gametest.NewEnv(t, testDefinitions(), nil)
		r := e.Create(t, game.RoomOptions{Game: "counter"})
		ada, bob := e.Seat(t, r, "ada"), e.Seat(t, r, "bob")
		e.Advance(t, 200*time.Millisecond)
		bob.Send(t, []byte("end-huge"))
		e.Advance(t, 200*time.Millisecond)
		res := e.Results()
		if len(res) != 1 {
			t.Fatalf("%d results, want 1", len(res))
		}
		want := []game.SeatScore{{Seat: ada.Seat, Score: 7}}
		if got := res[0].Outcome; !slices.Equal(got.Scores, want) || len(got.WinnerSeats) != 1 || got.WinnerSeats[0] != bob.Seat {
			t.Fatalf("reported scores %v winners %v, want scores %v and bob the winner", got.Scores, got.WinnerSeats, want)
		}
		var told []*tickroomv1.SeatScore
		for _, ev := range ada.Events() {
			if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
				told = ev.GetResult().GetScores()
			}
		}
		if len(told) != 1 || told[0].Seat != ada.Seat || told[0].Score != 7 {
			t.Fatalf("ada was told scores %v, want only her 7", told)
		}
	})
	t.Run("closed while running", func(t *testing.T) {
		e := gametest.NewEnv(t, testDefinitions(), nil)
		r := e.Create(t, game.RoomOptions{Game: "counter"})
		e.Seat(t, r, "ada")
		e.Advance(t, 200*time.Millisecond)
		r.Close("operator")
		e.Advance(t, 200*time.Millisecond)
		res := e.Results()
		if len(res) != 1 || res[0].Outcome.Reason != "closed" || len(res[0].Winners()) != 0 {
			t.Fatalf("results %+v", res)
		}
	})
	t.Run("closed while waiting", func(t *testing.T) {
		e := gametest.NewEnv(t, testDefinitions(), nil)
		r := e.Create(t, game.RoomOptions{Game: "duel"})
		e.Seat(t, r, "ada")
		e.Advance(t, 200*time.Millisecond)
		r.Close("operator")
		e.Advance(t, 200*time.Millisecond)
		if res := e.Results(); len(res) != 0 {
			t.Fatalf("a match that never ran reported %+v", res)
		}
	})
}
