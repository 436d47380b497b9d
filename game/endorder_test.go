package game_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestClosedInTheTickItsGameEndedTheMatch: a room closed in the tick whose
// inputs made its game end the match sent its members the result and
// closed without the state of those inputs, so they never saw the move
// that won. They get that state, then the game's result.
func TestClosedInTheTickItsGameEndedTheMatch(t *testing.T) {
	t.Parallel()
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r := e.Create(t, game.RoomOptions{Game: "duel"})
	ada, bob := e.Seat(t, r, "ada"), e.Seat(t, r, "bob")
	e.Advance(t, 200*time.Millisecond)
	bob.Send(t, []byte("+"))
	bob.Send(t, []byte("end"))
	r.Close("operator")
	e.Advance(t, 200*time.Millisecond)
	for _, p := range []*gametest.Player{ada, bob} {
		ents, _ := p.Entities()
		if got := ents[uint64(bob.Seat)]; got != "1" {
			t.Errorf("%s: the room closed showing bob's count %q, want the %q of his winning tick", p.Name(), got, "1")
		}
		var res *tickroomv1.MatchResult
		for _, ev := range p.Events() {
			if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
				res = ev.Result
			}
		}
		if res == nil || res.Reason != "test" || !slices.Equal(res.WinnerSeats, []uint32{bob.Seat}) {
			t.Errorf("%s: result %v, want the game's (bob won, \"test\")", p.Name(), res)
		}
	}
}
