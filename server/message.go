package server

import (
	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"
)

// OpCode and StatusCode are the WebSocket opcode and close status types of
// the Handler methods, named here so that handlers need not depend on the
// WebSocket library.
type (
	OpCode     = ws.OpCode
	StatusCode = ws.StatusCode
)

// The data opcodes a Handler's OnMessage receives.
const (
	OpText   = ws.OpText
	OpBinary = ws.OpBinary
)

// SendMessage queues the payload held by f (written after its headroom,
// see internal/frame) as one binary message in class; the WebSocket header
// is written here when f has none yet. The connection takes its own
// reference; the caller keeps (and must release) its own. It returns
// ErrDropped when a Droppable message was skipped and ErrConnClosed once
// the connection is closing. Safe from any goroutine, but f must not be
// shared with another goroutine before its first send.
func (c *Conn) SendMessage(f *frame.Frame, class Class) error {
	if !prepared(f) {
		PrepareFrame(f, ws.OpBinary)
	}
	return c.enqueue(f, class)
}

// BroadcastMessage queues the payload held by f as one binary message on
// every connection in to, in class, sharing the same bytes like Broadcast.
// The caller keeps its own reference to f. Safe from any goroutine, but f
// must not be shared with another goroutine before its first send.
func (s *Server) BroadcastMessage(f *frame.Frame, to []*Conn, class Class) {
	if !prepared(f) {
		PrepareFrame(f, ws.OpBinary)
	}
	s.broadcast(f, to, class)
}
