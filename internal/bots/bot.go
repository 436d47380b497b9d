package bots

import (
	"errors"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// phase is where a bot's connection stands.
type phase uint8

const (
	phaseIdle       phase = iota // no socket: waiting to dial or redial
	phaseConnecting              // TCP connect in flight
	phaseHandshake               // upgrade request sent, waiting for 101
	phaseOpen                    // WebSocket open
	phaseDone                    // finished: terminal close, failure or stop
)

// maxRedials bounds consecutive failed reconnects before a bot gives up.
const maxRedials = 5

// ackWindow is how many sent inputs a bot remembers the send time of at
// first; while more await their ack, its ring of send times doubles, up to
// maxAckWindow (32 KB), so the slowest inputs are timed too.
const (
	ackWindow    = 128
	maxAckWindow = 4096
)

// bot is one simulated player. All fields are owned by its loop.
type bot struct {
	e      *engine
	l      *loop
	idx    int
	token  string
	src    [4]byte
	srcIdx int    // index of src among the source addresses
	hs     bool   // holds a handshake slot of its source address
	slow   bool   // one of the slow readers
	grp    *group // nil in quick-match mode
	lead   bool   // creates its group's room
	node   int    // the server b connects to (engine.nodes)

	fd    int
	phase phase
	key   string // Sec-WebSocket-Key of the handshake in flight
	in    []byte // unparsed inbound bytes
	out   []byte // bytes the socket did not take yet
	frag  []byte // data frames of a fragmented message so far
	fragd bool   // a fragmented message is in progress
	ev    uint32 // events registered

	nextReq   uint32
	joinReq   uint32
	joinStart int64
	// joinMsg is the join request in flight (JoinRoom, CreateRoom or
	// QuickMatch); redirected is set when a Redirect answered it, and
	// b sends it again, reservation set, once connected to the node the
	// Redirect named.
	joinMsg     *tickroomv1.ClientMessage
	redirected  bool
	joinRetries int   // joins sent again after a passing refusal
	rejoinAt    int64 // when to send the join again; 0 = not due
	roomID      string
	seat        uint32
	joined      bool
	seatedAt    int64 // when b took its seat, while joined
	lastTick    uint64
	// rejoined is set by a resume: the next State's distance from
	// lastTick is the time b was away, not ticks the server skipped.
	rejoined  bool
	lastSnap  int64
	turn      uint32 // gomoku: the seat to move, from the room's globals
	lastInput int64  // when the bot last sent an input, or joined

	seq   uint32
	acked uint32
	// ackSeq is the seat's ack in the state at lastTick (acks arrive as
	// changes to it).
	ackSeq uint32
	sent   []int64 // send times of inputs seq % len(sent); made at the first

	nextInput, nextChat, nextPing int64
	heartbeat                     int64

	paused     bool
	pauseUntil int64
	connStart  int64
	resuming   bool
	owed       bool // a seat was lost and its resume is not yet counted resumed or failed
	dropAt     int64
	redialAt   int64
	redials    int
	sentClose  bool
	slot       int // 1 + its index in its loop's bots and dues; 0 until started
}

// start dials for the first time. Runs on b's loop.
func (b *bot) start() {
	if b.e.stopping.Load() {
		b.phase = phaseDone
		return
	}
	b.l.join(b)
	b.dial()
}

// dial opens a non-blocking TCP connection from b's source address.
func (b *bot) dial() {
	now := b.e.now()
	b.redialAt = 0
	if !b.e.admitHandshake(b.srcIdx) {
		b.phase = phaseIdle
		b.redialAt = now + int64(admitRetry) + int64(b.l.rand()%uint64(admitRetry))
		return
	}
	b.hs = true
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.failDial("socket", err)
		return
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if n := b.e.cfg.SlowReadBuffer; b.slow && n > 0 {
		// Before connect, so the window the bot advertises is small too.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}
	if b.src[0] != 0 {
		// Defer the port choice to connect, so ports are per destination.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: b.src}); err != nil {
			unix.Close(fd)
			b.failDial("bind", err)
			return
		}
	}
	if err := unix.Connect(fd, b.e.nodes.get(b.node).sockaddr()); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		b.failDial("connect", err)
		return
	}
	b.fd, b.phase, b.connStart = fd, phaseConnecting, now
	b.ev = unix.EPOLLOUT | unix.EPOLLIN | unix.EPOLLRDHUP
	if err := b.l.add(b, b.ev); err != nil {
		unix.Close(fd)
		b.fd = -1
		b.failDial("epoll", err)
	}
}

func (b *bot) failDial(what string, err error) {
	b.endHandshake()
	b.e.failures.add(what + ": " + errName(err))
	b.phase = phaseIdle
	b.retry()
}

