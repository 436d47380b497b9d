package game

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	mathrand "math/rand/v2"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Runtime hosts rooms and drives their ticks with a few shard workers.
// Its methods are safe from any goroutine.
type Runtime struct {
	cfg Config
	// logs maps each game's name to its log spacers (*gameLogs), made by
	// logsOf on the game's first line.
	logs   sync.Map
	clock  Clock
	manual *ManualClock
	// wall is set on the system clock (see nowNanos).
	wall   bool
	shards []*shard
	// epoch anchors the compact int64 times rooms keep (see nanos).
	epoch time.Time

	mu    sync.RWMutex
	rooms map[string]*Room
	byID  []*Room // the rooms of rooms, ordered by id, for RoomPage
	// refs hands out State.room_ref numbers: the next unused one, or a
	// freed one once refQuarantine others were freed after it, so a client
	// that still maps a closed room's ref has long left it.
	nextRef  uint32
	freeRefs []uint32
	empty    chan struct{} // closed when shutting down and the last room is gone

	closed  atomic.Bool
	started atomic.Bool
	// startMu orders Start against Shutdown: either the workers started
	// before Shutdown looked, and it stops them, or Start sees the runtime
	// closed and starts none. Otherwise Shutdown could dispose the rooms
	// on its goroutine while workers just started tick them (and their
	// shard's scratch).
	startMu sync.Mutex
	stop    chan struct{}
	wg      sync.WaitGroup
	stuck   atomic.Uint64 // workers Shutdown gave up on (StuckWorkers)
	advMu   sync.Mutex    // serializes Advance
}

// NewRuntime validates cfg and returns a runtime that is not yet ticking;
// call Start.
func NewRuntime(cfg Config) (*Runtime, error) {
	if cfg.Shards < 0 || cfg.Shards > 1024 {
		return nil, fmt.Errorf("%w: shards %d not in 0..1024", ErrInvalidOptions, cfg.Shards)
	}
	if cfg.Resolution < 0 || cfg.Resolution > 10*time.Millisecond {
		return nil, fmt.Errorf("%w: resolution %v not in 0..10ms", ErrInvalidOptions, cfg.Resolution)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := cfg.Shards
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	rt := &Runtime{cfg: cfg, clock: cfg.Clock, rooms: make(map[string]*Room), stop: make(chan struct{}), empty: make(chan struct{})}
	rt.manual, _ = cfg.Clock.(*ManualClock)
	_, rt.wall = cfg.Clock.(systemClock)
	epoch := rt.clock.Now()
	rt.epoch = epoch
	for i := range n {
		rt.shards = append(rt.shards, newShard(rt, i, epoch))
	}
	return rt, nil
}

// Start launches the shard workers. With a ManualClock it starts nothing:
// ticks run in Advance. Calling it again does nothing.
func (rt *Runtime) Start() {
	rt.startMu.Lock()
	defer rt.startMu.Unlock()
	if rt.manual != nil || rt.closed.Load() || !rt.started.CompareAndSwap(false, true) {
		return
	}
	for _, s := range rt.shards {
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			defer s.exited.Store(true)
			s.loop(rt.stop)
		}()
	}
}

// Shutdown closes every room (a running match ends with reason "closed",
// members are removed) and stops the workers, waiting for them to return.
// New rooms are refused with ErrRuntimeClosed from the start. When ctx ends
// first, the remaining rooms are disposed at once and ctx's error returned.
//
// A worker that has been in one room's turn for longer than StuckAfter is
// stuck in a game's call that never returns, and Shutdown does not wait
// for it: once every room left is on a stuck worker and every other worker
// has returned, it returns ErrWorkerStuck (joined with ctx's error if ctx
// ended), leaving the stuck goroutines and their rooms as they are, and
// counts them in StuckWorkers. So does a worker that has not returned
// workerStopGrace after ctx ended, however long it was busy.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	if !rt.closed.CompareAndSwap(false, true) {
		return ErrRuntimeClosed
	}
	rt.mu.Lock()
	rooms := make([]*Room, 0, len(rt.rooms))
	for _, r := range rt.rooms {
		rooms = append(rooms, r)
	}
	if len(rt.rooms) == 0 {
		close(rt.empty)
	}
	rt.mu.Unlock()
	for _, r := range rooms {
		r.Close("server shutting down")
	}
	var err error
	rt.startMu.Lock()
	started := rt.started.Load()
	rt.startMu.Unlock()
	if started {
		err = rt.awaitRooms(ctx)
		close(rt.stop)
		stopped := make(chan struct{})
		go func() { rt.wg.Wait(); close(stopped) }()
		if n := rt.awaitWorkers(ctx, stopped); n > 0 {
			rt.stuck.Add(uint64(n))
			rt.cfg.Logger.Error("a tick worker did not stop: a game's call never returned; its rooms are left as they are", "workers", n)
			return errors.Join(ctx.Err(), ErrWorkerStuck)
		}
	}
	// Workers are stopped (or never ran): dispose what is left here.
	rt.advMu.Lock()
	defer rt.advMu.Unlock()
	for _, r := range rooms {
		if !r.w.disposed {
			r.w.now = rt.clock.Now()
			r.end(MatchResult{Reason: "closed"})
			r.dispose()
		}
	}
	return err
}

