package server

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/tickroom/tickroom/internal/frame"
)

// Class is the delivery class of an outbound frame.
type Class uint8

const (
	// Reliable frames (chat, control, acks) are always queued, up to the
	// connection's byte budget; a connection that stays over budget past
	// Config.SlowDeadline, or over Config.HardCap at all, is closed with
	// Config.SlowCloseCode.
	Reliable Class = iota
	// Droppable frames (latest wins) are skipped while the connection is
	// congested; see Conn.Congested. A sender that keeps track of what
	// each connection got, as a room does with its deltas' bases, reads
	// Congested itself and sends Reliable: a frame it counts as sent
	// must not be skipped after it decided.
	Droppable
)

// connState is where a connection is in its life. It is read and written
// on the connection's loop only.
type connState uint8

const (
	stateHandshake connState = iota // waiting for the upgrade request
	stateRefused                    // HTTP refusal sent, waiting for FIN or deadline
	stateOpen                       // upgraded
	stateClosing                    // our close frame sent, waiting for the peer's
	stateClosed                     // gnet closed the socket
)

// Conn is one client connection. Methods documented as safe from any
// goroutine may be called from anywhere; the rest of its state belongs to
// its event loop.
type Conn struct {
	id     uint64
	srv    *Server
	loop   *loop
	gc     gnet.Conn
	remote net.Addr
	value  atomic.Pointer[any]

	// Loop-only state. Counts of bytes are int32: what a connection has in
	// flight is bounded by MaxMessageSize and MaxRequestSize (each at most
	// 1 GiB), the PROXY header and maxDrain; the rate bucket is a float32
	// (MessageRate at most 2^20). The narrower fields keep a Conn at 384 B
	// (BenchmarkSeatedMemory in server/hub).
	handler     Handler
	ip          netip.Addr    // the client: the TCP peer, or who a trusted proxy names (set before Accept)
	deadline    int64         // handshake, refusal or close deadline (unix ns)
	lastRead    int64         // unix ns of the last byte read
	lastPing    int64         // unix ns of the last server ping
	overSince   int64         // unix ns the outbound bytes went over budget; 0 when under
	msg         []byte        // reassembly buffer, capped by MaxMessageSize
	frameStart  int64         // unix ns the unfinished frame began arriving; 0 when none
	msgStart    int64         // unix ns the fragmented message began; 0 when none
	tokens      float32       // message rate bucket
	excess      float32       // frames over the rate, decaying at the rate
	rateLast    int64         // unix ns of the last refill
	lingerBytes int64         // outBytes when linger began, counted in Server.lingerHeld
	utf8Done    int32         // msg[:utf8Done] is validated UTF-8
	drained     int32         // bytes read and ignored while lingering or closing; starts below 0 by messageRest
	inNeed      int32         // bytes the unfinished frame at the front of gnet's buffer needs; 0 when unknown
	inKept      int32         // bytes left in gnet's buffer at the end of the last read
	refuse      int16         // HTTP status to refuse with at the first read
	fragOver    bool          // a counted frame of the message being reassembled was over the rate
	inMessage   bool          // the unfinished frame inNeed waits for is a data frame without FIN
	listIndex   int32         // index in loop.conns
	addr        *addrState    // the client address's input budget; nil until upgraded
	inLast      int64         // unix ns of the last input budget charge
	byteShare   float32       // the connection's share of the input byte budgets (bytes); float32 keeps Conn in a smaller size class
	frameShare  float32       // the connection's share of the input frame budgets (frames)
	closeWhy    string        // reason reported to Handler.OnClose
	closeCode   ws.StatusCode // code reported to Handler.OnClose
	state       connState
	fragOp      ws.OpCode   // opcode of the message being reassembled; 0 when none
	closeFor    CloseReason // reason counted when the socket closes
	// The flags are kept together so that a Conn fits a smaller size
	// class (BenchmarkSeatedMemory in server/hub).
	accepted      bool // Accept returned nil; OnClose is owed
	hsCounted     bool // counted in the per-IP handshake count
	ipCounted     bool // counted in the per-IP connection count
	proxyRead     bool // the PROXY header (or its absence) was read; Config.ProxyProtocol
	flooded       bool // closing for a flood: input is dropped
	overRate      bool // the message being dispatched is over the rate
	resetOnExpire bool // fail closed it: reset at the close deadline
	peerClosed    bool // the peer's close frame arrived
	closeNow      bool // OnTraffic returns gnet.Close
	holding       bool // the queue starts with frames kept back while gnet holds bytes
	onHeldList    bool // on loop.held, rechecked until gnet drains

	// Write side, guarded by mu.
	mu        sync.Mutex
	queue     []*frame.Frame
	spare     []*frame.Frame
	reqReason string
	queued    atomic.Int64 // bytes in queue
	outBytes  atomic.Int64 // gnet's outbound buffer, refreshed on the loop
	dropped   atomic.Uint64
	reqCode   ws.StatusCode // code for the requested close
	reqFor    CloseReason   // reason for the requested close
	dirty     bool          // on the loop's dirty list (markDirty, flushDirty)
	closeReq  bool          // Close was called; a close frame is due after the queue
	abortReq  bool          // close at the next flush, dropping the queue (hard cap, budget)
	writeShut bool          // no more frames may be queued

	// Loop only, placed last to fit the size class: bytes were read since
	// the connection's last write, so the kernel may owe their ACK
	// (delayAcks).
	ackOwed bool
}

