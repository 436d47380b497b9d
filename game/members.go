package game

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// member is a confirmed room member; touched only by the tick worker.
type member struct {
	Player
	client    Client // nil while dropped
	droppedAt int64  // Runtime.nanos
	lastSent  uint64 // last tick whose state the client has; 0 = none
	view      *track // per-member view ring, for Viewer games
	// lastSeq and the flags share a word: a member is 96 B.
	lastSeq  uint32 // last input sequence number processed
	skip     bool   // congested this tick
	wantBase bool   // an observer that asked for its resume base (ObserveRequest.ResumeBase)
}

// due reports whether m is connected, not congested, and not yet sent the
// state of tick.
func (m *member) due(tick uint64) bool {
	return m != nil && m.client != nil && !m.skip && m.lastSent != tick
}

func (w *worker) member(seat uint32) *member {
	if seat == 0 || int(seat) > len(w.members) {
		return nil
	}
	return w.members[seat-1]
}

// applyCommand runs one queued membership change on the tick worker.
func (r *Room) applyCommand(c *command) {
	w := &r.w
	switch c.kind {
	case cmdObserve, cmdUnobserve:
		r.applyObserve(c)
	case cmdJoin:
		r.confirmJoin(c)
	case cmdResume:
		m := w.member(c.seat)
		if m == nil {
			r.callback(c.cb, JoinResult{Err: ErrNotSeated})
			return
		}
		old := m.client
		m.client = c.req.Client
		m.lastSent = c.req.ResumeTick
		if m.lastSent >= w.tickNo {
			m.lastSent = 0 // a tick the room has not sent yet: start over
		}
		if c.req.Name != "" {
			m.Name = c.req.Name
		}
		if old != nil && old != c.req.Client {
			r.removed(m, old, RemovedReplaced)
		}
		r.callback(c.cb, JoinResult{Seat: c.seat, Resumed: true, Spectator: m.Spectator, LastSeq: r.queuedSeq(m)})
		c.cb = nil // answered: a panic of the game's from here on (Room.crashed) does not answer it again
		w.game.Notice(&w.ctx, NoticeResumed, m.Player)
		r.event(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_RESUMED, &m.Player, nil)
	case cmdDrop:
		m := w.member(c.seat)
		if m == nil {
			return
		}
		if m.client != c.client {
			// The connection was already replaced by a resume: keep the seat.
			r.mu.Lock()
			if s := &r.seats[c.seat-1]; s.state == seatDropped {
				s.state = seatJoined
			}
			r.mu.Unlock()
			return // the resume already reported the old client as replaced
		}
		m.client = nil
		m.droppedAt = r.rt.nanos(w.now)
		w.noteDrop(m.droppedAt)
		held := w.now.Add(r.rt.cfg.DropGrace)
		r.mu.Lock()
		if s := &r.seats[c.seat-1]; s.state == seatDropped {
			s.heldUntil = r.rt.nanos(held) // for the rosters of those who join or resume meanwhile
		}
		r.mu.Unlock()
		w.game.Notice(&w.ctx, NoticeDropped, m.Player)
		// The others learn until when the seat is held, to show a countdown.
		r.eventHeld(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED, &m.Player, nil, held.UnixMilli())
	case cmdLeave:
		if m := w.member(c.seat); m != nil && c.client != nil && m.client != nil && m.client != c.client {
			// A resume moved the seat to another connection after this
			// leave was queued: the seat stays with it.
			r.mu.Lock()
			if s := &r.seats[c.seat-1]; s.state == seatLeaving {
				s.state = seatJoined
			}
			r.mu.Unlock()
			return
		}
		if m := w.member(c.seat); m != nil {
			r.removeMember(m, RemovedLeft, true)
		} else {
			r.freeSeat(c.seat)
		}
	}
}

