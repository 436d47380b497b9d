package game

import (
	"testing"
	"time"
)

type idleGame struct{ updates int }

func (g *idleGame) Accept(*Context, Player) error         { return nil }
func (g *idleGame) Notice(*Context, NoticeKind, Player)   {}
func (g *idleGame) Input(*Context, uint32, []byte) error  { return nil }
func (g *idleGame) Update(ctx *Context, dt time.Duration) { g.updates++ }
func (g *idleGame) Encode(*Snapshot)                      {}

func newIdleRuntime(tb testing.TB, shards int) (*Runtime, *ManualClock) {
	tb.Helper()
	reg := NewRegistry()
	if err := reg.Register(Definition{Name: "idle", TickRate: 30, New: func(Setup) (Game, error) { return &idleGame{}, nil }}); err != nil {
		tb.Fatal(err)
	}
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	rt, err := NewRuntime(Config{Registry: reg, Clock: clock, Shards: shards})
	if err != nil {
		tb.Fatal(err)
	}
	return rt, clock
}

// TestLateShardCatchesUpThenOverruns: a shard that wakes ten periods late
// runs 1+MaxCatchUp steps, records one overrun and keeps the room's phase.
func TestLateShardCatchesUpThenOverruns(t *testing.T) {
	tests := []struct {
		name      string
		late      int // periods late
		wantTicks uint64
		overruns  uint64
	}{
		{name: "on time", late: 0, wantTicks: 1, overruns: 0},
		{name: "two behind", late: 2, wantTicks: 3, overruns: 0},
		{name: "ten behind", late: 10, wantTicks: 3, overruns: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, clock := newIdleRuntime(t, 1)
			r, err := rt.CreateRoom(RoomOptions{Game: "idle"})
			if err != nil {
				t.Fatal(err)
			}
			sh := rt.shards[0]
			sh.runDue(clock.Now()) // place the room
			first := r.w.due
			now := clock.add(first.Sub(clock.Now()) + time.Duration(tc.late)*r.period + sh.res)
			sh.runDue(now)
			if got := r.tick.Load(); got != tc.wantTicks {
				t.Fatalf("ticks %d, want %d", got, tc.wantTicks)
			}
			st := r.Stats()
			if st.Overruns != tc.overruns || st.Lateness.Count != 1 {
				t.Fatalf("stats %+v", st)
			}
			if phase := r.w.due.Sub(first) % r.period; phase != 0 {
				t.Fatalf("next due off phase by %v", phase)
			}
			if !r.w.due.After(now) {
				t.Fatalf("next due %v not after now %v", r.w.due, now)
			}
		})
	}
}

// TestPhasesSpread: rooms on one shard start in distinct slots.
func TestPhasesSpread(t *testing.T) {
	rt, clock := newIdleRuntime(t, 1)
	for range 60 {
		if _, err := rt.CreateRoom(RoomOptions{Game: "idle"}); err != nil {
			t.Fatal(err)
		}
	}
	sh := rt.shards[0]
	sh.runDue(clock.Now())
	busiest := 0
	for _, l := range sh.wheel {
		busiest = max(busiest, len(l))
	}
	// 60 rooms over a 33 ms period of 0.5 ms slots: bunching would put
	// many in one slot.
	if busiest > 2 {
		t.Fatalf("%d rooms share one slot", busiest)
	}
}

// TestSlotLeavesNoTickStamp: a slot whose last room is due a later turn of
// the wheel (a room asleep past the wheel's span) leaves no tick stamp
// behind, so frames sent outside a tick (a shutdown's) say nothing of
// when they were made.
func TestSlotLeavesNoTickStamp(t *testing.T) {
	rt, clock := newIdleRuntime(t, 1)
	sh := rt.shards[0]
	sh.wall = true // stamp as a runtime on the system clock would
	r, err := rt.CreateRoom(RoomOptions{Game: "idle"})
	if err != nil {
		t.Fatal(err)
	}
	sh.runDue(clock.Now()) // place the room
	slot := sh.slotCeil(r.w.due)
	now := clock.add(sh.epoch.Add(time.Duration(slot) * sh.res).Sub(clock.Now()))
	sh.process(slot) // the room ticks
	if r.tick.Load() != 1 || sh.scratch.began != 0 {
		t.Fatalf("after a tick: tick %d, stamp %d left", r.tick.Load(), sh.scratch.began)
	}
	// Due a whole turn of the wheel and more from now: its slot comes
	// round first, and keeps it for a later turn.
	r.w.due = now.Add(time.Duration(len(sh.wheel)+10) * sh.res)
	sh.insert(r, slot)
	later := sh.slotCeil(r.w.due) - int64(len(sh.wheel))
	clock.add(time.Duration(later-slot) * sh.res)
	sh.process(later)
	if r.tick.Load() != 1 {
		t.Fatalf("the room ticked a turn early: tick %d", r.tick.Load())
	}
	if sh.scratch.began != 0 {
		t.Fatalf("a slot that ran no room left the stamp %d", sh.scratch.began)
	}
}
