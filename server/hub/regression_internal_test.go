package hub

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
)

// TestQuickMatchIndexIsBounded: rooms that are gone leave the quick-match
// index within matchSweepEvery creations, whatever keys clients chose, so
// the index never holds more than MaxRooms + matchSweepEvery rooms.
func TestQuickMatchIndexIsBounded(t *testing.T) {
	a, _ := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: bytes.Repeat([]byte{7}, 32)}}})
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	reg := game.NewRegistry()
	_ = reg.Register(game.Definition{Name: "nop", New: func(game.Setup) (game.Game, error) { return nopGame{}, nil }, MaxPlayers: 2})
	clock := game.NewManualClock(time.Unix(0, 0))
	h, err := New(Config{Server: srv, Auth: a, Games: reg, Runtime: game.Config{Clock: clock, Shards: 1, EmptyTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	create := func(i int) {
		if _, err := h.newRoom(game.RoomOptions{Game: "nop", Options: map[string]string{"junk": strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		create(i)
	}
	_ = h.rt.Advance(5 * time.Second) // every room is empty and disposed
	if n := h.rt.RoomCount(); n != 0 {
		t.Fatalf("%d rooms still alive", n)
	}
	for i := range 2 * matchSweepEvery {
		create(1000 + i)
		keys := h.dir.(*MemoryDirectory).poolCount()
		if live := h.rt.RoomCount(); i >= matchSweepEvery && keys > live+matchSweepEvery {
			t.Fatalf("after %d more creations: %d index keys for %d live rooms", i+1, keys, live)
		}
	}
}