// queuedSeq returns the last input sequence number of m's seat once the
// inputs this tick took (w.drain) are applied, as applyInput will apply
// them after the tick's membership changes. A resume is answered with it
// (JoinResult.LastSeq) rather than with the seat's last so far: inputs of
// the lost connection queued with the drop and the resume raise the seat's
// last after the answer, and a client numbering above the answer would
// have its next inputs dropped as resends of them. Answering the resume
// after the inputs instead would send the new connection its Joined after
// the room event of its resume and the game messages of those inputs. It
// walks the tick's inputs once, on a resume only, and allocates nothing.
func (r *Room) queuedSeq(m *member) uint32 {
	last := m.lastSeq
	if m.Spectator {
		return last // a spectator seat's inputs are not applied
	}
	for i := range r.w.drain {
		if in := &r.w.drain[i]; in.seat == m.Seat && in.seq != 0 && seqAfter(in.seq, last) {
			last = in.seq
		}
	}
	return last
}

func (r *Room) confirmJoin(c *command) {
	w := &r.w
	p := Player{Seat: c.seat, UserID: c.req.UserID, Name: c.req.Name, Spectator: c.req.Spectator}
	var err error
	if r.Phase() >= PhaseFinished {
		err = ErrFinished
	} else {
		err = w.game.Accept(&w.ctx, p)
	}
	if err != nil {
		r.freeSeat(c.seat)
		var re *RefusedError
		if !errors.As(err, &re) && !errors.Is(err, ErrFinished) {
			err = &RefusedError{Reason: err.Error()}
		}
		r.callback(c.cb, JoinResult{Err: err})
		return
	}
	m := &member{Player: p, client: c.req.Client, lastSent: c.req.ResumeTick}
	if m.lastSent >= w.tickNo {
		m.lastSent = 0 // a tick the room has not sent yet: start over
	}
	for int(c.seat) > len(w.members) {
		w.members = append(w.members, nil) // a spectator seat Join added
	}
	w.members[c.seat-1] = m
	if !p.Spectator {
		w.players++
	}
	r.mu.Lock()
	if s := &r.seats[c.seat-1]; s.state == seatReserved {
		s.state = seatJoined
	}
	r.mu.Unlock()
	r.callback(c.cb, JoinResult{Seat: c.seat, Spectator: p.Spectator})
	c.cb = nil // answered (see cmdResume)
	w.game.Notice(&w.ctx, NoticeJoined, p)
	r.event(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_JOINED, &p, nil)
}

func (r *Room) callback(cb func(JoinResult), res JoinResult) {
	if cb != nil {
		cb(res)
	}
}

// removeMember frees m's seat; notify tells the game and the other members.
func (r *Room) removeMember(m *member, reason RemoveReason, notify bool) {
	w := &r.w
	if w.ended && m.client != nil {
		// The match ended earlier in this tick (a forfeit, say): its
		// result waits for the tick's state (sendEnded), which m no
		// longer gets. It gets the result before its removal.
		w.recips = append(w.recips[:0], m.client)
		res := w.result
		r.sendEvent(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED, nil, &res, 0)
	}
	w.members[m.Seat-1] = nil
	if !m.Spectator {
		w.players--
	}
	r.freeSeat(m.Seat)
	if notify {
		r.noticeLeft(m)
		r.event(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_LEFT, &m.Player, nil)
	}
	r.removed(m, m.client, reason)
}

// noticeLeft tells the game that m left. A match the game ends meanwhile
// (a forfeit) reports m among its players; the mark is cleared even when
// the game panics, since the shard's other rooms share it.
func (r *Room) noticeLeft(m *member) {
	w := &r.w
	if !m.Spectator {
		w.leaving = &m.Player
		defer func() { w.leaving = nil }()
	}
	w.game.Notice(&w.ctx, NoticeLeft, m.Player)
}

func (r *Room) removed(m *member, c Client, reason RemoveReason) {
	if r.log.Enabled(context.Background(), slog.LevelDebug) {
		r.log.Debug("member removed", "user", m.UserID, "seat", m.Seat, "reason", reason.String())
	}
	if fn := r.rt.cfg.OnRemoved; fn != nil {
		fn(Removal{RoomID: r.id, Seat: m.Seat, UserID: m.UserID, Client: c, Reason: reason})
	}
}

func (r *Room) freeSeat(seat uint32) {
	r.mu.Lock()
	s := &r.seats[seat-1]
	if s.state != seatFree {
		if s.spectator {
			r.specs--
		} else {
			r.players--
		}
	}
	*s = seatSlot{}
	r.forgetDrops(seat) // an input dropped since the tick took its notes, not for the seat's next player
	r.mu.Unlock()
}