// awaitRooms waits until the closed rooms are gone (nil), ctx ends (its
// error), or every room left is on a stuck worker (nil: no more will go).
func (rt *Runtime) awaitRooms(ctx context.Context) error {
	t := time.NewTicker(stuckPoll)
	defer t.Stop()
	for {
		select {
		case <-rt.empty:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if rt.onlyStuckLeft() {
				return nil
			}
		}
	}
}

// onlyStuckLeft reports whether some worker is stuck and every live room
// is on a stuck worker.
func (rt *Runtime) onlyStuckLeft() bool {
	now := rt.nowNanos()
	if !slices.ContainsFunc(rt.shards, func(s *shard) bool { return s.stuck(now) }) {
		return false
	}
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	for _, r := range rt.rooms {
		if !r.sh.stuck(now) {
			return false
		}
	}
	return true
}

// awaitWorkers waits for the stopped workers to return (stopped closes)
// and returns 0, or returns how many have not when each of those is stuck,
// or workerStopGrace after ctx ended.
func (rt *Runtime) awaitWorkers(ctx context.Context, stopped <-chan struct{}) int {
	t := time.NewTicker(stuckPoll)
	defer t.Stop()
	done := ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case <-stopped:
			return 0
		case <-done:
			done, grace = nil, time.After(workerStopGrace)
		case <-grace:
			return rt.running(func(*shard) bool { return true })
		case <-t.C:
			now := rt.nowNanos()
			if n := rt.running(func(s *shard) bool { return s.stuck(now) }); n > 0 {
				return n
			}
		}
	}
}

// running returns how many workers have not returned, when each of them
// passes ok, and 0 otherwise.
func (rt *Runtime) running(ok func(*shard) bool) int {
	n := 0
	for _, s := range rt.shards {
		if s.exited.Load() {
			continue
		}
		if !ok(s) {
			return 0
		}
		n++
	}
	return n
}

// StuckAfter is how long a tick worker may be in one room's turn (its
// game's calls: Update, Encode and the rest, up to 1+MaxCatchUp ticks of
// them) before it counts as stuck in a call that never returns: a
// shutdown (Runtime.Shutdown) and a drain give up waiting for its rooms
// then. A healthy turn takes a small part of a tick period (at most 1 s).
const StuckAfter = 2 * time.Second

// stuckPoll is how often Shutdown looks for stuck workers while it waits.
const stuckPoll = 100 * time.Millisecond

// workerStopGrace is how long Shutdown waits for its workers once its
// context has ended.
const workerStopGrace = time.Second

// CreateRoom creates a room of opts.Game and schedules it. The game's
// constructor runs on the calling goroutine.
func (rt *Runtime) CreateRoom(opts RoomOptions) (*Room, error) {
	if rt.closed.Load() {
		return nil, ErrRuntimeClosed
	}
	r, err := rt.build(opts, strings.ToLower(rand.Text()[:16]))
	if err != nil {
		return nil, err
	}
	if err := rt.schedule(r); err != nil {
		return nil, err
	}
	return r, nil
}

// newGame runs the definition's New. A panic in it (a bug that a client's
// room options reached) is logged with its stack and refuses this room
// alone, as an error, rather than ending the process. A refused creation
// costs its client nothing, so the client reaches New at its message rate:
// the stack is logged once every logspace.Every at most for the game, with
// the number left out since (see gameLogs).
func (r *Room) newGame(s Setup) (g Game, err error) {
	defer func() {
		if v := recover(); v != nil {
			if ok, skipped := r.rt.logsOf(r.def.Name).newPanic.Allow(time.Now()); ok {
				r.log.Error("game panicked in New: room refused (logged at most once every 10 s)", "panic", v, "left_out", skipped, "stack", string(debug.Stack()))
			}
			g, err = nil, fmt.Errorf("%w: %v", ErrGamePanicked, v)
		}
	}()
	return r.def.New(s)
}

