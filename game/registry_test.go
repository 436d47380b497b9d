package game_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestRegisterRefusesNamesNoClientCanAskFor: a client names a game in
// CreateRoom and QuickMatch in at most 64 bytes of UTF-8, so a game
// registered under a longer name, or one that is not UTF-8, could never
// be played; Register refuses it, and takes the longest a client can ask
// for.
func TestRegisterRefusesNamesNoClientCanAskFor(t *testing.T) {
	newGame := func(game.Setup) (game.Game, error) { return nil, nil }
	asked := func(name string) error {
		return protocol.ValidateClientMessage(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: name}}})
	}
	longest := strings.Repeat("g", game.MaxNameLen)
	if err := asked(longest); err != nil {
		t.Fatalf("a quick-match of a %d-byte name: %v", len(longest), err)
	}
	if err := game.NewRegistry().Register(game.Definition{Name: longest, New: newGame}); err != nil {
		t.Fatalf("a %d-byte name: %v", len(longest), err)
	}
	for _, name := range []string{longest + "g", "pong\xff"} {
		if asked(name) == nil {
			t.Fatalf("a client may ask for %q", name)
		}
		err := game.NewRegistry().Register(game.Definition{Name: name, New: newGame})
		if !errors.Is(err, game.ErrInvalidDefinition) || !strings.Contains(err.Error(), "name") {
			t.Errorf("Register(%.70q): %v, want ErrInvalidDefinition naming the name", name, err)
		}
	}
}

// TestRegisterNamesTheBadSeatCount: a definition whose seat counts are out
// of range is refused with an error that says which count and why, not
// only that some seats are wrong.
func TestRegisterNamesTheBadSeatCount(t *testing.T) {
	newGame := func(game.Setup) (game.Game, error) { return nil, nil }
	for _, tc := range []struct {
		d    game.Definition
		want string
	}{
		{game.Definition{MaxPlayers: -1}, "MaxPlayers -1"},
		{game.Definition{MaxPlayers: 1025}, "MaxPlayers 1025"},
		{game.Definition{MinPlayers: -2}, "MinPlayers -2"},
		{game.Definition{MaxPlayers: 4, MinPlayers: 5}, "MinPlayers 5"},
		{game.Definition{MinPlayers: 9}, "MinPlayers 9"}, // MaxPlayers' default is 8
		{game.Definition{MaxPlayers: 8, MaxSpectators: 1017}, "MaxSpectators 1017"},
		{game.Definition{MaxPlayers: 8, MaxSpectators: math.MaxInt}, fmt.Sprint("MaxSpectators ", math.MaxInt)}, // its sum with MaxPlayers wraps
	} {
		tc.d.Name, tc.d.New = "g", newGame
		err := game.NewRegistry().Register(tc.d)
		if !errors.Is(err, game.ErrInvalidDefinition) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register(MaxPlayers %d, MinPlayers %d, MaxSpectators %d): %v, want ErrInvalidDefinition saying %q",
				tc.d.MaxPlayers, tc.d.MinPlayers, tc.d.MaxSpectators, err, tc.want)
		}
	}
}