// noteDrop records that a member dropped at t (Runtime.nanos), for
// expireDrops.
func (w *worker) noteDrop(t int64) {
	if w.dropCheck == 0 || t < w.dropCheck {
		w.dropCheck = t
	}
}

// expireDrops removes dropped members whose grace window has passed.
func (r *Room) expireDrops() {
	w := &r.w
	grace := r.rt.cfg.DropGrace
	now := r.rt.nanos(w.now)
	if w.dropCheck == 0 || time.Duration(now-w.dropCheck) < grace {
		return
	}
	w.dropCheck = 0
	for _, m := range w.members {
		if m == nil || m.client != nil {
			continue
		}
		if time.Duration(now-m.droppedAt) >= grace {
			r.removeMember(m, RemovedGraceExpired, true)
		} else {
			w.noteDrop(m.droppedAt)
		}
	}
}

// collectAll fills w.recips with every connected member's client.
func (r *Room) collectAll() {
	w := &r.w
	w.recips = w.recips[:0]
	for _, m := range w.members {
		if m != nil && m.client != nil {
			w.recips = append(w.recips, m.client)
		}
	}
}

// event broadcasts a RoomEvent to every connected member and observer.
func (r *Room) event(kind tickroomv1.RoomEventKind, p *Player, res *MatchResult) {
	r.eventHeld(kind, p, res, 0)
}

// eventHeld is event with RoomEvent.held_until_ms set (a drop's).
func (r *Room) eventHeld(kind tickroomv1.RoomEventKind, p *Player, res *MatchResult, heldUntilMs int64) {
	w := &r.w
	r.collectAll()
	for _, m := range w.observers {
		w.recips = append(w.recips, m.client)
	}
	r.sendEvent(kind, p, res, heldUntilMs)
}

// sendEvent sends a RoomEvent to w.recips.
func (r *Room) sendEvent(kind tickroomv1.RoomEventKind, p *Player, res *MatchResult, heldUntilMs int64) {
	w := &r.w
	if len(w.recips) == 0 {
		return
	}
	ev := &w.ev
	*ev = tickroomv1.RoomEvent{RoomId: r.id, Kind: kind, Tick: w.tickNo, Phase: tickroomv1.RoomPhase(r.Phase()), HeldUntilMs: heldUntilMs}
	if p != nil {
		ev.Seat, ev.UserId, ev.Name, ev.Spectator = p.Seat, p.UserID, p.Name, p.Spectator
	}
	if res != nil {
		if w.endedBefore {
			ev.Tick-- // the tick the match ended in, as its Result says
		}
		data := res.Data
		if n := len(data) + len(res.Reason); n > r.rt.cfg.MaxStateBytes {
			// The game's bug: sent whole, it would close every member as
			// too slow and the result would never reach them.
			r.log.Error("game's match result over the limit: sent without its data", "bytes", n, "limit", r.rt.cfg.MaxStateBytes)
			data = nil
		}
		ev.Result = &tickroomv1.MatchResult{WinnerSeats: res.WinnerSeats, Reason: res.Reason, Data: data}
		for _, sc := range res.Scores {
			ev.Result.Scores = append(ev.Result.Scores, &tickroomv1.SeatScore{Seat: sc.Seat, Score: sc.Score})
		}
	}
	f, err := encodeEnvelope(fieldServerRoomEvent, ev)
	*ev = tickroomv1.RoomEvent{}
	if err != nil {
		r.log.Error("encode room event", "err", err)
		return
	}
	r.deliver(f, true)
}

