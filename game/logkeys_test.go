package game_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/internal/syncbuf"
)

// topLevelKeys returns how often each key appears at the top of the JSON
// object line (a map decode keeps only the last of a repeated key).
func topLevelKeys(t *testing.T, line string) map[string]int {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line is not a JSON object: %s", line)
	}
	keys := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		keys[tok.(string)]++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
	}
	return keys
}

// A room's log lines (-log-format json) named the room twice, as
// {"room":"r1","game":"g","room":"r1",...}: the room's logger carries its
// room and game, and each line added them again, so a JSON line had a
// repeated key, which many log pipelines refuse or keep one of. Each key
// now appears once in every line a room logs: a room closed, a game that
// panicked, a game whose Encode fails.
func TestRoomLogLinesNameEachKeyOnce(t *testing.T) {
	out := new(syncbuf.Buffer)
	defs := []game.Definition{
		{Name: "fragile", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
			return &fragile{counter: counter{vals: map[uint64]int{}}}, nil
		}},
		{Name: "unencodable", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
			return &unencodable{counter{vals: map[uint64]int{}}}, nil
		}},
	}
	e := gametest.NewEnv(t, defs, func(c *game.Config) {
		c.Shards = 1
		c.Logger = slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	panicking, closing := e.Create(t, game.RoomOptions{Game: "fragile"}), e.Create(t, game.RoomOptions{Game: "fragile"})
	broken := e.Create(t, game.RoomOptions{Game: "unencodable"})
	a := e.Seat(t, panicking, "a")
	e.Seat(t, closing, "b")
	e.Seat(t, broken, "c")
	e.Advance(t, 100*time.Millisecond)
	a.Send(t, []byte("boom"))
	closing.Close("closed by an operator")
	e.Advance(t, 200*time.Millisecond)

	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		keys := topLevelKeys(t, line)
		if keys["room"] == 0 {
			continue
		}
		var rec struct{ Msg string }
		_ = json.Unmarshal([]byte(line), &rec)
		seen[rec.Msg] = true
		for k, n := range keys {
			if n > 1 {
				t.Errorf("%q names %s %d times: %s", rec.Msg, k, n, line)
			}
		}
	}
	for _, want := range []string{"room closed", "game panicked: room closed", "encode state (logged at most once every 10 s)"} {
		if !seen[want] {
			t.Errorf("no %q line among the rooms' lines %v", want, seen)
		}
	}
}
