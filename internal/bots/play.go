package bots

import (
	"strconv"
	"sync"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// message handles one ServerMessage. States are scanned without decoding;
// everything else is rare and decoded in full.
func (b *bot) message(p []byte) {
	st := b.l.st
	st.add(cMessages, 1)
	st.add(cBytesIn, uint64(len(p)))
	reqID, state, isState, ok := scanServer(p)
	if !ok {
		b.e.failures.add("undecodable server message")
		return
	}
	if isState {
		b.state(state)
		return
	}
	var m tickroomv1.ServerMessage
	if err := m.UnmarshalVT(p); err != nil {
		b.e.failures.add("undecodable server message")
		return
	}
	switch body := m.Body.(type) {
	case *tickroomv1.ServerMessage_Welcome:
		if ms := body.Welcome.HeartbeatIntervalMs; ms > 0 {
			b.heartbeat = int64(ms) * 1e6
		}
		if ch := b.chatChannel(); ch != "" {
			b.send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinChannel{JoinChannel: &tickroomv1.JoinChannel{Channel: ch}}})
		}
	case *tickroomv1.ServerMessage_Joined:
		if reqID == b.joinReq {
			b.onJoined(body.Joined)
		}
	case *tickroomv1.ServerMessage_Redirect:
		switch r := body.Redirect; {
		case reqID != 0 && reqID == b.joinReq:
			b.redirect(r)
		case reqID == 0 && b.joined && r.RoomId == b.roomID:
			b.moved(r)
		}
	case *tickroomv1.ServerMessage_Error:
		b.e.errors.add(protocol.ErrorCode(body.Error.Code).String())
		if reqID != 0 && reqID == b.joinReq && b.retryJoin(protocol.ErrorCode(body.Error.Code)) {
			break
		}
		if reqID != 0 && reqID == b.joinReq {
			b.joinReq = 0
			if b.resuming {
				b.resuming = false
				b.roomID = ""
				b.settle(false)
			} else if b.lead && b.grp != nil {
				b.grp.fail()
			}
		}
	case *tickroomv1.ServerMessage_Chat:
		st.add(cChatsIn, 1)
	case *tickroomv1.ServerMessage_GameMessage:
		st.add(cGameMessages, 1)
	case *tickroomv1.ServerMessage_Left:
		if body.Left.RoomId == b.roomID {
			if b.joined {
				st.unseat(b.seatedAt, b.e.now())
			}
			b.joined, b.roomID = false, ""
		}
	}
}

// maxJoinRetries bounds how often a bot sends a join again that the
// server refused for a passing reason.
const maxJoinRetries = 5

// retryJoin schedules the join request in flight again, after a backoff,
// when code says to retry shortly (ERROR_CODE_UNAVAILABLE: the cluster
// directory or the room's node did not answer in time;
// ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT), as a client would. The error
// still counts.
func (b *bot) retryJoin(code protocol.ErrorCode) bool {
	if code != protocol.ErrorUnavailable && code != protocol.ErrorTooManyRequestsInFlight || b.joinRetries >= maxJoinRetries || b.joinMsg == nil {
		return false
	}
	b.joinRetries++
	b.l.st.add(cJoinRetries, 1)
	b.joinReq = 0
	b.rejoinAt = b.e.now() + int64(b.joinRetries)*500e6 + int64(b.l.rand()%500e6)
	return true
}

func (b *bot) onJoined(j *tickroomv1.Joined) {
	now := b.e.now()
	b.joinReq, b.joinRetries = 0, 0
	st := b.l.st
	st.add(cJoined, 1)
	st.join.Record(uint64(now-b.joinStart) / 1e3)
	if b.resuming {
		b.resuming = false
		if j.Resumed && j.RoomId == b.roomID && j.Seat == b.seat {
			b.rejoined = true
			b.settle(true)
			st.resume.Record(uint64(now-b.dropAt) / 1e3)
		} else {
			b.settle(false)
			b.lastTick = 0
		}
	} else {
		b.lastTick = 0
		if b.lead && b.grp != nil {
			b.grp.publish(j.RoomId)
		}
	}
	if !b.joined && !j.Spectator {
		st.seat(now)
		b.seatedAt = now
	}
	b.roomID, b.seat, b.joined = j.RoomId, j.Seat, !j.Spectator
	b.lastSnap, b.turn, b.lastInput = 0, 0, now
	// Spread the bots' sends over the input period.
	if hz := b.e.cfg.InputHz; hz > 0 {
		b.nextInput = now + int64(b.l.rand()%uint64(1e9/hz))
	}
	if r := b.e.cfg.ChatRate; r > 0 {
		b.nextChat = now + int64(b.l.rand()%uint64(1e9/r))
	}
}

