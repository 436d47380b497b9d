package server

import (
	"sync"

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
// (Conn.OverRate) is dropped.
type BroadcastHandler struct {
	BaseHandler
	mu    sync.RWMutex
	conns map[*Conn]struct{}
	list  []*Conn // rebuilt on join and leave; read under mu
}

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

// OnMessage relays the message to every other member.
func (h *BroadcastHandler) OnMessage(c *Conn, op ws.OpCode, payload []byte) {
	if c.OverRate() {
		return
	}
	f := frame.New(len(payload))
	f.Append(payload...)
	PrepareFrame(f, op)
	h.mu.RLock()
	for _, to := range h.list {
		if to != c {
			_ = to.SendFrame(f, Reliable)
		}
	}
	h.mu.RUnlock()
	f.Release()
}

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
