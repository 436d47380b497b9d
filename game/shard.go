package game

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/internal/frame"
)

// goldenFrac spreads successive rooms' phases evenly over their period
// (a low-discrepancy sequence), so ticks do not bunch in a few slots.
const goldenFrac = 0.6180339887498949

// shard is one tick worker and its tick wheel: a ring of slots, each
// Resolution wide and holding the rooms due in it. The wheel spans a little
// more than the longest tick period, so a ticking room is always due within
// one turn; a sleeping one (Sleeper) may be due many turns ahead and stays
// in its slot until its turn comes. Only the shard's worker (or Advance)
// touches the wheel and its rooms' worker state.
type shard struct {
	rt     *Runtime
	id     int
	wall   bool // the runtime reads the system clock: its ticks' frames say when they were made (frame.Stamp)
	res    time.Duration
	epoch  time.Time
	wheel  [][]slotEntry
	lists  [][]slotEntry // empty lists of emptied slots, for the next slot filled
	cursor int64         // last slot processed
	placed uint64

	mu      sync.Mutex
	adds    []*Room
	wakes   []*Room // sleeping rooms roused (Room.rouse)
	again   []*Room // process's rooms to place after the slot is done
	hasAdds atomic.Bool
	poked   chan struct{}

	rooms atomic.Int64
	// exited is set when the shard's worker goroutine has returned.
	exited atomic.Bool
	// busy is when (Runtime.nanos) the worker began its current room's
	// turn in process, the game's calls included, and zero between slots:
	// a worker busy for longer than StuckAfter is stuck (stuck).
	busy atomic.Int64
	// games holds, for each game with a room on the shard, what those
	// rooms count (Room.gs): the shard's figures are their sum, and a
	// game's (Runtime.GameStats) the sum over shards. Entries are added
	// under rt.mu (schedule) and never removed, so a game's counters only
	// grow, however its rooms come and go.
	games map[string]*tickStats

	// scratch is shared by the shard's rooms (worker.tickScratch).
	scratch tickScratch
}

func newShard(rt *Runtime, id int, epoch time.Time) *shard {
	res := rt.cfg.Resolution
	n := int(time.Second/res) + 3
	_, wall := rt.clock.(systemClock)
	return &shard{rt: rt, id: id, wall: wall, res: res, epoch: epoch, wheel: make([][]slotEntry, n), poked: make(chan struct{}, 1), games: make(map[string]*tickStats)}
}

// slotEntry is a wheel entry: a room and the number of its placement
// (worker.place). A room woken from sleep is placed again, and the entry it
// leaves in its wake slot is then stale.
type slotEntry struct {
	r     *Room
	place uint32
}

// wake hands a roused sleeping room back to the worker, which puts it on
// its next tick. Safe from any goroutine.
func (s *shard) wake(r *Room) {
	s.mu.Lock()
	s.wakes = append(s.wakes, r)
	s.mu.Unlock()
	s.hasAdds.Store(true)
	s.poke()
}

// add hands r to the shard; the worker places it on its next pass.
// Safe from any goroutine.
func (s *shard) add(r *Room) {
	s.rooms.Add(1)
	s.mu.Lock()
	s.adds = append(s.adds, r)
	s.mu.Unlock()
	s.hasAdds.Store(true)
	s.poke()
}

// poke wakes the worker without blocking.
func (s *shard) poke() {
	select {
	case s.poked <- struct{}{}:
	default:
	}
}

// slotCeil is the first slot that starts at or after t.
func (s *shard) slotCeil(t time.Time) int64 {
	d := t.Sub(s.epoch)
	return int64((d + s.res - 1) / s.res)
}

func (s *shard) slotFloor(t time.Time) int64 { return int64(t.Sub(s.epoch) / s.res) }

// insert puts r into the slot of its due time, never earlier than after.
func (s *shard) insert(r *Room, after int64) {
	slot := max(s.slotCeil(r.w.due), after+1)
	i := slot % int64(len(s.wheel))
	r.w.place++
	list := s.wheel[i]
	if list == nil && len(s.lists) > 0 {
		list = s.lists[len(s.lists)-1]
		s.lists[len(s.lists)-1] = nil
		s.lists = s.lists[:len(s.lists)-1]
	}
	s.wheel[i] = append(list, slotEntry{r, r.w.place})
}

// runDue runs every room due at or before now. Called by the worker only.
func (s *shard) runDue(now time.Time) {
	if s.hasAdds.Load() {
		s.mu.Lock()
		adds, wakes := s.adds, s.wakes
		s.adds, s.wakes = nil, nil
		s.hasAdds.Store(false)
		s.mu.Unlock()
		for _, r := range wakes {
			if r.w.sleeping && !r.w.disposed {
				r.unsleep(r.nextTick(now))
				s.insert(r, s.cursor)
			}
		}
		for _, r := range adds {
			frac := float64(s.placed) * goldenFrac
			frac -= float64(int64(frac))
			s.placed++
			// The first tick is due within (0, period] from now.
			r.w.due = now.Add(r.period - time.Duration(frac*float64(r.period)))
			s.insert(r, s.cursor)
		}
	}
	target := s.slotFloor(now)
	from := s.cursor + 1
	if n := int64(len(s.wheel)); target-from >= n {
		from = target - n + 1
	}
	for slot := from; slot <= target; slot++ {
		s.process(slot)
	}
	if target > s.cursor {
		s.cursor = target
	}
}