// state measures one State: ticks, gaps and the acknowledged inputs.
func (b *bot) state(p []byte) {
	now := b.e.now()
	st := b.l.st
	si, ok := scanState(p, b.seat)
	if !ok {
		b.e.failures.add("undecodable state")
		return
	}
	st.add(cSnapshots, 1)
	if si.keyframe {
		st.add(cKeyframes, 1)
	} else if si.baseTick != b.lastTick {
		st.add(cBaseMismatch, 1)
	}
	if b.rejoined {
		b.rejoined = false
	} else if b.lastTick != 0 && si.tick > b.lastTick {
		gap := si.tick - b.lastTick
		st.tickGap.Record(gap)
		if gap > 1 {
			st.add(cTickGaps, 1)
			st.add(cSkippedTicks, gap-1)
		}
	}
	if b.lastSnap != 0 && !b.paused {
		st.interval.Record(uint64(now-b.lastSnap) / 1e3)
	}
	// Acks travel as changes: apply this one to the ack of the base the
	// bot has (none for a keyframe); with any other base it is unknown.
	fits := si.keyframe || si.baseTick == b.lastTick
	if si.keyframe {
		b.ackSeq = 0
	}
	b.lastTick, b.lastSnap = si.tick, now
	if si.hasGlobals && b.e.cfg.Game == "gomoku" {
		// Globals travel whole, so the turn is known whatever the base.
		if turn, ok := gomokuTurn(si.globals); ok {
			b.turn = turn
		}
	}
	if si.hasAck && fits {
		b.ackSeq = statesync.ApplyAck(b.ackSeq, si.ack)
		b.ack(b.ackSeq, now)
	}
}

// ack records the latency of every input up to seq that was not
// acknowledged before.
func (b *bot) ack(seq uint32, now int64) {
	if seq <= b.acked || seq > b.seq {
		return
	}
	n := uint32(len(b.sent))
	from := b.acked + 1
	if b.seq-from >= n {
		// Sent while more than the most a ring holds awaited their ack:
		// the ring keeps the send times of the last n inputs sent only.
		kept := b.seq - n + 1
		b.l.st.add(cUntimed, uint64(min(seq+1, kept)-from))
		from = kept
	}
	for s := from; s <= seq; s++ {
		b.l.st.latency.Record(uint64(now-b.sent[s%n]) / 1e3)
	}
	b.l.st.add(cAcked, uint64(seq-b.acked))
	b.acked = seq
}

// stamp records that input seq left at now. While more inputs than the
// ring holds await their ack, it doubles (up to maxAckWindow), so the
// oldest keep their send times until the ack comes.
func (b *bot) stamp(seq uint32, now int64) {
	if b.sent == nil {
		b.sent = make([]int64, ackWindow)
	}
	if n := uint32(len(b.sent)); seq-b.acked > n && n < maxAckWindow {
		grown := make([]int64, 2*n)
		for s := b.acked + 1; s != seq; s++ {
			grown[s%(2*n)] = b.sent[s%n]
		}
		b.sent = grown
	}
	b.sent[seq%uint32(len(b.sent))] = now
}

// maxIdleDue bounds how long schedule passes over a bot that waits on
// nothing timed (a socket event or a task wakes it sooner).
const maxIdleDue = int64(1e9)

// nextDue returns when tick may next have something to do for b, after a
// tick at now: the earliest of its redial, pause end, join retry, ping,
// input and chat times.
func (b *bot) nextDue(now int64) int64 {
	due := now + maxIdleDue
	if b.phase == phaseIdle && b.redialAt != 0 {
		return min(due, b.redialAt)
	}
	if b.phase != phaseOpen {
		return due
	}
	if b.paused {
		return min(due, b.pauseUntil)
	}
	if b.rejoinAt != 0 {
		due = min(due, b.rejoinAt)
	}
	if b.heartbeat > 0 {
		due = min(due, b.nextPing)
	}
	if !b.joined {
		return due
	}
	if b.e.cfg.InputHz > 0 {
		due = min(due, b.nextInput)
	}
	if b.e.cfg.ChatRate > 0 {
		due = min(due, b.nextChat)
	}
	return due
}

// tick sends what is due at now. Runs on b's loop when nextDue says so.
func (b *bot) tick(now int64) {
	if b.phase == phaseIdle && b.redialAt != 0 && now >= b.redialAt {
		b.dial()
		return
	}
	if b.phase != phaseOpen {
		return
	}
	if b.paused {
		if now < b.pauseUntil {
			return
		}
		b.paused = false
		b.setEvents(b.wantEvents())
	}
	if b.rejoinAt != 0 && now >= b.rejoinAt {
		b.rejoinAt = 0
		b.resend()
	}
	if b.heartbeat > 0 && now >= b.nextPing {
		b.nextPing = now + b.heartbeat
		b.send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	}
	if !b.joined {
		return
	}
	if hz := b.e.cfg.InputHz; hz > 0 && now >= b.nextInput {
		period := int64(1e9 / hz)
		// A gomoku bot moves on its turn, as a player does: at its first
		// input time after the turn came (or after four periods without
		// a move, should it have missed the turn).
		if b.e.cfg.Game != "gomoku" || b.turn == b.seat || now-b.lastInput >= 4*period {
			b.sendInput(now)
			b.lastInput, b.turn = now, 0 // until the room says whose turn it is
		}
		b.nextInput += period
		if b.nextInput < now {
			b.nextInput = now + period
		}
	}
	if r := b.e.cfg.ChatRate; r > 0 && now >= b.nextChat {
		b.sendChat()
		period := int64(1e9 / r)
		b.nextChat += period
		if b.nextChat < now {
			b.nextChat = now + period
		}
	}
}