// build makes a room with id from opts and constructs its game; the room
// is not yet shared.
func (rt *Runtime) build(opts RoomOptions, id string) (*Room, error) {
	def, ok := rt.cfg.Registry.Lookup(opts.Game)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownGame, opts.Game)
	}
	maxPlayers, maxSpecs, rate, err := opts.resolve(def)
	if err != nil {
		return nil, err
	}
	r := &Room{
		id: id, def: def, rt: rt,
		password: opts.Password, private: opts.Private, options: maps.Clone(opts.Options),
		maxPlayers: maxPlayers, maxSpectators: maxSpecs, tickRate: rate,
		period: time.Second / time.Duration(rate),
		log:    rt.cfg.Logger.With("room", id, "game", def.Name),
	}
	if len(opts.Metadata) > 0 {
		r.metadata = make(map[string]string, len(opts.Metadata))
		for k, v := range opts.Metadata {
			r.metadata[k] = v
		}
	}
	r.inputRate = float64(def.InputRate)
	if r.inputRate == 0 {
		r.inputRate = float64(2 * rate)
	}
	// Spectator seats are added as spectators come (Join): most rooms
	// never have one, and a slot costs ~90 B here and 8 B on the worker.
	r.seats = make([]seatSlot, maxPlayers)
	seed := opts.Seed
	if seed == 0 {
		seed = mathrand.Uint64()
	}
	r.seed = seed
	// The game's own copy of the options: one that rewrites them (fills
	// in its defaults, spells a value its own way) changes neither the
	// room's nor the caller's, whose are the room's quick-match key.
	g, err := r.newGame(Setup{RoomID: id, Options: maps.Clone(opts.Options), MaxPlayers: maxPlayers, TickRate: rate, Seed: seed, Logger: r.log})
	if err != nil {
		if strings.HasPrefix(err.Error(), def.Name+": ") {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err) // names the game itself
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidOptions, def.Name, err)
	}
	if v := reflect.ValueOf(g); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		// The game's bug: its first call would panic and close the room.
		if ok, skipped := rt.logsOf(def.Name).newNil.Allow(time.Now()); ok {
			r.log.Error("game's New returned no game and no error: room refused (logged at most once every 10 s)", "left_out", skipped)
		}
		return nil, fmt.Errorf("%w: %s: New returned no game", ErrInvalidOptions, def.Name)
	}
	r.w = worker{game: g, members: make([]*member, len(r.seats))}
	r.w.viewer, _ = g.(Viewer)
	// The room's past states are the bases of its members' deltas and
	// resumes. A game that sends each member its own view keeps those in
	// each member's view (sendView), and reads only the newest two shared
	// states (the newest, and the one before to drop an equal one): a
	// longer ring would only have each tick turn the state before into a
	// back record that nothing reads.
	ring := rt.cfg.ResumeTicks
	if r.w.viewer != nil {
		ring = 2
	}
	r.w.shared = newTrack(ring)
	r.w.versioned, _ = g.(Versioned)
	r.w.sleeper, _ = g.(Sleeper)
	r.w.ctx = Context{r: r}
	r.phase.Store(int32(PhaseWaiting))
	return r, nil
}

// schedule makes r live: it is listed by id, gets its ref and is handed
// to the least busy shard. It fails with ErrRuntimeClosed after Shutdown
// and ErrRoomExists when a live room has r's id.
func (rt *Runtime) schedule(r *Room) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed.Load() {
		return ErrRuntimeClosed
	}
	if _, dup := rt.rooms[r.id]; dup {
		return ErrRoomExists
	}
	rt.rooms[r.id] = r
	i, _ := slices.BinarySearchFunc(rt.byID, r.id, byRoomID)
	rt.byID = slices.Insert(rt.byID, i, r)
	if len(rt.freeRefs) > refQuarantine {
		r.ref = rt.freeRefs[0]
		rt.freeRefs = rt.freeRefs[1:]
	} else {
		rt.nextRef++
		r.ref = rt.nextRef
	}
	sh := rt.shards[0]
	for _, s := range rt.shards[1:] {
		if s.rooms.Load() < sh.rooms.Load() {
			sh = s
		}
	}
	r.sh = sh
	gs := sh.games[r.def.Name]
	if gs == nil {
		gs = new(tickStats)
		sh.games[r.def.Name] = gs
	}
	r.gs = gs
	r.w.tickScratch = &sh.scratch
	r.w.shared.fs = &sh.scratch.patch.fs // its tick uses one field scratch at a time
	if len(r.w.shared.ring) > 2 {        // a ring of two keeps both its snaps whole
		r.w.shared.pool = &sh.scratch.wholes
	}
	sh.add(r)
	return nil
}