// ID returns the connection's server-unique id. Safe from any goroutine.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the TCP peer's address, which is a proxy's when the
// server runs behind one; see ClientIP. Safe from any goroutine.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// ClientIP returns the client's IP address: the TCP peer's, or, when the
// peer is one of Config.TrustedProxies, the client its PROXY header (with
// Config.ProxyProtocol) and then its X-Forwarded-For name (package
// clientip). Per-IP limits and logs use it. It is final
// from Handler.Accept on; safe from any goroutine after Accept returned.
func (c *Conn) ClientIP() netip.Addr { return c.ip }

// SetValue stores application state on the connection. Safe from any
// goroutine.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// Value returns what SetValue stored, or nil. Safe from any goroutine.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// OverRate reports whether the message being handed to Handler.OnMessage
// came over Config.MessageRate (a fragmented one: when its first fragment,
// or a later one that counted, did); a handler that serves anyone (echo,
// broadcast) drops such a message. Loop only, during OnMessage.
func (c *Conn) OverRate() bool { return c.overRate }

// Congested reports whether Droppable frames would be skipped: the
// connection's outbound bytes are over Config.HighWater, the process's
// are over Config.MaxOutboundBytes, or the last sweep found the
// connection behind by more than Config.MaxStateLag (lag.go). A room
// runtime skips deltas while it is true and sends a delta from the
// client's last state (or a keyframe) once it is false. The kernel-side
// part of the count is refreshed on every flush and every sweep. Safe
// from any goroutine.
func (c *Conn) Congested() bool {
	return c.outBytes.Load()+c.queued.Load() > int64(c.srv.cfg.HighWater) || c.srv.overBudget() || c.loop.isBehind(c)
}

// Dropped returns how many Droppable frames were skipped for congestion.
// Safe from any goroutine.
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }

// Send copies payload into a new pooled frame and queues it as a final
// frame with opcode op, Reliable class. Safe from any goroutine; frames
// sent to one connection arrive in the order they were queued.
func (c *Conn) Send(op ws.OpCode, payload []byte) error {
	if op.IsControl() && len(payload) > maxControlPayload {
		return ErrControlTooLong
	}
	f := frame.New(len(payload))
	f.Append(payload...)
	PrepareFrame(f, op)
	err := c.enqueue(f, Reliable)
	f.Release()
	return err
}

// SendFrame queues f, which PrepareFrame has prepared, in class. The
// connection takes its own reference; the caller keeps (and must release)
// its own. It returns ErrDropped when a Droppable frame was skipped and
// ErrConnClosed once the connection is closing. Safe from any goroutine.
func (c *Conn) SendFrame(f *frame.Frame, class Class) error {
	if !prepared(f) {
		return ErrFrameNotPrepared
	}
	return c.enqueue(f, class)
}

// Close starts the closing handshake: frames already queued are written,
// then a close frame with code and reason (cut to 123 bytes); the TCP
// connection ends when the peer answers or after Config.CloseTimeout.
// Later calls do nothing. Code 0 sends a close frame without a code; a
// code no endpoint may send (RFC 6455 §7.4, e.g. 1005, 1006) is sent as
// 1011. Safe from any goroutine.
func (c *Conn) Close(code ws.StatusCode, reason string) {
	c.closeAfterQueue(ReasonApp, code, reason)
}

// closeAfterQueue is Close with the reason to count. Safe from any
// goroutine.
func (c *Conn) closeAfterQueue(why CloseReason, code ws.StatusCode, reason string) {
	if code != 0 && !validCloseCode(code) {
		code = ws.StatusInternalServerError
	}
	c.mu.Lock()
	if c.writeShut {
		c.mu.Unlock()
		return
	}
	c.writeShut, c.closeReq = true, true
	c.reqFor, c.reqCode, c.reqReason = why, code, reason
	mark := !c.dirty
	c.dirty = true
	c.mu.Unlock()
	if mark {
		c.loop.markDirty(c)
	}
}
