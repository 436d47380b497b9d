package game

import (
	"errors"
	"runtime/debug"
	"time"

	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// worker is the part of a Room only its tick worker touches.
type worker struct {
	game    Game
	viewer  Viewer
	ctx     Context
	members []*member // index seat-1
	// observers are seatless watchers (Observe): sent state and room
	// events like members, unknown to the game.
	observers []*member
	// observerView is the view of the observers of a Viewer game, built
	// once a tick for all of them (sendObserverViews); nil without one.
	observerView *track
	players      int // confirmed player (not spectator) members
	drain        []input
	drainBuf     []byte // drain's input bytes
	drainCtl     []command
	shared       *track
	// tickScratch is the room's shard's: the buffers a tick builds its
	// frames in, which hold nothing from one tick to the next, and the
	// pool of whole parts its rooms' rings share (track.pool).
	*tickScratch
	versioned Versioned // the game, when it counts its state's changes
	sleeper   Sleeper   // the game, when its room may sleep between inputs
	version   uint64    // its StateVersion when the newest state was encoded
	versionOK bool      // version is that of the newest state
	tickNo    uint64
	now       time.Time
	empty     time.Time // when the room became empty; zero while not
	// dropCheck is when a dropped member's grace window may next run out:
	// the earliest droppedAt (Runtime.nanos) of the members dropped since
	// expireDrops last looked, zero when none is dropped. Ticks before it
	// skip the walk.
	dropCheck int64
	started   time.Time // when the match started running
	due       time.Time // when the next tick is due
	// place counts the room's placements on its shard's wheel: an entry
	// of an older placement is stale (the room was woken and placed
	// again) and is dropped.
	place uint32
	// sleeping is set while the room is off its tick (Sleeper), until
	// due, its wake time, or a rouse; slept is the time of the tick it
	// would have run next, the first of those it skips.
	sleeping bool
	slept    time.Time
	disposed bool
	// ended is set when the match ended during this tick: its MATCH_ENDED
	// waits for the tick's state (sendEnded), which goes to every member
	// then, those whose connection is congested included, so that no
	// member gets the result before the state that decided it.
	ended bool
	// endedBefore is set when the match ended after the last tick, in
	// the game's Wake: its result goes after the next tick's state, and
	// carries the tick it ended in (Result.Ticks), the one before.
	endedBefore bool
	result      MatchResult
}

// tickScratch is where a tick builds what it sends: the delta, the patch,
// the recipients, the Snapshot handed to the game, and the messages of
// room events and game messages. Each room's worker code empties what it
// uses before it uses it and clears what would keep the room's data once
// done (the recipients, the Snapshot, the messages), and a shard's rooms
// run that code one at a time on its worker (or, stopped, on the
// goroutine that advances or shuts the runtime down, under advMu), so the
// shard's rooms share one: a room of ten would otherwise hold ~2.4 KB of
// buffers sized for its largest tick (BenchmarkRoomMemory). A room being
// restored (RestoreRoom) has one of its own until it is scheduled. The
// pool of whole parts (wholes) is the exception: it holds state between
// ticks, a part for each size of state the shard's rooms have, which a
// room's tick takes and gives back.
type tickScratch struct {
	// leaving is the player member whose NoticeLeft the room's game is
	// being told, while it is: a match that ends then (a forfeit)
	// reports the leaver among its players (report).
	leaving *Player
	// began is when the running tick began, a frame.Stamp, on a runtime
	// that reads the system clock (0 otherwise, and between ticks):
	// deliver stamps the tick's frames with it (frame.SetMade).
	began  int64
	d      delta
	patch  patcher
	recips []Client
	sw     Snapshot
	ev     tickroomv1.RoomEvent
	gm     tickroomv1.GameMessage
	// drops are the drop notes the tick took from its room (takeDrops),
	// and dropped the message it sends each in (sendDrops).
	drops   []dropNote
	dropped tickroomv1.InputDropped
	// wholes is the pool of whole parts the shard's rooms' rings share
	// (track.pool).
	wholes wholePool
}

// step runs one tick of the room at now.
func (r *Room) step(now time.Time) {
	w := &r.w
	if w.disposed {
		return
	}
	w.tickNo++
	w.now = now
	r.tick.Store(w.tickNo)
	r.stats.ticks.Add(1)
	r.gs.ticks.Add(1)

	r.mu.Lock()
	if len(r.inbox) > 0 {
		for i := range r.seats {
			r.seats[i].queued = 0
		}
	}
	w.drain, r.inbox = r.inbox, w.drain[:0]
	w.drainBuf, r.inboxBuf = r.inboxBuf, w.drainBuf[:0]
	w.drainCtl, r.ctl = r.ctl, w.drainCtl[:0]
	r.takeDrops()
	closing, why := r.closeReq, r.closeMsg
	stateReqs := r.stateReqs
	r.stateReqs = nil
	handoff := r.handoff
	r.handoff = nil
	r.mu.Unlock()
	// What this tick took is answered even when the game panics below
	// (Room.crashed): each is set to nil as it is passed on.
	if handoff != nil || len(stateReqs) > 0 {
		defer answerTaken(&handoff, &stateReqs)
	}

	for i := range w.drainCtl {
		r.applyCommand(&w.drainCtl[i])
		w.drainCtl[i] = command{}
	}
	// Membership changes come in bursts (a room filling) and then stop: a
	// command is ~200 bytes, so the buffers the burst grew are let go
	// rather than kept for the room's life, two per room.
	if cap(w.drainCtl) > 2 {
		w.drainCtl = nil
	} else {
		w.drainCtl = w.drainCtl[:0]
	}
	for i := range w.drain {
		r.applyInput(&w.drain[i])
	}
	// Inputs come at the seats' rate, a few a tick, but a tick that ran
	// late (a busy machine) drains a backlog many times that, and the
	// input buffers (the entries and their bytes) would keep that size
	// for the room's life: ~0.5 KB a player under load.
	// One much larger than this tick needed is let go; the next ticks grow
	// one to the usual size again.
	if n := len(w.drain); cap(w.drain) > 2*n+16 {
		w.drain = nil
	}
	if n := len(w.drainBuf); cap(w.drainBuf) > 2*n+256 {
		w.drainBuf = nil
	}
	if len(w.drops) > 0 {
		// Before the tick's State, whose acks pass over them.
		r.sendDrops()
	}
	r.expireDrops()
	if closing {
		r.log.Info("room closed", "reason", why)
		if w.ended {
			// The game ended the match on this tick's inputs: its
			// members get the state that decided it, then the result.
			r.sync()
		}
		r.end(MatchResult{Reason: "closed"})
		r.dispose()
		refuseState(stateReqs)
		stateReqs = nil
		if h := handoff; h != nil {
			handoff = nil
			h(nil, ErrFinished)
		}
		return
	}
	if h := handoff; h != nil {
		handoff = nil // runHandoff answers it, even when Save panics
		if r.runHandoff(h) {
			refuseState(stateReqs)
			stateReqs = nil
			return
		}
	}
	if r.Phase() == PhaseWaiting && w.players >= r.def.MinPlayers {
		r.setPhase(PhaseRunning)
	}
	if r.Phase() == PhaseRunning {
		w.game.Update(&w.ctx, r.period)
	}
	if len(stateReqs) > 0 {
		r.answerState(stateReqs)
		stateReqs = nil
	}
	if r.isEmpty() {
		if w.empty.IsZero() {
			w.empty = now
		} else if now.Sub(w.empty) >= r.rt.cfg.EmptyTimeout {
			r.dispose()
			return
		}
	} else {
		w.empty = time.Time{}
	}
	r.sync()
	r.sendEnded()
}

// sendEnded sends the MATCH_ENDED event of a match that ended during this
// tick, once: after the tick's state (step) or before the room's members
// are removed (dispose).
func (r *Room) sendEnded() {
	w := &r.w
	if !w.ended {
		return
	}
	res := w.result
	r.event(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED, nil, &res)
	w.ended, w.endedBefore = false, false
}

func (r *Room) isEmpty() bool {
	for _, m := range r.w.members {
		if m != nil {
			return false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.players+r.specs == 0
}

// seqAfter reports whether input seq comes after last, the seat's last
// numbered input (0: none yet, which any seq comes after). Numbering wraps
// from 2^32-1 to 1, so seq comes after last when it is 1 to 2^31-1 ahead
// of it, as serial numbers compare (RFC 1982): a seat whose numbering
// reached 2^32-1 takes inputs again.
func seqAfter(seq, last uint32) bool {
	return last == 0 || int32(seq-last) > 0
}

func (r *Room) applyInput(in *input) {
	w := &r.w
	m := w.member(in.seat)
	if m == nil || m.Spectator || (in.seq != 0 && !seqAfter(in.seq, m.lastSeq)) {
		return
	}
	if in.seq != 0 {
		m.lastSeq = in.seq
	}
	if err := w.game.Input(&w.ctx, in.seat, w.drainBuf[in.off:in.off+in.n:in.off+in.n]); err != nil {
		msg := Message{Text: err.Error()}
		if ie := (*InputError)(nil); errors.As(err, &ie) {
			msg = Message{Code: ie.Code, Text: ie.Text, Data: ie.Data}
		}
		if m.client != nil {
			w.recips = append(w.recips[:0], m.client)
			r.sendMessage(msg)
		}
	}
}

// sync builds this tick's snapshot and sends every connected member what it
// needs: one delta for the members that have the previous tick, one
// keyframe for those with nothing usable, and a delta per older base for
// members that skipped ticks (rare). Then it settles the ring (the state
// before the newest a back record, its whole part back to the shard's
// pool: track.settle).
func (r *Room) sync() {
	r.syncState()
	if !r.w.disposed { // closed for a state over the limit (oversized)
		r.w.shared.settle()
	}
}

// syncState is sync without the ring's settle.
func (r *Room) syncState() {
	w := &r.w
	any := len(w.observers) > 0
	for _, m := range w.members {
		if m != nil && m.client != nil {
			any = true
			break
		}
	}
	if !any {
		return
	}
	var version uint64
	if w.versioned != nil {
		version = w.versioned.StateVersion()
	}
	cur := r.unmoved(version)
	if cur == nil {
		cur = w.shared.next(w.tickNo)
		sw := &w.sw // reused: a Snapshot passed to an interface method escapes
		*sw = Snapshot{s: cur}
		w.game.Encode(sw)
		if sw.err != nil {
			r.encodeFailed("encode state", sw.err)
		}
		*sw = Snapshot{}
		cur.seal()
		if n := cur.wireSize(); w.viewer == nil && n > r.rt.cfg.MaxStateBytes {
			r.oversized(n, 0)
			return
		}
		for _, m := range w.members {
			if m != nil && !m.Spectator && m.lastSeq != 0 {
				cur.acks = append(cur.acks, ack{m.Seat, m.lastSeq})
			}
		}
		w.version, w.versionOK = version, w.versioned != nil

		// A state equal to the previous one is not kept: the ring holds
		// only distinct states, each labelled with the tick that produced
		// it, so a client that has it is current and an idle room sends
		// nothing.
		if prev := w.shared.prev(); prev != nil && prev.equal(cur) {
			w.shared.undo()
			cur = prev
		}
	}
	tick := cur.tick
	// Congestion is read once per member and tick, so the grouping below
	// sees a stable set. Skipped members keep their lastSent and catch up
	// with a delta from it (or a keyframe) when they drain.
	lists := [2][]*member{w.members, w.observers}
	for li, list := range lists {
		for _, m := range list {
			if m == nil || m.client == nil {
				continue
			}
			if w.viewer == nil && m.lastSent == tick && !m.wantBase {
				// Current already: nothing to send it this tick, so its
				// connection is not looked at (an idle room's ticks read
				// no session).
				m.skip = false
				continue
			}
			// The state of the tick that ended the match goes to a
			// congested member too, before the result (sendEnded): the
			// result would otherwise reach it first. Once in a room's
			// life, one frame more behind its HighWater.
			m.skip = !w.ended && m.client.Congested()
			if m.skip {
				r.stats.stateSkipped.Add(1)
				r.gs.stateSkipped.Add(1)
				continue
			}
			// Observers share one view, sent below.
			if w.viewer != nil && li == 0 && !r.sendView(m, cur) {
				return // the view was over the limit: the room is closed
			}
		}
	}
	if w.viewer != nil {
		r.sendObserverViews(cur)
		return
	}
	r.sendBases()
	for {
		// Pick the newest base of the members not yet served this tick
		// and serve everyone with that base in one frame. Bases are told
		// apart by tick (0: gone from the ring, a keyframe, served last):
		// an old one is rebuilt once for its group, and newest first each
		// rebuild goes on from the last (track.rebuild).
		// A base is looked up in the ring once for a run of members that
		// last got the same tick, as nearly all have: the one before.
		var lastSent, lastHeld uint64
		looked := false
		held := func(sent uint64) uint64 {
			if !looked || sent != lastSent {
				lastSent, lastHeld, looked = sent, w.shared.held(sent), true
			}
			return lastHeld
		}
		var baseTick uint64
		found := false
		for _, list := range lists {
			for _, m := range list {
				if m.due(tick) {
					if b := held(m.lastSent); !found || b > baseTick {
						baseTick = b
					}
					found = true
				}
			}
		}
		if !found {
			return
		}
		w.recips = w.recips[:0]
		more := false // members left with another base, for another frame
		for _, list := range lists {
			for _, m := range list {
				if !m.due(tick) {
					continue
				}
				if held(m.lastSent) == baseTick {
					w.recips = append(w.recips, m.client)
					m.lastSent = tick
				} else {
					more = true
				}
			}
		}
		base := w.shared.at(baseTick)
		if base == nil {
			w.d.keyframe(cur)
			r.deliver(encodeState(r.id, r.ref, nil, cur, &w.d, &w.patch), false)
		} else {
			w.d.diff(base, cur)
			if base == w.shared.prev() {
				w.shared.record(&w.d)
			}
			r.deliver(encodeState(r.id, r.ref, base, cur, &w.d, &w.patch), false)
		}
		if !more {
			return
		}
	}
}

// unmoved returns the newest state when this tick's would be equal to it
// without encoding it: version, the game's StateVersion now, is the one
// that state was encoded at, and every member's acknowledged input is the
// one it carries. Otherwise it returns nil.
func (r *Room) unmoved(version uint64) *snap {
	w := &r.w
	if w.versioned == nil || !w.versionOK || version != w.version {
		return nil
	}
	cur := w.shared.cur()
	if !cur.valid || cur.back {
		return nil
	}
	i := 0
	for _, m := range w.members {
		if m != nil && !m.Spectator && m.lastSeq != 0 {
			if i == len(cur.acks) || cur.acks[i] != (ack{m.Seat, m.lastSeq}) {
				return nil
			}
			i++
		}
	}
	if i != len(cur.acks) {
		return nil
	}
	return cur
}

// encodeFailed logs a game's failed Encode or View (what, and args such
// as the view's seat) at most once every logspace.Every for the game (see
// gameLogs): it fails again at every tick of every room of the game,
// which at 120 Hz was 120 lines a second a room. The entities that
// encoded are sent.
func (r *Room) encodeFailed(what string, err error, args ...any) {
	ok, skipped := r.rt.logsOf(r.def.Name).encode.Allow(time.Now())
	if !ok {
		return
	}
	args = append(args, "err", err, "left_out", skipped)
	r.log.Error(what+" (logged at most once every 10 s)", args...)
}

// sendView builds and sends m's own view. It reports false when the view
// was over Config.MaxStateBytes, which closed the room (oversized).
func (r *Room) sendView(m *member, shared *snap) bool {
	w := &r.w
	if m.view == nil {
		m.view = newTrack(2)
	}
	base := m.view.at(m.lastSent)
	if base != nil && base != m.view.cur() {
		// The view before the last (a resume whose last view was lost with
		// its connection): next reuses its slot, so the delta is built
		// from a copy. Rare, and a view, so a copy rather than a third
		// view kept for every member.
		base = base.clone()
	}
	vs := m.view.next(w.tickNo)
	vs.globals = append(vs.globals, shared.globals...)
	sw := &w.sw
	*sw = Snapshot{s: vs, shared: shared}
	w.viewer.View(&w.ctx, m.Player, sw)
	if sw.err != nil {
		r.encodeFailed("encode view", sw.err, "seat", m.Seat)
	}
	*sw = Snapshot{}
	vs.seal()
	if n := vs.wireSize(); n > r.rt.cfg.MaxStateBytes {
		r.oversized(n, m.Seat)
		return false
	}
	vs.acks = append(vs.acks, shared.acks...)
	w.recips = append(w.recips[:0], m.client)
	switch {
	case base == nil:
		w.d.keyframe(vs)
		r.deliver(encodeState(r.id, r.ref, nil, vs, &w.d, &w.patch), false)
	case w.d.diff(base, vs):
		r.deliver(encodeState(r.id, r.ref, base, vs, &w.d, &w.patch), false)
	default:
		m.view.undo() // unchanged: the client's base is still current
		return true
	}
	m.lastSent = w.tickNo
	return true
}

// observerPlayer is how a game sees every observer (Viewer.View).
var observerPlayer = Player{Spectator: true, Name: "observer"}

// sendObserverViews builds the observers' view of a Viewer game, once for
// all of them since they are all the same Player (observerPlayer), and
// sends it to those due: a delta to those that have the view before, in
// one frame, a keyframe to the others, in another. It reports false when
// the view was over Config.MaxStateBytes, which closed the room.
func (r *Room) sendObserverViews(shared *snap) bool {
	w := &r.w
	due := false
	for _, m := range w.observers {
		if m.client != nil && !m.skip && m.lastSent != w.tickNo {
			due = true
			break
		}
	}
	if !due {
		return true
	}
	if w.observerView == nil {
		w.observerView = newTrack(2)
	}
	t := w.observerView
	vs := t.next(w.tickNo)
	vs.globals = append(vs.globals, shared.globals...)
	sw := &w.sw
	*sw = Snapshot{s: vs, shared: shared}
	w.viewer.View(&w.ctx, observerPlayer, sw)
	if sw.err != nil {
		r.encodeFailed("encode view", sw.err, "seat", 0)
	}
	*sw = Snapshot{}
	vs.seal()
	if n := vs.wireSize(); n > r.rt.cfg.MaxStateBytes {
		r.oversized(n, 0)
		return false
	}
	vs.acks = append(vs.acks, shared.acks...)
	cur, base := vs, t.prev()
	if base != nil && base.equal(vs) {
		t.undo() // unchanged: those that have it are current
		cur, base = base, nil
	}
	tick := cur.tick
	if base != nil {
		w.recips = w.recips[:0]
		for _, m := range w.observers {
			if m.due(tick) && m.lastSent == base.tick {
				w.recips = append(w.recips, m.client)
				m.lastSent = tick
			}
		}
		if len(w.recips) > 0 {
			w.d.diff(base, cur)
			r.deliver(encodeState(r.id, r.ref, base, cur, &w.d, &w.patch), false)
		}
	}
	w.recips = w.recips[:0]
	for _, m := range w.observers {
		if m.due(tick) {
			w.recips = append(w.recips, m.client)
			m.lastSent = tick
		}
	}
	if len(w.recips) > 0 {
		w.d.keyframe(cur)
		r.deliver(encodeState(r.id, r.ref, nil, cur, &w.d, &w.patch), false)
	}
	return true
}

// oversized closes the room whose game wrote a state of n bytes, over
// Config.MaxStateBytes: the shared state, or the view of the member in
// seat (a Viewer's; 0 for an observer's or the shared state). Such a
// state would close every client it went to as too slow (the transport's
// hard cap) or swell the room's memory tick by tick, so it is sent to no
// one: the room ends as when its game panics (crashed), logged with its
// game's name, a running match with Reason "error", its members removed.
func (r *Room) oversized(n int, seat uint32) {
	r.log.Error("game wrote a state over the limit: room closed", "bytes", n, "limit", r.rt.cfg.MaxStateBytes, "view_seat", seat)
	r.gs.crashes.Add(1)
	r.end(MatchResult{Reason: "error"})
	r.dispose()
}

// deliver hands f to the transport for w.recips and drops the runtime's
// reference.
func (r *Room) deliver(f *frame.Frame, reliable bool) {
	r.stats.framesEncoded.Add(1)
	r.gs.framesEncoded.Add(1)
	if t := r.rt.cfg.Transport; t != nil && len(r.w.recips) > 0 {
		f.SetMade(r.w.began)
		t.Deliver(f, r.w.recips, reliable)
	}
	clear(r.w.recips) // the shard's scratch holds no room's clients past its tick
	f.Release()
}

// dispose removes every member and takes the room out of the runtime.
func (r *Room) dispose() {
	w := &r.w
	if w.disposed {
		return
	}
	r.sendEnded() // the state of the tick is not sent
	r.phase.Store(int32(PhaseDisposed))
	r.event(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PHASE_CHANGED, nil, nil)
	for _, m := range w.members {
		if m != nil {
			r.removeMember(m, RemovedRoomClosed, false)
		}
	}
	r.removeObservers(RemovedRoomClosed)
	r.mu.Lock()
	for i := range r.seats {
		r.seats[i] = seatSlot{}
	}
	r.players, r.specs, r.observers = 0, 0, 0
	pending := r.ctl
	r.ctl = nil
	r.inbox, r.inboxBuf = nil, nil
	r.drops = nil
	refuseState(r.stateReqs)
	r.stateReqs = nil
	handoff := r.handoff
	r.handoff = nil
	r.mu.Unlock()
	if handoff != nil {
		handoff(nil, ErrFinished)
	}
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

// maxSleep bounds a sleep with no wake tick: the room runs one (empty)
// tick that often.
const maxSleep = time.Minute

// trySleep takes the room off its tick after a tick, when its game sleeps
// (Sleeper) and nothing else needs the tick: the room runs, has a member,
// has no Viewer, every connected member has the newest state, and nothing
// is queued for it. It then waits until its wake time (the game's Wake
// tick, a dropped member's grace running out, or maxSleep) or a rouse.
// Called by the worker after the room's ticks, with w.due the next one.
func (r *Room) trySleep() {
	defer r.recoverGame() // Wake is the game's
	w := &r.w
	if w.viewer != nil || r.Phase() != PhaseRunning || !w.empty.IsZero() {
		return
	}
	next := w.tickNo + 1 // the tick due at w.due
	wake := w.sleeper.Wake()
	if w.ended {
		// Wake ended the match: its result is sent after the next
		// tick's state, with this tick's number.
		w.endedBefore = true
		return
	}
	if wake <= next {
		return
	}
	tick := w.shared.cur().tick
	for _, list := range [2][]*member{w.members, w.observers} {
		for _, m := range list {
			if m != nil && m.client != nil && (m.lastSent != tick || m.wantBase || m.skip) {
				return
			}
		}
	}
	at := w.due.Add(maxSleep / r.period * r.period) // a tick of its phase
	if ticks := wake - next; ticks < uint64(maxSleep/r.period) {
		at = w.due.Add(time.Duration(ticks) * r.period)
	}
	if w.dropCheck != 0 {
		// The first tick at or after the earliest grace window's end.
		end := r.rt.timeAt(w.dropCheck).Add(r.rt.cfg.DropGrace)
		if !end.After(w.due) {
			return
		}
		if t := w.due.Add((end.Sub(w.due) + r.period - 1) / r.period * r.period); t.Before(at) {
			at = t
		}
	}
	r.mu.Lock()
	if len(r.inbox) > 0 || len(r.ctl) > 0 || r.drops != nil || r.closeReq || len(r.stateReqs) > 0 || r.handoff != nil {
		r.mu.Unlock()
		return
	}
	r.asleep, r.sleptAt = true, r.rt.nanos(w.due)
	r.mu.Unlock()
	w.sleeping, w.slept, w.due = true, w.due, at
	r.stats.sleeps.Add(1)
	r.gs.sleeps.Add(1)
}

// unsleep puts a sleeping room back on its tick, the next one due at at (a
// time of its phase): the ticks it slept through are counted as run, so
// that one has the number it would have had.
func (r *Room) unsleep(at time.Time) {
	w := &r.w
	w.tickNo += uint64(at.Sub(w.slept) / r.period)
	r.mu.Lock()
	r.tick.Store(w.tickNo) // the last tick it would have run
	r.asleep = false
	r.mu.Unlock()
	w.due, w.sleeping = at, false
}

// nextTick returns the time of the first tick of a sleeping room at or
// after now, and no later than its wake time.
func (r *Room) nextTick(now time.Time) time.Time {
	w := &r.w
	if !now.After(w.slept) {
		return w.slept
	}
	t := w.slept.Add((now.Sub(w.slept) + r.period - 1) / r.period * r.period)
	if t.After(w.due) {
		return w.due
	}
	return t
}

// answerTaken, deferred by a tick that took a handoff or state requests,
// answers those still held when the tick ends early: its game panicked
// (Room.crashed disposes the room, which refuses what is still queued,
// but not what the tick had already taken).
func answerTaken(handoff *func(*tickroomv1.SavedRoom, error), reqs *[]chan RoomState) {
	if h := *handoff; h != nil {
		h(nil, ErrFinished)
	}
	refuseState(*reqs)
}

// recoverGame, deferred around the code of a tick (which calls the
// game's methods), turns a panic into the end of the room alone
// (crashed) rather than of the process and every room in it.
func (r *Room) recoverGame() {
	if v := recover(); v != nil {
		r.crashed(v)
	}
}

// crashed ends the room whose tick panicked with v: a bug of its game
// that a client's input, a join or an Update reached. The panic is logged
// with its stack, the tick's membership changes not yet answered are
// refused (ErrFinished), a running match ends with reason "error" and the
// room is disposed, as Close does. The shard's other rooms tick on.
func (r *Room) crashed(v any) {
	r.log.Error("game panicked: room closed", "panic", v, "stack", string(debug.Stack()))
	w := &r.w
	for i := range w.drainCtl {
		c := &w.drainCtl[i]
		switch {
		case (c.kind == cmdJoin || c.kind == cmdResume) && c.cb != nil:
			r.callback(c.cb, JoinResult{Err: ErrFinished})
		case c.kind == cmdObserve && c.ocb != nil:
			c.ocb(ErrFinished)
		}
		*c = command{}
	}
	w.drainCtl = w.drainCtl[:0]
	if w.disposed {
		return
	}
	r.gs.crashes.Add(1)
	r.end(MatchResult{Reason: "error"})
	r.dispose()
}