// refQuarantine is how many freed room refs wait before the oldest is
// reused.
const refQuarantine = 256

// forget removes a disposed room; called on its tick worker.
func (rt *Runtime) forget(r *Room) {
	rt.mu.Lock()
	delete(rt.rooms, r.id)
	if i, ok := slices.BinarySearchFunc(rt.byID, r.id, byRoomID); ok && rt.byID[i] == r {
		rt.byID = slices.Delete(rt.byID, i, i+1)
	}
	rt.freeRefs = append(rt.freeRefs, r.ref)
	if rt.closed.Load() && len(rt.rooms) == 0 {
		select {
		case <-rt.empty:
		default:
			close(rt.empty)
		}
	}
	rt.mu.Unlock()
}

// Room returns the live room with id.
func (rt *Runtime) Room(id string) (*Room, bool) {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	r, ok := rt.rooms[id]
	return r, ok
}

// AppendRooms appends every live room, private ones included, to dst in
// no particular order and returns it: a caller walking every room
// periodically reuses dst and allocates nothing.
func (rt *Runtime) AppendRooms(dst []*Room) []*Room {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	for _, r := range rt.rooms {
		dst = append(dst, r)
	}
	return dst
}

// RoomCount returns the number of live rooms. Safe from any goroutine.
func (rt *Runtime) RoomCount() int {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return len(rt.rooms)
}

// RoomFilter selects rooms for a listing. Its zero value lists every public
// room.
type RoomFilter struct {
	// Game keeps rooms of that game. Zero value means any game.
	Game string
	// Private includes private rooms. Zero value means public rooms only.
	Private bool
	// Joinable keeps rooms that are not finished, not locked, whose game
	// has not closed its seats (Context.CloseSeats) and that have a free
	// player seat. Zero value means any.
	Joinable bool
}