// sendMessage sends a GameMessage to w.recips.
func (r *Room) sendMessage(msg Message) {
	w := &r.w
	if len(w.recips) == 0 {
		return
	}
	// Mended before it is measured: a byte that is not UTF-8 is sent as
	// the three of U+FFFD, so mended text can be twice the game's.
	msg.Text = mendUTF8(msg.Text)
	if n := len(msg.Text) + len(msg.Data); n > r.rt.cfg.MaxStateBytes {
		// The game's bug: sent, it would close its recipients as too
		// slow, and the message would be lost all the same.
		// An input can cause it at its seat's rate: logged once every
		// 10 s at most for the game (gameLogs).
		if ok, skipped := r.rt.logsOf(r.def.Name).bigMessage.Allow(time.Now()); ok {
			r.log.Error("game message over the limit: not sent (logged at most once every 10 s)", "code", msg.Code, "bytes", n, "limit", r.rt.cfg.MaxStateBytes, "left_out", skipped)
		}
		clear(w.recips)
		return
	}
	w.gm = tickroomv1.GameMessage{RoomId: r.id, Code: msg.Code, Text: msg.Text, Data: msg.Data}
	f, err := encodeEnvelope(fieldServerGameMessage, &w.gm)
	w.gm = tickroomv1.GameMessage{}
	if err != nil {
		r.log.Error("encode game message", "err", err)
		return
	}
	r.deliver(f, true)
}

func (r *Room) setPhase(p Phase) {
	if r.Phase() == p {
		return
	}
	r.phase.Store(int32(p))
	if p == PhaseRunning {
		r.w.started = r.w.now
	}
	r.event(tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PHASE_CHANGED, nil, nil)
}

func (r *Room) end(res MatchResult) {
	if r.Phase() >= PhaseFinished {
		return
	}
	started := r.Phase() == PhaseRunning
	r.phase.Store(int32(PhaseFinished))
	// Not UTF-8, the reason would be refused whole by a strict client
	// decoder (protobuf-es) and, with a NUL, by the store. Mended first,
	// so that what is cut is what is sent.
	res.Reason = strings.ReplaceAll(mendUTF8(res.Reason), "\x00", "\uFFFD")
	if len(res.Reason) > MaxReasonLen {
		// The game's bug: whole, it went to every member (past
		// MaxStateBytes, closing them as too slow) and into every
		// player's match history.
		r.log.Error("game's match result reason over the limit: cut", "bytes", len(res.Reason), "limit", MaxReasonLen)
		res.Reason = cutUTF8(res.Reason, MaxReasonLen)
	}
	// Copied: the result is sent at the end of the tick (sendEnded), and
	// a game may reuse its slices once End returns (in Encode, say).
	res.WinnerSeats = slices.Clone(res.WinnerSeats)
	res.Data = bytes.Clone(res.Data)
	res.Scores = slices.Clone(r.boundScores(res.Scores))
	r.w.result = res
	r.w.ended = true // MATCH_ENDED goes after the tick's state (sendEnded)
	r.report(res, started)
}

// boundScores returns scores without those past ±MaxScore, the game's
// bug: a store refuses such a result whole, the others' wins and scores
// with it. The first is logged, at most once every 10 s for the game.
// A game's own slice is copied before it is changed.
func (r *Room) boundScores(scores []SeatScore) []SeatScore {
	bad := func(sc SeatScore) bool { return sc.Score > MaxScore || sc.Score < -MaxScore }
	i := slices.IndexFunc(scores, bad)
	if i < 0 {
		return scores
	}
	if ok, skipped := r.rt.logsOf(r.def.Name).badScore.Allow(time.Now()); ok {
		r.log.Error("game's match result has a score past the bound: left out (logged at most once every 10 s)", "seat", scores[i].Seat, "score", scores[i].Score, "limit", int64(MaxScore), "left_out", skipped)
	}
	return slices.DeleteFunc(slices.Clone(scores), bad)
}

// FitText returns s as a game's text is sent: each run of bytes that are
// not UTF-8 replaced by U+FFFD (mendUTF8), then cut to at most n bytes
// on a rune's start (cutUTF8). The hub fits a game's refusal to its Error
// reply with it.
func FitText(s string, n int) string { return cutUTF8(mendUTF8(s), n) }

// mendUTF8 returns s with each run of bytes that are not UTF-8 replaced by
// U+FFFD: a game's text may hold what a client sent as input bytes, and a
// string field that is not UTF-8 makes a strict decoder (protobuf-es, in
// every browser client) refuse the whole message.
func mendUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// cutUTF8 returns s's first n bytes, less the start of a rune they would
// split.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
