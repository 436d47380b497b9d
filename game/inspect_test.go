package game_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// stateAfterTick asks r for its state and advances the manual clock until
// the room's tick answers.
func stateAfterTick(t *testing.T, e *gametest.Env, r *game.Room) (game.RoomState, error) {
	t.Helper()
	type answer struct {
		s   game.RoomState
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		s, err := r.State(context.Background())
		ch <- answer{s, err}
	}()
	for i := 0; i < 1000; i++ {
		select {
		case a := <-ch:
			return a.s, a.err
		default:
		}
		e.Advance(t, 10*time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	t.Fatal("State was not answered")
	return game.RoomState{}, nil
}

func TestRoomStateShowsTheWholeState(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	// In "private" each member sees only its own entity; an operator sees all.
	r := e.Create(t, game.RoomOptions{Game: "private"})
	ann, bob := e.Seat(t, r, "ann"), e.Seat(t, r, "bob")
	ann.Send(t, []byte("+"))
	bob.Send(t, []byte("+"))
	e.Advance(t, 50*time.Millisecond)
	bob.Send(t, []byte("+"))
	e.Advance(t, 50*time.Millisecond)

	s, err := stateAfterTick(t, e, r)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tick == 0 || s.Tick > r.Info().Tick {
		t.Fatalf("tick %d, room at %d", s.Tick, r.Info().Tick)
	}
	got := map[uint64]string{}
	for i, ent := range s.Entities {
		if i > 0 && s.Entities[i-1].ID >= ent.ID {
			t.Fatalf("entities out of order: %+v", s.Entities)
		}
		got[ent.ID] = string(ent.Data)
	}
	if want := map[uint64]string{uint64(ann.Seat): "1", uint64(bob.Seat): "2"}; len(got) != 2 || got[uint64(ann.Seat)] != want[uint64(ann.Seat)] || got[uint64(bob.Seat)] != want[uint64(bob.Seat)] {
		t.Fatalf("entities %v, want %v", got, want)
	}
	if string(s.Globals) != "3" {
		t.Fatalf("globals %q, want 3 inputs applied", s.Globals)
	}
	// The copy is the caller's: the room's next ticks do not change it.
	ann.Send(t, []byte("+"))
	e.Advance(t, 100*time.Millisecond)
	if string(s.Entities[0].Data) != "1" {
		t.Fatalf("the copy changed to %q", s.Entities[0].Data)
	}
}

func TestRoomStateBounds(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r := e.Create(t, game.RoomOptions{Game: "counter"})
	e.Seat(t, r, "ann")

	// Calls whose context has ended give up at once but hold their place
	// until the room's tick; past the cap, calls are refused.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; ; i++ {
		_, err := r.State(gone)
		if errors.Is(err, game.ErrControlFull) {
			if i == 0 {
				t.Fatal("the first call was refused")
			}
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("call %d: %v", i, err)
		}
		if i > 100 {
			t.Fatal("no cap on waiting State calls")
		}
	}
	// The tick answers (and so forgets) them all; calls are taken again.
	e.Advance(t, 50*time.Millisecond)
	if _, err := stateAfterTick(t, e, r); err != nil {
		t.Fatalf("after a tick: %v", err)
	}

	// A call waiting when the room closes, and any call after, get ErrFinished.
	waiting := make(chan error, 1)
	go func() {
		_, err := r.State(context.Background())
		waiting <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it queue; if it is late it sees the closed room, same answer
	r.Close("test")
	e.Advance(t, 100*time.Millisecond)
	select {
	case err := <-waiting:
		if !errors.Is(err, game.ErrFinished) {
			t.Fatalf("waiting call: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call waiting on a closed room never returned")
	}
	if _, err := r.State(context.Background()); !errors.Is(err, game.ErrFinished) {
		t.Fatalf("call on a closed room: %v", err)
	}
}