func (b *bot) sendInput(now int64) {
	l := b.l
	b.seq++
	r := l.rand()
	var data [16]byte
	var d []byte
	if b.e.cfg.Game == "gomoku" {
		x, y := gomokuMove(b.seat, b.seq)
		d = appendGomokuMove(data[:0], x, y)
	} else {
		d = appendArenaInput(data[:0], int32(r%2001)-1000, int32(r>>16%2001)-1000)
	}
	var msg [128]byte
	p := appendInput(msg[:0], 0, b.roomID, b.seq, d)
	// Stamped as it goes out, not at the schedule pass: a pass sends the
	// inputs of every bot due in it, a hundred and more at 3,000 bots, and
	// the last of them leave a millisecond or more after the pass began.
	b.stamp(b.seq, b.e.now())
	b.writeFrame(ws.OpBinary, p)
	l.st.add(cInputs, 1)
	b.nextPing = now + b.heartbeat
}

func (b *bot) sendChat() {
	q := &tickroomv1.SendChat{RoomId: b.roomID, Text: "gg " + strconv.Itoa(int(b.seq))}
	if ch := b.chatChannel(); ch != "" {
		q.RoomId, q.Channel = "", ch
	}
	b.send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: q}})
	b.l.st.add(cChats, 1)
}

// chatChannel is the lobby channel b chats in (Config.ChatChannels), or
// "" for room chat.
func (b *bot) chatChannel() string {
	if n := b.e.cfg.ChatChannels; n > 0 {
		return "bots-" + strconv.Itoa(b.idx%n)
	}
	return ""
}

// stormDrop closes b's connection at once, as a network blip would; b
// reconnects and resumes its seat.
func (b *bot) stormDrop() {
	if b.phase != phaseOpen || !b.joined {
		return
	}
	now := b.e.now()
	b.l.st.add(cDrops, 1)
	b.owed = true
	b.drop()
	b.dropAt, b.redials = now, 0
	b.resuming = false
	b.redialAt = now
	b.phase = phaseIdle
}

// pause stops reading for d nanoseconds.
func (b *bot) pause(d int64) {
	if b.phase != phaseOpen {
		return
	}
	b.l.st.add(cPaused, 1)
	b.paused, b.pauseUntil = true, b.e.now()+d
	b.acked = b.seq
	// The pause is b's own, not time the server took between snapshots:
	// the first State read after it is measured from none.
	b.lastSnap = 0
	b.setEvents(b.wantEvents())
}

// group is the bots that share one room in RoomSize mode.
type group struct {
	mu      sync.Mutex
	roomID  string
	failed  bool
	waiting []*bot
}

// wait returns the group's room id, or "" after queueing b to be told.
// Safe from any goroutine.
func (g *group) wait(b *bot) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.roomID == "" && !g.failed {
		g.waiting = append(g.waiting, b)
	}
	return g.roomID
}

// publish records the room id and tells every waiting bot on its loop.
func (g *group) publish(id string) {
	g.mu.Lock()
	if g.roomID != "" {
		g.mu.Unlock()
		return
	}
	g.roomID = id
	w := g.waiting
	g.waiting = nil
	g.mu.Unlock()
	for _, b := range w {
		b.l.post(func() { b.joinGroupRoom(id); b.wake() })
	}
}

func (g *group) fail() {
	g.mu.Lock()
	g.failed, g.waiting = true, nil
	g.mu.Unlock()
}

func errName(err error) string {
	if errno, ok := err.(unix.Errno); ok {
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
	}
	return err.Error()
}

func closeName(code int) string {
	return strconv.Itoa(code) + " " + protocol.CloseCode(code).String()
}

// gomokuCells are the points of the 15×15 board each seat plays, in
// order: seat 1 those with (x+2y) mod 4 < 2, seat 2 the others. Neither
// set holds three in a row in any direction, so a match between bots
// never ends by five in a row (nor, until the board is full, by a draw),
// and the two never take each other's points: the rooms stay running.
var gomokuCells = func() (c [2][][2]uint32) {
	for y := range uint32(15) {
		for x := range uint32(15) {
			i := 0
			if (x+2*y)%4 >= 2 {
				i = 1
			}
			c[i] = append(c[i], [2]uint32{x, y})
		}
	}
	return c
}()

// gomokuMove is the point for seat's move number seq: the next of its
// seat's points. Moves out of turn are refused and skip a point; past the
// last point the bot plays its points again, which are refused as taken.
func gomokuMove(seat, seq uint32) (x, y uint32) {
	cells := gomokuCells[(seat+1)%2]
	p := cells[seq%uint32(len(cells))]
	return p[0], p[1]
}
