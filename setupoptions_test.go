package tickroom_test

import (
	"strconv"
	"testing"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestGameThatRewritesItsOptionsStillMatches: a game's New may write to
// the Setup.Options it is given (here it spells the goal its own way, "03"
// as "3"); that is its copy, and the room stays in the quick-match pool of
// the options the players asked for, so two players asking for the same
// options meet in one room.
func TestGameThatRewritesItsOptionsStillMatches(t *testing.T) {
	t.Parallel()
	def := raceDefinition()
	def.Name = "tidy"
	def.New = func(s game.Setup) (game.Game, error) {
		if v, ok := s.Options["goal"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			s.Options["goal"] = strconv.Itoa(n)
		}
		return raceDefinition().New(s)
	}
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}})
	var rooms []string
	for _, name := range []string{"ann", "bob"} {
		c := dial(t, srv, name)
		qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "tidy", Options: map[string]string{"goal": "03"}}}}
		j := c.Request(qm).GetJoined()
		if j == nil {
			t.Fatalf("%s's quick-match was not joined", name)
		}
		rooms = append(rooms, j.GetRoomId())
	}
	if rooms[0] != rooms[1] {
		t.Fatalf("ann and bob quick-matched with the same options into rooms %s and %s, want one", rooms[0], rooms[1])
	}
}