// retry schedules a redial when b still has a reason to be connected.
func (b *bot) retry() {
	b.redials++
	if b.e.stopping.Load() {
		b.phase = phaseDone // the run's end cut it: neither resumed nor failed
		return
	}
	if b.redials > maxRedials {
		b.finish()
		return
	}
	b.redialAt = b.e.now() + int64(b.redials)*200e6 + int64(b.l.rand()%200e6)
}

// event handles readiness of b's socket.
func (b *bot) event(ev uint32) {
	defer b.wake()
	if b.phase == phaseConnecting {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if errno, err := unix.GetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || errno != 0 {
			if err == nil {
				err = unix.Errno(errno)
			}
			b.drop()
			b.failDial("connect", err)
			return
		}
		b.phase = phaseHandshake
		b.setEvents(unix.EPOLLIN | unix.EPOLLRDHUP)
		b.write(b.e.upgradeRequest(b))
		return
	}
	if ev&unix.EPOLLOUT != 0 && len(b.out) > 0 {
		b.flush()
	}
	if b.phase >= phaseHandshake && b.phase < phaseDone && (!b.paused || ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0) &&
		ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		b.read()
	}
}

func (b *bot) setEvents(ev uint32) {
	if ev != b.ev {
		b.ev = ev
		b.l.mod(b, ev)
	}
}

// wantEvents is the event mask for b's current state.
func (b *bot) wantEvents() uint32 {
	var ev uint32
	if !b.paused {
		ev = unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if len(b.out) > 0 {
		ev |= unix.EPOLLOUT
	}
	return ev
}

func (b *bot) read() {
	n, err := unix.Read(b.fd, b.l.buf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil || n == 0:
		b.lost(err)
		return
	}
	b.feed(b.l.buf[:n])
}

// feed parses data read from the socket after what was left over.
func (b *bot) feed(data []byte) {
	if len(b.in) > 0 {
		b.in = append(b.in, data...)
		data = b.in
	}
	used := b.consume(data)
	if b.fd < 0 {
		b.in = b.in[:0]
		return
	}
	b.in = append(b.in[:0], data[used:]...)
}

// consume handles every complete handshake response or frame at the start
// of p and returns the bytes used.
func (b *bot) consume(p []byte) int {
	used := 0
	if b.phase == phaseHandshake {
		n, err := b.e.checkUpgrade(b, p)
		if err != nil {
			b.e.failures.add(err.Error())
			b.drop()
			if errors.Is(err, errRetryable) {
				b.retry()
				return 0
			}
			b.finish()
			return 0
		}
		if n == 0 {
			return 0
		}
		used = n
		b.opened()
		if b.fd < 0 {
			return used
		}
	}
	for b.fd >= 0 && b.phase == phaseOpen {
		h, ok, err := parseFrameHeader(p[used:])
		if err == nil && h.length > maxMessage {
			err = ErrProtocol
		}
		if err != nil {
			b.protocolError("frame header")
			return used
		}
		if !ok || int64(len(p)-used) < int64(h.size)+h.length {
			return used
		}
		payload := p[used+h.size : used+h.size+int(h.length)]
		used += h.size + int(h.length)
		b.frame(h, payload)
	}
	return used
}

func (b *bot) frame(h frameHeader, payload []byte) {
	switch h.op {
	case ws.OpPing:
		b.writeFrame(ws.OpPong, payload)
	case ws.OpPong:
	case ws.OpClose:
		code := int(ws.StatusNoStatusRcvd)
		if len(payload) >= 2 {
			code = int(payload[0])<<8 | int(payload[1])
		}
		b.closed(code)
	case ws.OpContinuation:
		if !b.fragd {
			b.protocolError("continuation without start")
			return
		}
		b.frag = append(b.frag, payload...)
		if len(b.frag) > maxMessage {
			b.protocolError("message too long")
			return
		}
		if h.fin {
			b.fragd = false
			b.message(b.frag)
			b.frag = b.frag[:0]
		}
	case ws.OpBinary, ws.OpText:
		if b.fragd {
			b.protocolError("data frame inside a fragmented message")
			return
		}
		if !h.fin {
			b.fragd = true
			b.frag = append(b.frag[:0], payload...)
			return
		}
		b.message(payload)
	default:
		b.protocolError("unknown opcode")
	}
}

func (b *bot) protocolError(what string) {
	b.e.failures.add("protocol: " + what)
	b.writeClose(int(ws.StatusProtocolError))
	b.drop()
	b.finish()
}

// opened runs when the 101 arrived: join a room, or resume the one b held.
func (b *bot) opened() {
	now := b.e.now()
	b.endHandshake()
	b.phase = phaseOpen
	b.l.st.open.Add(1)
	b.redials = 0
	b.l.st.connect.Record(uint64(now-b.connStart) / 1e3)
	b.l.st.add(cConnected, 1)
	b.nextPing = now + b.e.heartbeat
	switch {
	case b.redirected:
		b.redirected = false
		b.resend()
	case b.roomID != "":
		b.l.st.add(cResumeTries, 1)
		b.resuming = true
		b.sendJoin(&tickroomv1.JoinRoom{RoomId: b.roomID, ResumeTick: b.lastTick})
	case b.grp == nil:
		b.sendJoin(nil)
	case b.lead:
		b.sendJoin(nil)
	default:
		if id := b.grp.wait(b); id != "" {
			b.sendJoin(&tickroomv1.JoinRoom{RoomId: id})
		}
	}
}

// sendJoin sends j, or the bot's CreateRoom or QuickMatch when j is nil.
func (b *bot) sendJoin(j *tickroomv1.JoinRoom) {
	m := &tickroomv1.ClientMessage{}
	switch {
	case j != nil:
		m.Body = &tickroomv1.ClientMessage_JoinRoom{JoinRoom: j}
	case b.grp != nil:
		m.Body = &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
			Game: b.e.cfg.Game, Options: b.e.cfg.Options, MaxPlayers: uint32(b.e.cfg.RoomSize), TickRate: uint32(b.e.cfg.TickRate),
		}}
	default:
		m.Body = &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: b.e.cfg.Game, Options: b.e.cfg.Options}}
	}
	b.joinReq = b.send(m)
	b.joinStart = b.e.now()
	b.joinMsg = m
}

