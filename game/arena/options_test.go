package arena_test

import (
	"strconv"
	"testing"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
)

// FuzzOptions: a room's options are taken exactly when each is a whole
// number in its documented range (and the walls fit the map), whatever
// the other keys; any options, taken or not, price the room between the
// smallest room's cost and the largest's, and options New refuses cost
// what the defaults do.
func FuzzOptions(f *testing.F) {
	f.Add("width", "2000", "walls", "200", 32, 20)
	f.Add("width", "10", "height", "10", 2, 120)
	f.Add("walls", "19", "seed", "-1", 8, 1)
	f.Add("pickups", "1001", "view_radius", "0", 0, 0)
	f.Add("duration_seconds", "86400", "seed", "1073741824", 32, 60)
	f.Add("height", "+30", "width", "0x10", 4, 20)
	f.Add("colour", "red", "walls", "", 4, 20)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, players, tickRate int) {
		if players < 1 || players > 32 || tickRate < 1 || tickRate > 120 {
			return // CheckOptions refuses these before New or Cost sees them
		}
		opts := map[string]string{k1: v1, k2: v2}
		ranges := map[string][2]int{"width": {10, 2000}, "height": {10, 2000}, "walls": {0, 200}, "pickups": {0, 1000},
			"view_radius": {0, 2000}, "duration_seconds": {0, 86400}, "seed": {0, 1 << 30}}
		good := true
		num := map[string]int{"width": 40, "height": 30, "walls": 6}
		for k, v := range opts {
			r, ok := ranges[k]
			if !ok {
				continue
			}
			n, err := strconv.Atoi(v)
			good = good && err == nil && n >= r[0] && n <= r[1]
			num[k] = n
		}
		good = good && num["walls"] <= num["width"]*num["height"]/64
		s := game.Setup{Options: opts, MaxPlayers: players, TickRate: tickRate}
		g, err := arena.New(s)
		if (err == nil) != good {
			t.Fatalf("options %v: err %v", opts, err)
		}
		if g == nil && err == nil {
			t.Fatal("no game and no error")
		}
		cost := arena.Cost(s)
		if lo, hi := arena.Cost(game.Setup{MaxPlayers: 1, TickRate: 1}), 305; cost < lo || cost > hi {
			t.Fatalf("options %v, %d players at %d Hz: cost %d, not %d..%d", opts, players, tickRate, cost, lo, hi)
		}
		if !good {
			if def := arena.Cost(game.Setup{MaxPlayers: players, TickRate: tickRate}); cost != def {
				t.Fatalf("refused options %v cost %d, the defaults %d", opts, cost, def)
			}
		}
	})
}
