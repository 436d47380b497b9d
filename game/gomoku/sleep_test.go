package gomoku_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
)

// TestRoomSleepsBetweenMoves: a gomoku room without a move clock runs no
// tick while it waits for a move, and the move that comes after a long
// wait is applied and acknowledged at the next tick of the room's phase,
// under the tick number a room that never slept would have given it, the
// number its listing counts up to meanwhile.
func TestRoomSleepsBetweenMoves(t *testing.T) {
	m := newMatch(t, map[string]string{"move_seconds": "0"})
	m.play(t, 1, 7, 7)
	_, tick0 := m.c[1].Entities()
	ticks0 := m.room.Stats().Ticks

	const wait = 30 * time.Second // 300 ticks at 10 Hz
	m.e.Advance(t, wait)
	st := m.room.Stats()
	if ran := st.Ticks - ticks0; ran > 2 {
		t.Errorf("%d ticks ran in %v without a move", ran, wait)
	}
	if st.Sleeps == 0 {
		t.Error("the room never slept")
	}
	// The lobby's listing counts the ticks slept through.
	if got, want := m.room.Info().Tick, tick0+300; got < want-1 || got > want+1 {
		t.Errorf("asleep, the listing's tick is %d, want %d ± 1", got, want)
	}

	m.seq[2]++
	if err := m.room.Input(2, m.seq[2], must((&gomokuv1.Move{X: 8, Y: 8}).MarshalVT())); err != nil {
		t.Fatal(err)
	}
	// Woken, before its tick runs, the listing does not go back.
	if got, want := m.room.Info().Tick, tick0+300; got < want-1 {
		t.Errorf("woken, the listing's tick is %d, want at least %d", got, want-1)
	}
	m.e.Advance(t, 100*time.Millisecond) // one tick at 10 Hz
	if ack, _ := m.c[2].Ack(2); ack != m.seq[2] {
		t.Fatalf("move not acknowledged one tick after it came: ack %d", ack)
	}
	ents, tick := m.c[2].Entities()
	if len(ents) != 2 {
		t.Fatalf("white sees %d stones", len(ents))
	}
	// 30.1 s at 10 Hz after the first move's tick.
	if want := tick0 + 301; tick < want-1 || tick > want+1 {
		t.Fatalf("the move's state is at tick %d, want %d ± 1", tick, want)
	}
	if g := m.globals(t); g.Moves != 2 || g.TurnSeat != 1 {
		t.Fatalf("globals %v", g)
	}

	// The inspector's State wakes it too.
	done := make(chan error, 1)
	go func() {
		_, err := m.room.State(context.Background())
		done <- err
	}()
	// Each step gives the State call a millisecond of real time, so that a
	// busy machine does not run the clock out before it is made.
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return
		case <-time.After(time.Millisecond):
		}
		if i == 1000 {
			t.Fatal("State of a sleeping room not answered")
		}
		m.e.Advance(t, 10*time.Millisecond)
	}
}

// TestSleepingRoomKeepsItsClockAndGrace: a sleeping room still ends a move
// on its clock at the deadline tick, and still lets a dropped player go
// when the grace window runs out.
func TestSleepingRoomKeepsItsClockAndGrace(t *testing.T) {
	t.Run("move clock", func(t *testing.T) {
		m := newMatch(t, map[string]string{"move_seconds": "20"})
		m.play(t, 1, 7, 7)
		deadline := m.globals(t).TurnDeadlineTick
		ticks0 := m.room.Stats().Ticks
		m.e.Advance(t, 19*time.Second)
		if m.room.Phase() != game.PhaseRunning {
			t.Fatalf("phase %v before the deadline", m.room.Phase())
		}
		if ran := m.room.Stats().Ticks - ticks0; ran > 2 {
			t.Errorf("%d ticks ran before the deadline", ran)
		}
		m.e.Advance(t, 1500*time.Millisecond)
		res, data := m.result(t)
		if !slices.Equal(res.WinnerSeats, []uint32{1}) || data.Outcome != gomokuv1.Outcome_OUTCOME_TIMEOUT {
			t.Fatalf("result %v %v", res, data)
		}
		if results := m.e.Results(); len(results) != 1 || results[0].Ticks != deadline {
			t.Fatalf("ended at tick %v, deadline %d", results, deadline)
		}
	})
	t.Run("drop grace", func(t *testing.T) {
		e, r, _ := whiteDropped(t, 10*time.Second, 0)
		e.Advance(t, 100*time.Millisecond)
		ticks0 := r.Stats().Ticks
		e.Advance(t, 9*time.Second)
		if len(e.Removals()) != 0 {
			t.Fatalf("removed before the grace ran out: %v", e.Removals())
		}
		if ran := r.Stats().Ticks - ticks0; ran > 2 {
			t.Errorf("%d ticks ran in 9 s: the room did not sleep through the grace", ran)
		}
		e.Advance(t, 1500*time.Millisecond)
		rem := e.Removals()
		if len(rem) == 0 || rem[0].UserID != "white" {
			t.Fatalf("removals after the grace: %v", rem)
		}
	})
	// A room woken part way through the grace sleeps again towards its
	// end, which at a coarse resolution can fall in the very slot being
	// run, a later turn of the wheel: whatever the moment, it wakes there.
	t.Run("grace after a wake, coarse wheel", func(t *testing.T) {
		for k := 180; k < 220; k++ {
			e, _, black := whiteDropped(t, 30*time.Second, 10*time.Millisecond)
			e.Advance(t, time.Duration(k)*100*time.Millisecond)
			// Not black's turn: refused, but acknowledged in a new state.
			black.SendMessage(t, &gomokuv1.Move{X: 8, Y: 8})
			e.Advance(t, 31*time.Second-time.Duration(k)*100*time.Millisecond)
			if rem := e.Removals(); len(rem) == 0 || rem[0].UserID != "white" {
				t.Fatalf("woken %d ticks after the drop: removals %v after the grace", k, rem)
			}
		}
	})
}

// whiteDropped starts a gomoku room without a move clock on an env with
// the drop grace and wheel resolution given (0: the default), seats black
// and white, plays black's first move and drops white: the room then
// sleeps until white's grace runs out.
func whiteDropped(t *testing.T, grace, res time.Duration) (*gametest.Env, *game.Room, *gametest.Player) {
	t.Helper()
	e := gametest.NewEnv(t, []game.Definition{gomoku.Definition()}, func(c *game.Config) {
		c.DropGrace = grace
		if res != 0 {
			c.Resolution = res
		}
	})
	r := e.Create(t, game.RoomOptions{Game: "gomoku", Options: map[string]string{"move_seconds": "0"}})
	black, white := e.Seat(t, r, "black"), e.Seat(t, r, "white")
	e.Advance(t, 200*time.Millisecond)
	black.SendMessage(t, &gomokuv1.Move{X: 7, Y: 7})
	e.Advance(t, 200*time.Millisecond)
	if err := r.Drop(white.Seat, white.Client); err != nil {
		t.Fatal(err)
	}
	return e, r, black
}
