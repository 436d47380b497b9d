package game

import (
	"crypto/subtle"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Phase is where a room is in its life: waiting → running → finished →
// disposed. Its values equal tickroom.v1.RoomPhase.
type Phase int32

// Room phases.
const (
	PhaseWaiting  = Phase(tickroomv1.RoomPhase_ROOM_PHASE_WAITING)
	PhaseRunning  = Phase(tickroomv1.RoomPhase_ROOM_PHASE_RUNNING)
	PhaseFinished = Phase(tickroomv1.RoomPhase_ROOM_PHASE_FINISHED)
	PhaseDisposed = Phase(tickroomv1.RoomPhase_ROOM_PHASE_DISPOSED)
)

// String returns the phase's name.
func (p Phase) String() string {
	switch p {
	case PhaseWaiting:
		return "waiting"
	case PhaseRunning:
		return "running"
	case PhaseFinished:
		return "finished"
	case PhaseDisposed:
		return "disposed"
	}
	return "unknown"
}

// seatState is a seat's reservation state, guarded by Room.mu.
type seatState uint8

const (
	seatFree     seatState = iota
	seatReserved           // join queued, not yet confirmed by the tick worker
	seatJoined
	seatDropped
	seatLeaving // leave queued
)

// seatSlot is the part of a seat that any goroutine may consult, under
// Room.mu: who holds it and its input rate limiter.
type seatSlot struct {
	state     seatState
	spectator bool
	// queued counts the inputs in the inbox from the seat, up to its
	// share (Room.inputShare); the tick's drain starts it again.
	queued uint16
	// tokens is the input rate bucket; a float32 beside the flags keeps
	// a seat at 72 B (ten seats in the 768 B size class, not 896).
	tokens float32
	userID string
	name   string
	client Client // the connection the seat was last joined or resumed on
	// The times are Runtime.nanos rather than time.Time (24 bytes):
	// a seat is held for every player for the room's life.
	last      int64 // the last input's time (Runtime.nanos)
	heldUntil int64 // Runtime.nanos; while dropped: when the seat stops being held; zero until the tick processes the drop
}

type cmdKind uint8

const (
	cmdJoin cmdKind = iota + 1
	cmdResume
	cmdLeave
	cmdDrop
	cmdObserve
	cmdUnobserve
)

// command is a membership change queued for the tick worker.
type command struct {
	kind   cmdKind
	seat   uint32
	req    JoinRequest
	cb     func(JoinResult)
	client Client // cmdDrop: the connection that was lost; cmdObserve, cmdUnobserve: the observer
	obs    ObserveRequest
	ocb    func(error)
}

// input is one queued input: its bytes are buf[off:off+n] of the inbox
// it is in (Room.inboxBuf, worker.drainBuf). One buffer for all of a
// tick's inputs, rather than one each, is two allocations a room, not
// one an input slot.
type input struct {
	seat, seq uint32
	off, n    uint32
}

// Room is one authoritative game room. Its exported methods are safe from
// any goroutine and never block on the room's tick; results of membership
// changes arrive through callbacks run on the tick worker.
type Room struct {
	id            string
	def           Definition
	rt            *Runtime
	sh            *shard
	gs            *tickStats // its game's on its shard (shard.games)
	password      string
	private       bool
	metadata      map[string]string
	options       map[string]string
	maxPlayers    int
	maxSpectators int
	tickRate      int
	period        time.Duration
	inputRate     float64
	seed          uint64
	log           *slog.Logger

	mu       sync.Mutex // guards the fields below up to the blank line
	seats    []seatSlot // index seat-1
	inbox    []input
	inboxBuf []byte // the inbox's input bytes
	ctl      []command
	// drops are the notes of numbered inputs dropped since the last tick
	// (noteDrop), nil while there are none.
	drops    *inputDrops
	locked   bool
	closed   bool // Context.CloseSeats: no new player seats
	closeReq bool
	moving   bool // a handoff was asked for: no new joins
	// asleep is set while the room is off its tick (Sleeper): whoever
	// queues something for the tick clears it and wakes the room (rouse).
	// sleptAt is then when its first skipped tick was due (Runtime.nanos),
	// so that Info counts the ticks it sleeps through. The flags share a
	// word: a Room of more than 1,272 bytes takes a larger size class
	// (TestRoomFitsItsSizeClass).
	asleep   bool
	closeMsg string
	handoff  func(*tickroomv1.SavedRoom, error) // Handoff's callback, until the tick runs it
	players  int
	specs    int
	// observers counts observers, queued ones included (Observe).
	observers int
	// stateReqs are State calls the next tick answers.
	stateReqs []chan RoomState
	sleptAt   int64

	phase atomic.Int32
	// ref is State.room_ref, set before the room is shared. Here, it
	// fills phase's word: a Room of more than 1,272 bytes takes the 1,408
	// B size class (1,280 and the 8-byte header of a large object with
	// pointers; TestRoomFitsItsSizeClass).
	ref   uint32
	tick  atomic.Uint64
	stats roomStats

	w worker // touched only by the tick worker
}

// ID returns the room's id.
func (r *Room) ID() string { return r.id }

// Ref returns the room's short number, unique among live rooms, that
// every State names the room with (State.room_ref).
func (r *Room) Ref() uint32 { return r.ref }

// Game returns the room's game name.
func (r *Room) Game() string { return r.def.Name }

// Phase returns the room's current phase.
func (r *Room) Phase() Phase { return Phase(r.phase.Load()) }

// Stuck reports whether the room's tick worker has been in one room's
// turn (this room's or another's of its worker) for longer than
// StuckAfter: in a game's call that never returns, so the room will not
// tick again and its match never ends. Safe from any goroutine.
func (r *Room) Stuck() bool { return r.sh != nil && r.sh.stuck(r.rt.nowNanos()) }

// Join asks for a seat. It returns at once: a typed error (ErrRoomFull,
// ErrWrongPassword, ErrLocked, ErrFinished, ErrControlFull) when the seat
// cannot be reserved (ErrNoClient without a Client), or nil when the join was queued; cb then runs on the
// tick worker with the result (the game may still refuse it), before the
// member's first state frame is sent. A join with the UserID of a current or
// dropped member, or of one whose join is still queued, resumes that seat on
// req.Client (a user holds one seat in a room). cb may be nil.
func (r *Room) Join(req JoinRequest, cb func(JoinResult)) error {
	if req.Client == nil {
		return ErrNoClient
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ph := r.Phase(); ph == PhaseDisposed || r.closeReq {
		return ErrFinished
	}
	if len(r.ctl) >= r.maxControl() {
		return ErrControlFull
	}
	if req.UserID != "" {
		for i := range r.seats {
			s := &r.seats[i]
			if s.userID != req.UserID || (s.state != seatJoined && s.state != seatDropped && s.state != seatReserved) {
				continue
			}
			// A seat whose join is still queued is the user's too: the
			// resume, queued after that join, moves it here once the
			// join is confirmed (and finds no member when the game
			// refused it), rather than a second seat being taken.
			if s.state != seatReserved {
				s.state = seatJoined
			}
			s.client = req.Client
			r.forgetDrops(uint32(i + 1))
			r.ctl = append(r.ctl, command{kind: cmdResume, seat: uint32(i + 1), req: req, cb: cb})
			r.rouse()
			return nil
		}
	}
	if r.Phase() == PhaseFinished {
		return ErrFinished
	}
	if r.moving {
		return ErrMoving
	}
	if r.locked || r.closed && !req.Spectator {
		return ErrLocked
	}
	if r.password != "" && subtle.ConstantTimeCompare([]byte(r.password), []byte(req.Password)) != 1 {
		return ErrWrongPassword
	}
	lo, hi := 0, r.maxPlayers
	if req.Spectator {
		lo, hi = r.maxPlayers, r.maxPlayers+r.maxSpectators
	}
	for i := lo; i < hi; i++ {
		if i == len(r.seats) {
			r.seats = append(r.seats, seatSlot{}) // the first spectator past the slots made so far
		}
		s := &r.seats[i]
		if s.state != seatFree {
			continue
		}
		*s = seatSlot{state: seatReserved, spectator: req.Spectator, userID: req.UserID, name: req.Name, client: req.Client, tokens: float32(r.inputRate), last: r.rt.nowNanos()}
		if req.Spectator {
			r.specs++
		} else {
			r.players++
		}
		r.ctl = append(r.ctl, command{kind: cmdJoin, seat: uint32(i + 1), req: req, cb: cb})
		r.rouse()
		return nil
	}
	return ErrRoomFull
}

// rouse puts the room back on its tick when it sleeps (Sleeper). Called
// with r.mu held, after queueing something for the tick.
func (r *Room) rouse() {
	if r.asleep {
		r.tick.Store(r.tickNow()) // until the tick that wakes it runs
		r.asleep = false
		r.sh.wake(r)
	}
}

// maxControl is the bound of queued membership changes: two for each seat
// the room can have, and 16 more.
func (r *Room) maxControl() int { return 2*(r.maxPlayers+r.maxSpectators) + 16 }

// Input queues one input from the player in seat, with the client's
// sequence number. data is copied. It fails with ErrNotSeated,
// ErrSpectator, ErrInputTooLarge, a RateLimitedError (ErrRateLimited) or
// ErrInboxFull; the last two are counted, and a numbered input (seq above
// 0) dropped so is told to the seat's client at the next tick, in an
// InputDropped (at most one a seat and reason a tick, listing the newest
// runs of dropped seqs).
func (r *Room) Input(seat, seq uint32, data []byte) error { return r.InputFrom(nil, seat, seq, data) }

// InputFrom is Input from connection c: it also fails with ErrNotSeated
// once the seat has been joined or resumed on another connection (the
// resume asked for, not yet answered, included). An input of the old
// connection applied after the resume's answer would pass the
// Joined.last_input_seq the new connection numbers its inputs from, and
// they would be dropped as resends. A nil c is any connection.
func (r *Room) InputFrom(c Client, seat, seq uint32, data []byte) error {
	if len(data) > r.rt.cfg.MaxInputSize {
		return ErrInputTooLarge
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A seat whose leave is queued still takes input: the tick settles the
	// leave first, and a leave that a resume overtook is ignored there.
	if seat == 0 || int(seat) > len(r.seats) || (r.seats[seat-1].state != seatJoined && r.seats[seat-1].state != seatLeaving) {
		return ErrNotSeated
	}
	s := &r.seats[seat-1]
	if c != nil && s.client != c {
		return ErrNotSeated
	}
	if s.spectator {
		return ErrSpectator
	}
	now := r.rt.nowNanos()
	tokens := min(float64(s.tokens)+float64(now-s.last)/float64(time.Second)*r.inputRate, r.inputRate)
	s.tokens = float32(tokens)
	s.last = now
	if tokens < 1 {
		r.stats.rateLimited.Add(1)
		r.gs.rateLimited.Add(1)
		r.noteDrop(seat, seq, dropRate)
		return &RateLimitedError{RetryAfter: time.Duration(math.Ceil((1 - tokens) / r.inputRate * float64(time.Second)))}
	}
	share := r.inputShare()
	if len(r.inbox) >= r.rt.cfg.InboxSize || (s.queued >= share && !r.spareFor(s, share)) {
		r.stats.inboxDrops.Add(1)
		r.gs.inboxDrops.Add(1)
		r.noteDrop(seat, seq, dropInbox)
		return ErrInboxFull
	}
	if s.queued < share {
		s.queued++
	}
	s.tokens--
	r.inbox = append(r.inbox, input{seat: seat, seq: seq, off: uint32(len(r.inboxBuf)), n: uint32(len(data))})
	r.inboxBuf = append(r.inboxBuf, data...)
	r.rouse()
	return nil
}

// inputShare is a player's share of the inbox between two ticks:
// InboxSize over MaxPlayers, at least 1. Within its share a seated
// player's input always finds room, whatever the others send (spareFor),
// in a game of at most InboxSize players.
func (r *Room) inputShare() uint16 {
	return uint16(min(max(r.rt.cfg.InboxSize/r.maxPlayers, 1), math.MaxUint16))
}

// spareFor reports whether the inbox has room for one more input of s, a
// seat past its share, beside the shares the other seated players have
// not used yet; a dropped player's seat keeps its share for the resume,
// which takes the seat at once. Without it a few players' bursts (each up
// to the game's input rate) filled the inbox and the others' inputs were
// dropped until the tick. The shares fit in the inbox while MaxPlayers is
// at most InboxSize. Called with r.mu held.
func (r *Room) spareFor(s *seatSlot, share uint16) bool {
	left := r.rt.cfg.InboxSize - len(r.inbox)
	for i := range r.seats[:min(len(r.seats), r.maxPlayers)] {
		o := &r.seats[i]
		if o != s && !o.spectator && (o.state == seatJoined || o.state == seatLeaving || o.state == seatDropped) {
			if left -= int(share - o.queued); left <= 0 {
				return false
			}
		}
	}
	return true
}

// Leave frees seat: the member is removed at the next tick. It fails with
// ErrNotSeated when the seat holds no member or is already leaving.
func (r *Room) Leave(seat uint32) error { return r.queue(cmdLeave, seat, "", nil) }

// LeaveAs frees seat like Leave, but only while it belongs to userID and,
// when c is not nil, to connection c or to no connection (a dropped seat):
// a leave that a resume on another connection overtook is ignored, so an
// old connection's leave never takes the seat from the new one. It fails
// with ErrNotSeated when the seat is not userID's.
func (r *Room) LeaveAs(seat uint32, userID string, c Client) error {
	return r.queue(cmdLeave, seat, userID, c)
}

// Drop reports that c, the connection of the member in seat, was lost: the
// seat is held for the configured grace window, during which a Join with
// the same UserID resumes it; then the member leaves. A drop of a
// connection that a resume has already replaced is refused with
// ErrNotSeated, so a late drop of an old connection never cuts off the new
// one, not even its inputs until the next tick.
func (r *Room) Drop(seat uint32, c Client) error { return r.queue(cmdDrop, seat, "", c) }

func (r *Room) queue(kind cmdKind, seat uint32, userID string, c Client) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seat == 0 || int(seat) > len(r.seats) {
		return ErrNotSeated
	}
	s := &r.seats[seat-1]
	if userID != "" && s.userID != userID {
		return ErrNotSeated
	}
	switch {
	case kind == cmdLeave && c != nil && s.client != c && s.state == seatJoined:
		// A resume moved the seat to another connection already: the
		// leave is ignored, as the tick would ignore it, and the seat is
		// not marked leaving meanwhile, which would refuse the new
		// connection's drop and keep the seat for it for ever.
		return nil
	case kind == cmdLeave && (s.state == seatJoined || s.state == seatDropped || s.state == seatReserved):
		s.state = seatLeaving
	case kind == cmdDrop && c != nil && s.client != c:
		// A resume moved the seat to another connection: the drop of the
		// old one must not stop the new one's input until the tick.
		return ErrNotSeated
	case kind == cmdDrop && s.state == seatJoined:
		s.state = seatDropped
		s.heldUntil = 0
	default:
		return ErrNotSeated
	}
	r.ctl = append(r.ctl, command{kind: kind, seat: seat, client: c})
	r.rouse()
	return nil
}

// Lock stops new joins (resumes are still accepted).
func (r *Room) Lock() { r.setLocked(true) }

// Unlock accepts new joins again.
func (r *Room) Unlock() { r.setLocked(false) }

func (r *Room) setLocked(v bool) {
	r.mu.Lock()
	r.locked = v
	r.mu.Unlock()
}

// Close ends the room at its next tick: a running match ends with reason
// "closed", members are removed and the room is disposed. reason is logged.
func (r *Room) Close(reason string) {
	r.mu.Lock()
	if !r.closeReq {
		r.closeReq = true
		r.closeMsg = reason
	}
	r.rouse()
	r.mu.Unlock()
	r.sh.poke()
}

// RoomInfo describes a room for a lobby listing.
type RoomInfo struct {
	// ID and Game identify the room and its game.
	ID   string
	Game string
	// Phase is the room's phase.
	Phase Phase
	// Players and Spectators count held seats, reserved and dropped ones
	// included; MaxPlayers and MaxSpectators are the room's limits.
	Players       int
	Spectators    int
	MaxPlayers    int
	MaxSpectators int
	// Observers counts seatless observers (Observe), queued ones included.
	Observers int
	// Locked rooms take no new joins; Private rooms are not listed by
	// default; HasPassword rooms need one to join.
	Locked      bool
	Private     bool
	HasPassword bool
	// SeatsClosed rooms take no new players, spectators only: their game
	// called Context.CloseSeats.
	SeatsClosed bool
	// TickRate is in Hz; Tick is the last tick run (while the room sleeps,
	// the last it would have run: see Sleeper).
	TickRate int
	Tick     uint64
	// Metadata is the room's lobby data (a copy).
	Metadata map[string]string
	// PlayerNames are the display names of the first ListedNames seated
	// players (joining, joined or dropped: those Players counts), in seat
	// order, for a lobby to show.
	PlayerNames []string
}

// Seated returns how many seats of the room are taken: joined, dropped and
// held for a resume, or queued to join. Zero once its last seat was
// released, and once it closed. Safe from any goroutine.
func (r *Room) Seated() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.players + r.specs
}

// ListedNames is how many player names a RoomInfo carries at most.
const ListedNames = 8

// Info returns the room's listing entry; Metadata is a copy.
func (r *Room) Info() RoomInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for i := range r.seats[:r.maxPlayers] {
		// A reserved seat counts in Players already (its join is queued
		// for the next tick), so its name is listed with it: a listing
		// never shows a player count without the names behind it.
		if s := &r.seats[i]; s.state != seatFree && len(names) < ListedNames {
			names = append(names, s.name)
		}
	}
	return RoomInfo{
		ID: r.id, Game: r.def.Name, Phase: r.Phase(),
		Players: r.players, Spectators: r.specs, Observers: r.observers,
		MaxPlayers: r.maxPlayers, MaxSpectators: r.maxSpectators,
		Locked: r.locked, SeatsClosed: r.closed, Private: r.private, HasPassword: r.password != "",
		TickRate: r.tickRate, Tick: r.tickNow(), Metadata: maps.Clone(r.metadata),
		PlayerNames: names,
	}
}

