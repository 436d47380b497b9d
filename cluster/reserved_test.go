package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
)

// TestReservedTellsOfSeatsOnTheirWay: a room's node learns from Reserved
// that a seat in it is held for a player another node sent there, until
// the reservation lapses (here 1 s) or is given back; the user named
// aside does not count.
func TestReservedTellsOfSeatsOnTheirWay(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	cfg := DirectoryConfig{ReservationTTL: time.Second}
	a := startDirNodeWith(t, rs, "a", cfg)
	b := startDirNodeWith(t, rs, "b", cfg)
	ctx := context.Background()
	room := a.create(t, game.RoomOptions{Game: "gomoku"}, "")
	reserved := func(except string) time.Duration {
		t.Helper()
		d, err := a.dir.Reserved(ctx, room.ID(), except)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := reserved(""); d != 0 {
		t.Fatalf("a room nobody reserved a seat in: reserved for %v, want 0", d)
	}
	if _, err := b.dir.Reserve(ctx, room.ID(), "bob", ""); err != nil {
		t.Fatal(err)
	}
	if d := reserved(""); d <= 0 || d > time.Second {
		t.Fatalf("bob's seat reserved through b: reserved for %v, want up to its 1 s", d)
	}
	if d := reserved("bob"); d != 0 {
		t.Fatalf("bob's seat, bob aside: reserved for %v, want 0", d)
	}
	b.dir.Release(ctx, room.ID(), "bob")
	if d := reserved(""); d != 0 {
		t.Fatalf("bob's seat given back: reserved for %v, want 0", d)
	}
	if _, err := b.dir.Reserve(ctx, room.ID(), "carol", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "carol's reservation to lapse", func() bool { return reserved("") == 0 })
}
