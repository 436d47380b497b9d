package hub

import (
	"sync"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/server"
)

// connList is a pooled recipient list, so a fan-out on the hot paths
// (room state, chat, direct messages) allocates none.
type connList struct{ conns []*server.Conn }

var connLists = sync.Pool{New: func() any { return &connList{conns: make([]*server.Conn, 0, 64)} }}

// getConnList returns an empty list from the pool.
func getConnList() *connList { return connLists.Get().(*connList) }

// release empties the list, dropping its references, and pools it.
func (l *connList) release() {
	clear(l.conns)
	l.conns = l.conns[:0]
	connLists.Put(l)
}

// Deliver writes a room's frame to its recipients with one task per event
// loop (server.Broadcast): the frame is encoded once and shared. State
// frames go Droppable (latest wins), events and game messages Reliable.
// It runs on a tick worker and never blocks.
func (h *Hub) Deliver(f *frame.Frame, to []game.Client, reliable bool) {
	server.PrepareFrame(f, ws.OpBinary)
	l := getConnList()
	defer l.release()
	for _, c := range to {
		if s, ok := c.(*Session); ok {
			l.conns = append(l.conns, s.conn)
		}
	}
	class := server.Droppable
	if reliable {
		class = server.Reliable
	}
	h.srv.Broadcast(f, l.conns, class)
	h.stats.FramesDelivered.Add(uint64(len(l.conns)))
}