// resend sends the join request a Redirect answered again; the join time
// runs from the first request.
func (b *bot) resend() {
	if b.joinMsg == nil {
		return
	}
	b.joinReq = b.send(b.joinMsg)
}

// redirect follows a Redirect: the request is sent again with the
// reservation, from a new connection to the node the Redirect names.
func (b *bot) redirect(r *tickroomv1.Redirect) {
	var ok bool
	switch body := b.joinMsg.GetBody().(type) {
	case *tickroomv1.ClientMessage_JoinRoom:
		body.JoinRoom.Reservation, ok = r.Reservation, true
	case *tickroomv1.ClientMessage_QuickMatch:
		body.QuickMatch.Reservation, ok = r.Reservation, true
	}
	n, err := b.e.nodes.lookup(r.Url)
	if !ok || err != nil {
		b.e.failures.add("redirect: unusable (" + r.Url + ")")
		b.joinReq = 0
		return
	}
	b.l.st.add(cRedirects, 1)
	b.writeClose(int(ws.StatusNormalClosure))
	b.drop()
	b.node, b.redirected = n, true
	b.redials = 0
	b.redialAt = b.e.now()
	b.phase = phaseIdle
}

// moved follows the unprompted Redirect of b's room, which a draining
// node moved to another (protocol/README.md, "A room that moves"): b
// reconnects to the room's new node and resumes its seat there with the
// reservation, as client-js does.
func (b *bot) moved(r *tickroomv1.Redirect) {
	n, err := b.e.nodes.lookup(r.Url)
	if err != nil {
		b.e.failures.add("redirect: unusable (" + r.Url + ")")
		return
	}
	b.l.st.add(cRedirects, 1)
	b.l.st.add(cReconnects, 1) // for the resume success rate
	b.l.st.add(cResumeTries, 1)
	b.owed = true
	b.writeClose(int(ws.StatusNormalClosure))
	b.drop()
	now := b.e.now()
	b.joinMsg = &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{
		RoomId: b.roomID, ResumeTick: b.lastTick, Reservation: r.Reservation,
	}}}
	b.joinStart, b.dropAt = now, now
	b.node, b.redirected, b.resuming = n, true, true
	b.redials = 0
	b.redialAt = now
	b.phase = phaseIdle
}

// joinGroupRoom runs on b's loop when its group's room exists.
func (b *bot) joinGroupRoom(id string) {
	if b.phase == phaseOpen && !b.joined && b.joinReq == 0 {
		b.sendJoin(&tickroomv1.JoinRoom{RoomId: id})
	}
}

// send writes m with a fresh request id, which it returns.
func (b *bot) send(m *tickroomv1.ClientMessage) uint32 {
	b.nextReq++
	m.RequestId = b.nextReq
	p, err := m.MarshalVT()
	if err != nil {
		b.e.failures.add("marshal: " + err.Error())
		return m.RequestId
	}
	b.writeFrame(ws.OpBinary, p)
	return m.RequestId
}

func (b *bot) writeFrame(op ws.OpCode, payload []byte) {
	b.l.wbuf = appendFrame(b.l.wbuf[:0], op, payload, uint32(b.l.rand()))
	b.write(b.l.wbuf)
}

