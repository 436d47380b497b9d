package game_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
)

// TestNewRuntimeRefusesNegativeLimits: a negative limit is an error naming
// the field, never a silent default.
func TestNewRuntimeRefusesNegativeLimits(t *testing.T) {
	for field, cfg := range map[string]game.Config{
		"InboxSize":    {InboxSize: -1},
		"MaxInputSize": {MaxInputSize: -1},
		"DropGrace":    {DropGrace: -3 * time.Second},
		"EmptyTimeout": {EmptyTimeout: -time.Second},
		"ResumeTicks":  {ResumeTicks: -1},
		"MaxCatchUp":   {MaxCatchUp: -1},
	} {
		t.Run(field, func(t *testing.T) {
			_, err := game.NewRuntime(cfg)
			if !errors.Is(err, game.ErrInvalidOptions) || !strings.HasPrefix(err.Error(), "game: ") || !strings.Contains(err.Error(), field+" is negative") {
				t.Fatalf("NewRuntime with negative %s: %v, want game.ErrInvalidOptions naming it", field, err)
			}
		})
	}
}