// joinable reports what RoomFilter.Joinable keeps: the room is not
// finished, not locked, its game did not close its seats and it has a
// free player seat.
func (r *Room) joinable() bool { return r.OpenSeats() > 0 }

// OpenSeats returns how many player seats of the room a new player may
// take now: its free player seats when RoomFilter.Joinable would keep it,
// else 0. It copies nothing, so a quick-match can look at every room of
// its pool with it and copy only those it will try (Info). Safe from any
// goroutine.
func (r *Room) OpenSeats() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locked || r.closed || r.Phase() >= PhaseFinished {
		return 0
	}
	return max(r.maxPlayers-r.players, 0)
}

// tickNow is the number of the room's newest tick; while it sleeps, the
// number of the newest tick it would have run, as its next tick will be
// numbered. Called with r.mu held.
func (r *Room) tickNow() uint64 {
	tick := r.tick.Load()
	if r.asleep {
		if d := r.rt.nowNanos() - r.sleptAt; d >= 0 {
			tick += uint64(time.Duration(d)/r.period) + 1
		}
	}
	return tick
}

// ListingSum returns a checksum of what a listing shows of the room
// (RoomInfo, but its Tick and the metadata, fixed at creation): the phase,
// the seat counts, Locked, SeatsClosed and the user ids of the seated players (joined
// or dropped, by seat). It changes when they do, so a caller that copies
// listings elsewhere rewrites the changed ones only. It allocates nothing.
func (r *Room) ListingSum() uint64 {
	mix := func(h, v uint64) uint64 {
		h = (h ^ v) * 0x9e3779b97f4a7c15
		return h ^ h>>29
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	locked := uint64(0)
	if r.locked {
		locked = 1
	}
	h := mix(uint64(r.Phase()), uint64(r.players)<<32|uint64(r.specs)<<1|locked)
	if r.closed {
		h = mix(h, 1)
	}
	for i := range r.seats[:r.maxPlayers] {
		if s := &r.seats[i]; s.state == seatJoined || s.state == seatDropped {
			h = mix(h, uint64(i+1)^maphash.String(listingSeed, s.userID))
		}
	}
	return h
}

// listingSeed seeds the user ids' hashes in ListingSum.
var listingSeed = maphash.MakeSeed()

// Stats returns the room's tick histograms and counters. The counters
// count from the room's start; the histograms keep its ticks' shape, not
// their number: their counts halve when one reaches 2^31 (roomHistogram),
// so Histogram.Count is not the room's ticks (Counters.Ticks is) and two
// snapshots are not to be subtracted.
func (r *Room) Stats() TickStats { return r.stats.snapshot() }

// resolve checks o against d and returns the room's effective limits.
func (o RoomOptions) resolve(d Definition) (maxPlayers, maxSpecs, rate int, err error) {
	maxPlayers, maxSpecs, rate = d.MaxPlayers, d.MaxSpectators, d.TickRate
	if o.MaxPlayers != 0 {
		if o.MaxPlayers < 0 || o.MaxPlayers > d.MaxPlayers {
			return 0, 0, 0, fmt.Errorf("%w: max players %d not in 1..%d", ErrInvalidOptions, o.MaxPlayers, d.MaxPlayers)
		}
		maxPlayers = o.MaxPlayers
	}
	if o.MaxSpectators != 0 {
		if o.MaxSpectators < 0 || o.MaxSpectators > d.MaxSpectators {
			return 0, 0, 0, fmt.Errorf("%w: max spectators %d not in 0..%d", ErrInvalidOptions, o.MaxSpectators, d.MaxSpectators)
		}
		maxSpecs = o.MaxSpectators
	}
	if o.TickRate != 0 {
		if o.TickRate < MinTickRate || o.TickRate > MaxTickRate {
			return 0, 0, 0, fmt.Errorf("%w: tick rate %d not in %d..%d", ErrInvalidOptions, o.TickRate, MinTickRate, MaxTickRate)
		}
		rate = o.TickRate
	}
	return maxPlayers, maxSpecs, rate, nil
}
