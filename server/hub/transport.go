package hub

import (
	"sync"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/server"
)

// connLists recycles the recipient lists Deliver hands to the transport;
// several tick workers deliver at once.
var connLists = sync.Pool{New: func() any {
	l := make([]*server.Conn, 0, 64)
	return &l
}}

// Deliver writes a room's frame to its recipients with one task per event
// loop (server.Broadcast): the frame is encoded once and shared. State
// frames go Droppable (latest wins), events and game messages Reliable.
// It runs on a tick worker and never blocks.
func (h *Hub) Deliver(f *frame.Frame, to []game.Client, reliable bool) {
	server.PrepareFrame(f, ws.OpBinary)
	lp := connLists.Get().(*[]*server.Conn)
	conns := (*lp)[:0]
	for _, c := range to {
		if s, ok := c.(*Session); ok {
			conns = append(conns, s.conn)
		}
	}
	class := server.Droppable
	if reliable {
		class = server.Reliable
	}
	h.srv.Broadcast(f, conns, class)
	h.stats.FramesDelivered.Add(uint64(len(conns)))
	clear(conns)
	*lp = conns[:0]
	connLists.Put(lp)
}