// Rooms returns the rooms matching f, sorted by id.
func (rt *Runtime) Rooms(f RoomFilter) []RoomInfo {
	rt.mu.RLock()
	rooms := make([]*Room, 0, len(rt.rooms))
	for _, r := range rt.rooms {
		if (f.Game == "" || r.def.Name == f.Game) && (f.Private || !r.private) {
			rooms = append(rooms, r)
		}
	}
	rt.mu.RUnlock()
	out := make([]RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		info := r.Info()
		if f.Joinable && (info.Locked || info.SeatsClosed || info.Phase >= PhaseFinished || info.Players >= info.MaxPlayers) {
			continue
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b RoomInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// byRoomID orders rooms by id, for a binary search of Runtime.byID.
func byRoomID(r *Room, id string) int { return strings.Compare(r.id, id) }

// RoomPage returns, ordered by id, the rooms whose id comes after after
// that pass f and whose metadata match accepts (nil accepts any), at most
// limit of them. It looks at no more than scan rooms past after (0: no
// bound), so that what one call costs is bounded however few rooms a
// filter keeps: the rooms it skips cost a comparison each, and only those
// it returns are copied. next is where a further page starts, "" when no
// room it did not look at is left: the last room returned when more
// passed, or the last room looked at when scan ran out first.
func (rt *Runtime) RoomPage(f RoomFilter, after string, match func(metadata map[string]string) bool, limit, scan int) (out []RoomInfo, next string) {
	rt.mu.RLock()
	i, found := slices.BinarySearchFunc(rt.byID, after, byRoomID)
	if found {
		i++
	}
	end := len(rt.byID)
	if scan > 0 && end-i > scan {
		end = i + scan
	}
	rooms := slices.Clone(rt.byID[i:end])
	more := end < len(rt.byID)
	rt.mu.RUnlock()
	for _, r := range rooms {
		if (f.Game != "" && r.def.Name != f.Game) || (!f.Private && r.private) {
			continue
		}
		if match != nil && !match(r.metadata) {
			continue
		}
		if f.Joinable && !r.joinable() {
			continue
		}
		if limit > 0 && len(out) == limit {
			return out, out[len(out)-1].ID
		}
		out = append(out, r.Info())
	}
	if more && len(rooms) > 0 {
		next = rooms[len(rooms)-1].id
	}
	return out, next
}

// Stats returns a snapshot of every shard's histograms and counters.
func (rt *Runtime) Stats() Stats {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	st := Stats{Rooms: len(rt.rooms)}
	for _, s := range rt.shards {
		ss := s.snapshot()
		st.Shards = append(st.Shards, ss)
		st.Total.Merge(ss.TickStats)
	}
	return st
}

// StuckWorkers returns the number of tick workers Shutdown gave up on
// (workerStopGrace past its context's end, each still in a game's call
// that never returned); 0 until a Shutdown did. Safe from any goroutine.
func (rt *Runtime) StuckWorkers() uint64 { return rt.stuck.Load() }

// GameStats returns each game's tick statistics: those of every room of
// the game the runtime has run, ended rooms included, so that its
// counters only grow. It reads a few counters a game and shard, not the
// rooms.
func (rt *Runtime) GameStats() map[string]TickStats {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	out := make(map[string]TickStats)
	for _, s := range rt.shards {
		for g, gs := range s.games {
			t := out[g]
			t.Merge(gs.snapshot())
			out[g] = t
		}
	}
	return out
}

// GameRooms counts a game's live rooms in one phase, and their players.
type GameRooms struct {
	Game    string
	Phase   Phase
	Rooms   int
	Players int
}

// Census counts the live rooms by game and phase, with their players
// (RoomInfo.Players), sorted by game and phase. Unlike Rooms it builds no
// RoomInfo: what a metrics scrape needs of 10,000 rooms.
func (rt *Runtime) Census() []GameRooms {
	rt.mu.RLock()
	rooms := make([]*Room, 0, len(rt.rooms))
	for _, r := range rt.rooms {
		rooms = append(rooms, r)
	}
	rt.mu.RUnlock()
	type key struct {
		game  string
		phase Phase
	}
	counts := make(map[key]*GameRooms)
	for _, r := range rooms {
		r.mu.Lock()
		players := r.players
		r.mu.Unlock()
		k := key{r.def.Name, r.Phase()}
		c := counts[k]
		if c == nil {
			c = &GameRooms{Game: k.game, Phase: k.phase}
			counts[k] = c
		}
		c.Rooms++
		c.Players += players
	}
	out := make([]GameRooms, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b GameRooms) int {
		return cmp.Or(strings.Compare(a.Game, b.Game), cmp.Compare(a.Phase, b.Phase))
	})
	return out
}

// Advance moves a ManualClock forward by d in steps of the wheel
// resolution and runs, on the calling goroutine, every tick that falls due,
// so tests are deterministic. Join callbacks and Transport deliveries run
// inside it. It fails with ErrNoManualClock on any other clock.
func (rt *Runtime) Advance(d time.Duration) error {
	if rt.manual == nil {
		return ErrNoManualClock
	}
	rt.advMu.Lock()
	defer rt.advMu.Unlock()
	res := rt.cfg.Resolution
	for d > 0 {
		step := min(res, d)
		d -= step
		now := rt.manual.add(step)
		for _, s := range rt.shards {
			s.runDue(now)
		}
	}
	return nil
}

// nanos is t as the compact time rooms keep for every seat and member
// (8 bytes, not time.Time's 24): nanoseconds since the runtime started,
// plus one, so zero stays "not set". It is taken with Sub, so the system
// clock's monotonic reading keeps grace windows and rate limits immune to
// steps of the wall clock.
func (rt *Runtime) nanos(t time.Time) int64 { return int64(t.Sub(rt.epoch)) + 1 }

// nowNanos is nanos of the clock's now. On the system clock it reads the
// monotonic clock alone (time.Since of the epoch, which has a monotonic
// reading), what t.Sub(epoch) would use of time.Now: the wall clock's
// read costs as much again (~25 ns here), and every input takes one.
func (rt *Runtime) nowNanos() int64 {
	if rt.wall {
		return int64(time.Since(rt.epoch)) + 1
	}
	return rt.nanos(rt.clock.Now())
}

// timeAt is the time nanos(t) was taken of.
func (rt *Runtime) timeAt(n int64) time.Time { return rt.epoch.Add(time.Duration(n - 1)) }
