package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"
)

// Handler serves the WebSocket connections of one path. Its methods run on
// the connection's event loop and must not block: hand slow work to another
// goroutine and answer with Conn.Send from there.
type Handler interface {
	// Accept decides on an upgrade request before the 101 is sent. Return
	// an *HTTPError to refuse with its status (401, 403, 429, 503, ...);
	// any other error refuses with 403. r is valid only during the call.
	// Frames sent on c during Accept follow the 101.
	Accept(c *Conn, r *Request) error
	// OnMessage receives one whole message: text (valid UTF-8) or binary.
	// payload aliases the read buffer and is valid only during the call.
	OnMessage(c *Conn, op ws.OpCode, payload []byte)
	// OnClose is called once for every accepted connection when its socket
	// has closed, with the close code sent or received (1006 when the
	// connection dropped without one) and the reason.
	OnClose(c *Conn, code ws.StatusCode, reason string)
}

// BaseHandler is a Handler that accepts every upgrade and ignores every
// event; embed it to implement only the methods you need.
type BaseHandler struct{}

var _ Handler = BaseHandler{}

// Accept accepts the upgrade.
func (BaseHandler) Accept(*Conn, *Request) error { return nil }

// OnMessage ignores the message.
func (BaseHandler) OnMessage(*Conn, ws.OpCode, []byte) {}

// OnClose does nothing.
func (BaseHandler) OnClose(*Conn, ws.StatusCode, string) {}

// EchoHandler sends every message back as it came: text as text, binary as
// binary. It is the target for conformance suites. A message over the
// connection's rate (Conn.OverRate) is dropped.
type EchoHandler struct{ BaseHandler }

var _ Handler = (*EchoHandler)(nil)

// OnMessage echoes the message.
func (*EchoHandler) OnMessage(c *Conn, op ws.OpCode, payload []byte) {
	if c.OverRate() {
		return
	}
	_ = c.Send(op, payload)
}

// BroadcastHandler sends each message to every other connection on its
// path: a chat room. Each message is encoded once and shared by all its
// recipients, as Reliable output: a member that does not read is closed by
// the transport's outbound limits. A message over the sender's rate
// (Conn.OverRate) is dropped, and so is one over the room's fan-out rate
// (FanoutRate).
type BroadcastHandler struct {
	BaseHandler
	// FanoutRate caps the bytes the room's messages fan out to, each
	// message's size times its recipients, per second, with a burst of a
	// sixty-fourth of a second's worth. A message sent while the room owes more than that is
	// dropped and counted (Dropped), as one over the sender's message rate
	// is. When nothing is owed one message goes out however many members
	// it reaches, and its cost is owed. It bounds the write work senders
	// can give the event loops, which the per-connection message rate does
	// not: that work grows with the members, and for a member that does
	// not read it is spent filling its kernel buffer. The small burst
	// keeps that work to about one message a loop turn, so other
	// connections wait for at most one message's fan-out. Set it before
	// the server starts. Zero value means 64 MiB a second.
	FanoutRate int

	mu    sync.RWMutex
	conns map[*Conn]struct{}
	list  []*Conn // rebuilt on join and leave; read under mu

	fmu     sync.Mutex
	tokens  float64   // fan-out bytes the room may still send; negative: owed
	last    time.Time // of the last refill
	dropped atomic.Uint64
}

// DefaultFanoutRate is BroadcastHandler.FanoutRate's default: 64 MiB a
// second, more than one core delivers in 64-byte messages (~770,000 a
// second, 51 MB) and a tenth of what it writes in 60 KB ones.
const DefaultFanoutRate = 64 << 20

var _ Handler = (*BroadcastHandler)(nil)

// NewBroadcastHandler returns an empty broadcast room.
func NewBroadcastHandler() *BroadcastHandler {
	return &BroadcastHandler{conns: make(map[*Conn]struct{})}
}

// Accept joins the connection to the room.
func (h *BroadcastHandler) Accept(c *Conn, _ *Request) error {
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.list = append(h.list, c)
	h.mu.Unlock()
	return nil
}

// OnMessage relays the message to every other member, within the fan-out
// rate.
func (h *BroadcastHandler) OnMessage(c *Conn, op ws.OpCode, payload []byte) {
	if c.OverRate() {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.spend(int64(len(payload)+maxHeaderLen) * int64(len(h.list)-1)) {
		h.dropped.Add(1)
		return
	}
	f := frame.New(len(payload))
	f.Append(payload...)
	PrepareFrame(f, op)
	for _, to := range h.list {
		if to != c {
			_ = to.SendFrame(f, Reliable)
		}
	}
	f.Release()
}

// spend takes cost fan-out bytes from the room's budget, or reports that
// the room owes more than it may. Safe from any goroutine.
func (h *BroadcastHandler) spend(cost int64) bool {
	rate := float64(h.FanoutRate)
	if rate <= 0 {
		rate = DefaultFanoutRate
	}
	burst := rate / 64
	now := time.Now()
	h.fmu.Lock()
	defer h.fmu.Unlock()
	if h.last.IsZero() {
		h.tokens = burst
	} else {
		h.tokens = min(burst, h.tokens+now.Sub(h.last).Seconds()*rate)
	}
	h.last = now
	if h.tokens < 0 {
		return false
	}
	h.tokens -= float64(cost)
	return true
}

// Dropped returns how many messages were dropped over FanoutRate. Safe
// from any goroutine.
func (h *BroadcastHandler) Dropped() uint64 { return h.dropped.Load() }

// OnClose removes the connection from the room.
func (h *BroadcastHandler) OnClose(c *Conn, _ ws.StatusCode, _ string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	list := make([]*Conn, 0, len(h.conns))
	for x := range h.conns {
		list = append(list, x)
	}
	h.list = list
}

// Len returns the number of members. Safe from any goroutine.
func (h *BroadcastHandler) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}