func (b *bot) writeClose(code int) {
	if b.sentClose || b.phase != phaseOpen {
		return
	}
	b.sentClose = true
	b.writeFrame(ws.OpClose, []byte{byte(code >> 8), byte(code)})
}

// write sends p now, or queues what the socket does not take.
func (b *bot) write(p []byte) {
	if b.fd < 0 {
		return
	}
	b.l.st.add(cBytesOut, uint64(len(p)))
	if len(b.out) > 0 {
		if len(b.out)+len(p) > maxOutbound {
			b.e.failures.add("bot outbound overflow")
			b.lost(nil)
			return
		}
		b.out = append(b.out, p...)
		return
	}
	n, err := unix.Write(b.fd, p)
	if err == unix.EAGAIN || err == unix.EINTR {
		n, err = 0, nil
	}
	if err != nil {
		b.lost(err)
		return
	}
	if n < len(p) {
		b.out = append(b.out[:0], p[n:]...)
		b.setEvents(b.wantEvents())
	}
}

func (b *bot) flush() {
	n, err := unix.Write(b.fd, b.out)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err != nil {
		b.lost(err)
		return
	}
	b.out = append(b.out[:0], b.out[n:]...)
	if len(b.out) == 0 {
		b.setEvents(b.wantEvents())
	}
}

// drop closes b's socket and forgets its connection state; the room and
// input numbering stay for a resume.
func (b *bot) drop() {
	b.endHandshake()
	if b.phase == phaseOpen {
		b.l.st.open.Add(-1)
	}
	if b.joined {
		b.l.st.unseat(b.seatedAt, b.e.now())
	}
	if b.fd >= 0 {
		b.l.remove(b)
		unix.Close(b.fd)
	}
	b.fd = -1
	b.phase = phaseIdle
	b.in, b.out, b.frag = b.in[:0], b.out[:0], b.frag[:0]
	b.fragd, b.paused, b.sentClose, b.joined = false, false, false, false
	b.joinReq, b.rejoinAt = 0, 0
	b.acked = b.seq // inputs in flight are not measured across a drop
}

// endHandshake gives back b's handshake slot.
func (b *bot) endHandshake() {
	if b.hs {
		b.hs = false
		b.e.inflight[b.srcIdx].Add(-1)
	}
}

// lost handles a connection that ended without a close frame.
func (b *bot) lost(err error) {
	if b.phase == phaseDone || b.fd < 0 {
		return
	}
	if err != nil {
		b.e.closes.add("abnormal: " + errName(err))
	} else {
		b.e.closes.add("abnormal: eof")
	}
	wasOpen := b.phase == phaseOpen
	b.drop()
	b.redialIfHeld(wasOpen)
}

// closed handles the server's close frame.
func (b *bot) closed(code int) {
	b.e.closes.add(closeName(code))
	b.writeClose(code)
	b.drop()
	if code >= int(protocol.ResumableMin) && code <= int(protocol.ResumableMax) && code != int(protocol.CloseServerShutdown) {
		b.redialIfHeld(true)
		return
	}
	b.finish()
}

// finish ends b for good before the run's end: it counts as ended early,
// and a lost seat not yet resumed counts as failed, whether its resume
// was in flight or its redials gave up before one.
func (b *bot) finish() {
	b.phase = phaseDone
	b.resuming = false
	b.settle(false)
	if !b.e.stopping.Load() {
		b.l.st.add(cEnded, 1)
	}
}

// settle counts the outcome of the lost seat b owes one for: each seat
// counted in storm_drops or reconnects ends as one resumed or one failed
// (or neither, while the run stops with its resume still in flight).
func (b *bot) settle(resumed bool) {
	if !b.owed {
		return
	}
	b.owed = false
	if resumed {
		b.l.st.add(cResumed, 1)
	} else {
		b.l.st.add(cResumeFailed, 1)
	}
}

// redialIfHeld reconnects after a lost connection: to resume when b had a
// room, else to join one as at the start (as client-js does, with the
// same backoff and bound on failed redials).
func (b *bot) redialIfHeld(wasOpen bool) {
	if b.e.stopping.Load() {
		b.phase = phaseDone
		return
	}
	if b.roomID != "" && wasOpen && !b.resuming {
		b.dropAt = b.e.now()
		b.l.st.add(cReconnects, 1)
		b.owed = true
	}
	b.retry()
}

// shutdown closes b at the end of the run.
func (b *bot) shutdown() {
	if b.phase == phaseOpen {
		b.writeClose(int(ws.StatusNormalClosure))
	}
	b.drop()
	b.phase = phaseDone
}
