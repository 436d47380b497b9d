package game

import (
	"fmt"
	"maps"
	"runtime/debug"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Saver is implemented by a game whose rooms can be saved on one node and
// restored on another, so that a node can be drained without ending the
// matches it hosts (docs/games.md, "Saving and restoring a room"). The
// runtime saves and restores the rest of the room itself: its id, options,
// seats (who holds which, and their input sequence numbers), phase and
// tick number.
type Saver interface {
	// Save writes the game's whole state. It runs on the room's tick
	// worker, between the tick's inputs and its Update, like the other
	// Game methods; the room plays no further tick here after a successful
	// Save. An error keeps the room playing where it is.
	Save(ctx *Context) ([]byte, error)
	// Restore loads what Save wrote into a game just made by the
	// Definition's New with the saved room's Setup. It runs once, on the
	// goroutine that called Runtime.RestoreRoom, before the room's first
	// tick and before any other goroutine can reach the room. ctx reports
	// the saved tick, phase and members (all dropped until they resume);
	// Restore must not send or end the match. An error refuses the
	// restore (ErrBadSave).
	Restore(ctx *Context, data []byte) error
}

// SavedRoomVersion is the SavedRoom format this runtime writes and reads.
const SavedRoomVersion = 1

// Handoff asks the room to save itself and leave this runtime at its next
// tick, so that another runtime can restore it (Runtime.RestoreRoom). From
// the call on, new joins are refused with ErrMoving (resumes still go
// through). At the tick, after the queued joins, leaves and inputs are
// applied, the game's Save runs; cb then gets the SavedRoom on the tick
// worker, every member is removed with RemovedMoved (the game hears
// nothing, no result is reported: the match goes on elsewhere) and the room
// is disposed. When Save fails, or the match ended before the tick, cb gets
// the error (ErrFinished) and the room plays on, taking joins again.
//
// Handoff fails at once with ErrNotSaver when the game does not implement
// Saver, ErrFinished when the room is finished or closing, and ErrMoving
// when a handoff is already under way. cb must be quick and must not
// block: store the SavedRoom elsewhere. Safe from any goroutine.
func (r *Room) Handoff(cb func(*tickroomv1.SavedRoom, error)) error {
	if _, ok := r.w.game.(Saver); !ok {
		return ErrNotSaver
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closeReq || r.Phase() >= PhaseFinished:
		return ErrFinished
	case r.moving:
		return ErrMoving
	}
	r.moving, r.handoff = true, cb
	r.rouse()
	return nil
}

// CanSave reports whether the room's game implements Saver. Safe from any
// goroutine.
func (r *Room) CanSave() bool {
	_, ok := r.w.game.(Saver)
	return ok
}

// runHandoff saves and retires the room; it reports whether the room is
// gone. It runs on the tick worker with the handoff's callback.
func (r *Room) runHandoff(cb func(*tickroomv1.SavedRoom, error)) bool {
	fail := func(err error) bool {
		r.mu.Lock()
		r.moving = false
		r.mu.Unlock()
		if cb != nil {
			cb(nil, err)
		}
		return false
	}
	if r.Phase() >= PhaseFinished {
		return fail(ErrFinished)
	}
	data, err := r.saveGame(fail)
	if err != nil {
		return fail(fmt.Errorf("game: save %s: %w", r.def.Name, err))
	}
	saved := r.save(data)
	if cb != nil {
		cb(saved, nil)
	}
	r.retire()
	return true
}

// saveGame runs the game's Save. When it panics, the handoff is answered
// with ErrFinished (through fail) before the panic goes on to end the room
// (Room.crashed).
func (r *Room) saveGame(fail func(error) bool) ([]byte, error) {
	defer func() {
		if v := recover(); v != nil {
			fail(ErrFinished)
			panic(v)
		}
	}()
	return r.w.game.(Saver).Save(&r.w.ctx)
}

// save builds the SavedRoom of the room as it is now.
func (r *Room) save(data []byte) *tickroomv1.SavedRoom {
	w := &r.w
	r.mu.Lock()
	locked, closed := r.locked, r.closed
	r.mu.Unlock()
	s := &tickroomv1.SavedRoom{
		Version: SavedRoomVersion, RoomId: r.id, Game: r.def.Name,
		Options: maps.Clone(r.options), Metadata: maps.Clone(r.metadata),
		Password: r.password, Private: r.private,
		MaxPlayers: uint32(r.maxPlayers), MaxSpectators: uint32(r.maxSpectators), TickRate: uint32(r.tickRate),
		Seed: r.seed, Tick: w.tickNo, Phase: tickroomv1.RoomPhase(r.Phase()), Locked: locked,
		SeatsClosed: closed, GameState: data, SavedAtMs: w.now.UnixMilli(),
	}
	if r.Phase() == PhaseRunning {
		s.RunningMs = w.now.Sub(w.started).Milliseconds()
	}
	for _, m := range w.members {
		if m != nil {
			s.Members = append(s.Members, &tickroomv1.SavedMember{
				Seat: m.Seat, UserId: m.UserID, Name: m.Name, Spectator: m.Spectator, LastSeq: m.lastSeq,
			})
		}
	}
	return s
}

// retire removes every member with RemovedMoved and takes the room out
// of the runtime without telling the game or the members: the match goes
// on where the room is restored.
func (r *Room) retire() {
	w := &r.w
	r.phase.Store(int32(PhaseDisposed))
	for _, m := range w.members {
		if m != nil {
			w.members[m.Seat-1] = nil
			r.removed(m, m.client, RemovedMoved)
		}
	}
	// Observers are this node's spectator feeds: they do not move.
	r.removeObservers(RemovedRoomClosed)
	r.mu.Lock()
	for i := range r.seats {
		r.seats[i] = seatSlot{}
	}
	r.players, r.specs, r.observers = 0, 0, 0
	pending := r.ctl
	r.ctl, r.inbox, r.inboxBuf = nil, nil, nil
	refuseState(r.stateReqs)
	r.stateReqs = nil
	r.mu.Unlock()
	for i := range pending {
		switch c := &pending[i]; {
		case c.kind == cmdJoin || c.kind == cmdResume:
			r.callback(c.cb, JoinResult{Err: ErrFinished})
		case c.kind == cmdObserve && c.ocb != nil:
			c.ocb(ErrFinished)
		}
	}
	w.disposed = true
	r.rt.forget(r)
}

// RestoreRoom makes a live room of a SavedRoom written by Room.Handoff,
// here or on another node, with the same id, seats and tick number. Every
// saved member starts dropped: its seat is held for Config.DropGrace, and a
// Join with its UserID resumes it (NoticeResumed); a member that does not
// come back in time leaves (NoticeLeft). The game is made by its
// Definition's New and loaded by its Saver's Restore on the calling
// goroutine. It fails with ErrUnknownGame, ErrNotSaver, ErrRoomExists,
// ErrRuntimeClosed, or ErrBadSave for a save it cannot use.
func (rt *Runtime) RestoreRoom(s *tickroomv1.SavedRoom) (*Room, error) {
	if rt.closed.Load() {
		return nil, ErrRuntimeClosed
	}
	if s.Version != SavedRoomVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadSave, s.Version, SavedRoomVersion)
	}
	if s.RoomId == "" || len(s.RoomId) > 128 {
		return nil, fmt.Errorf("%w: room id of %d bytes", ErrBadSave, len(s.RoomId))
	}
	ph := Phase(s.Phase)
	if ph != PhaseWaiting && ph != PhaseRunning {
		return nil, fmt.Errorf("%w: phase %v", ErrBadSave, ph)
	}
	if _, ok := rt.cfg.Registry.Lookup(s.Game); !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownGame, s.Game)
	}
	opts := RoomOptions{
		Game: s.Game, Options: s.Options, Metadata: s.Metadata, Password: s.Password, Private: s.Private,
		MaxPlayers: int(s.MaxPlayers), MaxSpectators: int(s.MaxSpectators), TickRate: int(s.TickRate), Seed: s.Seed,
	}
	r, err := rt.build(opts, s.RoomId)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSave, err)
	}
	saver, ok := r.w.game.(Saver)
	if !ok {
		return nil, ErrNotSaver
	}
	w := &r.w
	now := rt.clock.Now()
	w.tickNo, w.now = s.Tick, now
	r.tick.Store(s.Tick)
	r.phase.Store(int32(ph))
	if ph == PhaseRunning {
		w.started = now.Add(-time.Duration(s.RunningMs) * time.Millisecond)
	}
	r.locked, r.closed = s.Locked, s.SeatsClosed
	for _, sm := range s.Members {
		i := int(sm.Seat) - 1
		spectatorSeat := i >= r.maxPlayers
		if i < 0 || i >= r.maxPlayers+r.maxSpectators || sm.Spectator != spectatorSeat || sm.UserId == "" {
			return nil, fmt.Errorf("%w: seat %d", ErrBadSave, sm.Seat)
		}
		for i >= len(r.seats) {
			r.seats = append(r.seats, seatSlot{}) // a saved spectator's seat
		}
		for i >= len(w.members) {
			w.members = append(w.members, nil)
		}
		if r.seats[i].state != seatFree {
			return nil, fmt.Errorf("%w: seat %d", ErrBadSave, sm.Seat)
		}
		p := Player{Seat: sm.Seat, UserID: sm.UserId, Name: sm.Name, Spectator: sm.Spectator}
		w.members[i] = &member{Player: p, droppedAt: rt.nanos(now), lastSeq: sm.LastSeq}
		w.noteDrop(rt.nanos(now))
		r.seats[i] = seatSlot{state: seatDropped, spectator: sm.Spectator, userID: sm.UserId, name: sm.Name, tokens: float32(r.inputRate), last: rt.nanos(now), heldUntil: rt.nanos(now.Add(r.rt.cfg.DropGrace))}
		if sm.Spectator {
			r.specs++
		} else {
			r.players++
			w.players++
		}
	}
	// Restore runs on the caller's goroutine, before the room has a
	// shard: what its Context sends reaches no one (no member is
	// connected yet), but is built in a scratch of the room's own until
	// schedule gives it the shard's.
	w.tickScratch = new(tickScratch)
	if err := r.restoreGame(saver, s.GameState); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadSave, s.Game, err)
	}
	if err := rt.schedule(r); err != nil {
		return nil, err
	}
	return r, nil
}

// restoreGame runs the game's Restore. A panic in it (a bug that a saved
// state reached) is logged with its stack and refuses this restore alone,
// as an error, rather than ending the process.
func (r *Room) restoreGame(saver Saver, data []byte) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("game panicked in Restore: room refused", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrGamePanicked, v)
		}
	}()
	return saver.Restore(&r.w.ctx, data)
}
