package game_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/statesync"
)

// TestVersionedGameSkipsEncode: a room whose game counts its changes is not
// encoded on ticks where neither the game's version nor an acknowledged
// input moved, and its players still get every change and every ack.
func TestVersionedGameSkipsEncode(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "versioned"})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := versionedGames.Load(r.ID())
	g := v.(*versioned)
	a := gametest.NewClient("a")
	ra := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a})
	if st := a.TakeStates(); len(st) != 1 || !st[0].Keyframe {
		t.Fatalf("join: %v", st)
	}
	period := 50 * time.Millisecond
	e.Advance(t, period)
	encodes := g.encodes

	// Idle ticks: nothing encoded, nothing sent.
	for range 10 {
		e.Advance(t, period)
	}
	if g.encodes != encodes {
		t.Fatalf("%d encodes in 10 idle ticks", g.encodes-encodes)
	}
	if st := a.TakeStates(); len(st) != 0 {
		t.Fatalf("idle ticks sent %v", st)
	}

	// A change is encoded and sent with its ack.
	if err := r.Input(ra.Seat, 1, []byte("+")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, period)
	if ents, _ := a.Entities(); ents[uint64(ra.Seat)] != "1" {
		t.Fatalf("after +: %v", ents)
	}
	if ack, _ := a.Ack(ra.Seat); ack != 1 {
		t.Fatalf("ack %d after input 1", ack)
	}

	// A refused input leaves the version alone but moves the ack: the
	// sender still learns the room has it.
	if err := r.Input(ra.Seat, 2, []byte("!")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, period)
	st := a.TakeStates()
	if len(st) == 0 || !slices.Equal(st[len(st)-1].Acks, []statesync.Ack{{Seat: ra.Seat, Seq: 2}}) {
		t.Fatalf("after a refused input: %v", st)
	}
	encodes = g.encodes
	for range 5 {
		e.Advance(t, period)
	}
	if g.encodes != encodes {
		t.Fatalf("%d encodes in 5 idle ticks after the ack", g.encodes-encodes)
	}

	// A late joiner gets the whole state in a keyframe.
	b := gametest.NewClient("b")
	e.Join(t, r, game.JoinRequest{UserID: "b", Client: b})
	if ents, _ := b.Entities(); ents[uint64(ra.Seat)] != "1" || len(ents) != 2 {
		t.Fatalf("late joiner sees %v", ents)
	}
	for _, c := range []*gametest.Client{a, b} {
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
	}
}
