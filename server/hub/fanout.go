package hub

import (
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/social"
)

// LocalFanout is the social.Fanout of one server's connections; it finds a
// user's connections in a Registry.
type LocalFanout struct {
	srv   *server.Server
	reg   Registry
	stats *Stats
}

var (
	_ social.Fanout = (*LocalFanout)(nil)
	_ social.Host   = socialHost{}
)

// NewLocalFanout returns a fan-out over srv's connections that counts
// replies in stats (nil means no counting).
func NewLocalFanout(srv *server.Server, reg Registry, stats *Stats) *LocalFanout {
	if stats == nil {
		stats = new(Stats)
	}
	return &LocalFanout{srv: srv, reg: reg, stats: stats}
}

// encode marshals m into a new pooled frame. The caller owns the returned
// reference.
func encode(m *tickroomv1.ServerMessage) *frame.Frame {
	n := m.SizeVT()
	f := frame.New(n)
	b := f.Buffer()[:frame.Headroom+n]
	if _, err := m.MarshalToSizedBufferVT(b[frame.Headroom:]); err != nil {
		// Only a message that changed under us can fail; send nothing.
		f.Release()
		return nil
	}
	f.SetBuffer(b)
	return f
}

// Send queues m on every connection in to.
func (o *LocalFanout) Send(m *tickroomv1.ServerMessage, to []*server.Conn) bool {
	f := encode(m)
	if f == nil {
		return false
	}
	o.srv.BroadcastMessage(f, to, server.Reliable)
	f.Release()
	return true
}

// Reply queues m on c and counts it as a message sent.
func (o *LocalFanout) Reply(c *server.Conn, m *tickroomv1.ServerMessage) {
	f := encode(m)
	if f == nil {
		return
	}
	if c.SendMessage(f, server.Reliable) == nil {
		o.stats.MessagesOut.Add(1)
	}
	f.Release()
}

// SendToUser queues m on every session of userID.
func (o *LocalFanout) SendToUser(userID string, m *tickroomv1.ServerMessage) int {
	ss := o.reg.Sessions(userID)
	if len(ss) == 0 {
		return 0
	}
	l := server.GetRecipients()
	defer l.Release()
	for _, s := range ss {
		l.Conns = append(l.Conns, s.conn)
	}
	if !o.Send(m, l.Conns) {
		return 0
	}
	return len(l.Conns)
}

// socialHost is what the social layer reaches the hub through.
type socialHost struct {
	social.Fanout
	now func() time.Time
}

func (h socialHost) Now() time.Time { return h.now() }

// FrameSink is a room member that is not a WebSocket session, such as a
// spectator feed over HTTP: it takes the room's frames itself. Both methods
// run on a tick worker and must not block.
type FrameSink interface {
	game.Client
	// TakeFrame is handed each frame sent to the member, in the order
	// the member is to see them; it retains f if it keeps it. State
	// frames (reliable false) come only while Congested reports false,
	// but for the state of the tick that ended the match, which comes
	// before its result whatever Congested says.
	TakeFrame(f *frame.Frame, reliable bool)
	// Removed says the member's seat is gone (room closed, left).
	Removed(reason game.RemoveReason)
}

// Deliver writes a room's frame to its recipients with one task per event
// loop (server.BroadcastMessage): the frame is encoded once and shared. It
// runs on a tick worker and never blocks.
//
// Every frame goes Reliable, state frames too: latest wins is the room's
// doing, which skips the members whose Congested reports true at the start
// of its tick (but at the tick that ended the match: its state goes before
// the result) and counts the state as sent to the others. A connection's
// frames are written in the order they are handed over. The frame is
// queued at the end of the tick, and a connection that congested
// meanwhile (frames other goroutines queued for it since, or the process
// over MaxOutboundBytes) would have a Droppable frame skipped: the room's
// next delta would then build on a tick its client never had. What this
// costs is at most one tick's frames of a member's rooms past HighWater,
// within ReliableBudget and HardCap as any frame.
func (h *Hub) Deliver(f *frame.Frame, to []game.Client, reliable bool) {
	l := server.GetRecipients()
	defer l.Release()
	for _, c := range to {
		switch c := c.(type) {
		case *Session:
			l.Conns = append(l.Conns, c.conn)
		case FrameSink:
			c.TakeFrame(f, reliable)
		}
	}
	h.srv.BroadcastMessage(f, l.Conns, server.Reliable)
	h.stats.FramesDelivered.Add(uint64(len(l.Conns)))
}