// process runs the rooms of one slot, up to 1+MaxCatchUp steps each, and
// moves them to the slot of their next tick.
//
// An empty slot (nil: an emptied one gives its list back) is passed over
// at once: a worker walks every slot since its last turn, and a shard of
// fewer rooms than slots (a 20 Hz room's period is 100 slots of 500 µs)
// walks mostly empty ones, as does Runtime.Advance, which steps a slot at
// a time.
func (s *shard) process(slot int64) {
	i := slot % int64(len(s.wheel))
	list := s.wheel[i]
	if list == nil {
		return
	}
	keep := 0
	clock := s.rt.clock
	// now is the clock's reading: one at the start, then the end of each
	// room's tick, which is the next one's start too (the bookkeeping
	// between them takes tens of nanoseconds), so a room's tick reads the
	// clock once rather than twice.
	var now time.Time
	for _, e := range list {
		r := e.r
		if e.place != r.w.place {
			continue // placed again since: woken from sleep
		}
		if r.w.disposed {
			s.rooms.Add(-1)
			continue
		}
		if now.IsZero() {
			now = clock.Now()
		}
		start := now
		if r.w.due.After(start) {
			if s.slotCeil(r.w.due) > slot {
				list[keep] = e // due in a later turn of the wheel
				keep++
				continue
			}
			start = r.w.due // a coarse clock: never report negative lateness
		}
		if s.wall {
			s.scratch.began = frame.Stamp(now)
		}
		if r.w.sleeping {
			r.unsleep(r.w.due) // its wake time came
		}
		late := start.Sub(r.w.due)
		s.busy.Store(s.rt.nanos(now))
		s.steps(r, start)
		if !r.w.disposed && !r.w.due.After(start) {
			// Still behind: skip the missed ticks, keeping the phase.
			r.stats.overruns.Add(1)
			r.gs.overruns.Add(1)
			missed := start.Sub(r.w.due)/r.period + 1
			r.w.due = r.w.due.Add(missed * r.period)
		}
		s.scratch.began = 0
		now = clock.Now()
		dur := now.Sub(start)
		li, di := bucket(late), bucket(dur)
		r.stats.lateness.add(li, late)
		r.stats.duration.add(di, dur)
		r.gs.lateness.add(li, late)
		r.gs.duration.add(di, dur)
		if r.w.disposed {
			s.rooms.Add(-1)
			continue
		}
		if r.w.sleeper != nil {
			r.trySleep()
		}
		// Placed once the slot is done: a sleeping room's wake time can
		// fall in this very slot a later turn, whose list is being rewritten.
		s.again = append(s.again, r)
	}
	s.busy.Store(0)
	clear(list[keep:])
	if keep == 0 && list != nil {
		// An emptied slot gives its list back: rooms move to a later slot
		// every tick, and over time all of the wheel's thousands of slots
		// would each hold the largest list they ever had.
		s.lists = append(s.lists, list[:0])
		list = nil
	}
	s.wheel[i] = list[:keep]
	for _, r := range s.again {
		s.insert(r, slot)
	}
	clear(s.again)
	s.again = s.again[:0]
}

// steps runs r's ticks due by start, up to 1+MaxCatchUp of them. A panic
// of its game ends r alone (Room.crashed).
func (s *shard) steps(r *Room, start time.Time) {
	defer r.recoverGame()
	for steps := 0; !r.w.due.After(start) && steps <= s.rt.cfg.MaxCatchUp && !r.w.disposed; steps++ {
		r.step(r.w.due)
		r.w.due = r.w.due.Add(r.period)
	}
}

// stuck reports whether the worker has been in one room's turn for
// longer than StuckAfter as of now (Runtime.nanos): in a game's call that,
// as far as anyone can tell, will never return. Safe from any goroutine.
func (s *shard) stuck(now int64) bool {
	b := s.busy.Load()
	return b != 0 && now-b > int64(StuckAfter)
}

// untilNext returns how long the worker may sleep before the next busy slot.
func (s *shard) untilNext(now time.Time) time.Duration {
	if s.hasAdds.Load() {
		return 0
	}
	n := int64(len(s.wheel))
	for slot := s.cursor + 1; slot <= s.cursor+n; slot++ {
		if len(s.wheel[slot%n]) > 0 {
			return s.epoch.Add(time.Duration(slot) * s.res).Sub(now)
		}
	}
	return time.Second
}

// loop is the shard's worker goroutine.
func (s *shard) loop(stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := s.rt.clock.Now()
		s.runDue(now)
		if d := s.untilNext(s.rt.clock.Now()); d > 0 {
			timer.Reset(d)
			select {
			case <-stop:
				return
			case <-s.poked:
			case <-timer.C:
			}
		} else {
			select {
			case <-stop:
				return
			default:
			}
		}
	}
}

// snapshot sums the shard's games. Called with rt.mu held.
func (s *shard) snapshot() ShardStats {
	st := ShardStats{Rooms: int(s.rooms.Load())}
	for _, gs := range s.games {
		st.TickStats.Merge(gs.snapshot())
	}
	return st
}
