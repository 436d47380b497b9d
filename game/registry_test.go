package game_test

import (
	"errors"
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
