package server

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of the transport's counters for the metrics layer.
// Counts only grow, except Open.
type Stats struct {
	// Open is the number of open TCP connections, upgraded or not; an
	// upgraded one counts until its handler's OnClose has returned.
	Open int64
	// Opened counts TCP connections accepted.
	Opened uint64
	// Upgraded counts WebSocket upgrades the handler accepted.
	Upgraded uint64
	// Refused counts upgrades answered with an HTTP error, by status: 503
	// over MaxConns or shutting down, 429 too many handshakes from one IP,
	// 408 handshake timeout, 431 request too large, 401 and others from the
	// handler or the upgrade checks.
	Refused map[int]uint64
	// Closed counts upgraded connections closed, once Handler.OnClose has
	// returned, by the close code reported to it (1006 for a lost
	// connection), except that closes the peer started with a code in
	// 3000–4999, which it chose, all count under 0.
	Closed map[int]uint64
	// ClosedFor counts the same closes by why they closed.
	ClosedFor map[CloseReason]uint64
	// BytesIn counts bytes read and consumed, upgrade requests included.
	BytesIn uint64
	// BytesOut counts frame bytes handed to the kernel (or gnet's outbound
	// buffer).
	BytesOut uint64
	// FramesIn counts WebSocket frames read, control frames included.
	FramesIn uint64
	// FramesOut counts queued frames written.
	FramesOut uint64
	// Dropped counts Droppable frames skipped for congested connections.
	Dropped uint64
	// Behind counts the times a sweep found a connection behind by more
	// than Config.MaxStateLag (lag.go), from when it was not.
	Behind uint64
	// Writes counts the Writev calls the flushes made, one writev(2)
	// each (gnet makes the syscall at once: a flush hands it nothing while
	// it still holds a connection's bytes). FramesOut / Writes is how many
	// frames one syscall carried.
	Writes uint64
	// Wakeups counts flush tasks handed to the loops from outside their
	// turn, one event-loop wake-up (an eventfd write) each; frames queued
	// during a loop's own turn, and frames queued before a pending task
	// runs, cost none.
	Wakeups uint64
	// Carried counts flush tasks that left dirty connections for the
	// loop's next round, after its reads: the loop was writing more than
	// a round's budget (see flushBatch).
	Carried uint64
	// SendWait is how long frames that say when they were made (a
	// room's, from the start of the tick that made them) waited until a
	// flush of the loop's dirty connections wrote them: one count per
	// connection flushed, for the oldest such frame it wrote, measured to
	// the start of its stretch of the flush (the clock is read once every
	// 64 connections). A connection whose queue begins with frames kept
	// back while it had not read what it was sent earlier is not counted:
	// those waited for the client. With the loop's core busy, a tail here
	// is the loop behind on its writes.
	SendWait WaitHistogram
}

// loopStats are one loop's traffic counters: the loop (or, for Dropped,
// any sender) writes them; any goroutine reads.
type loopStats struct {
	bytesIn, bytesOut, framesIn, framesOut, dropped, writes, wakeups, carried, behind atomic.Uint64
	sendWait                                                                          waitHist
}

// codeCounts counts events by an integer code; the events are rare
// (handshake refusals, closes), so a mutex is enough.
type codeCounts struct {
	mu sync.Mutex
	m  map[int]uint64
}

func (c *codeCounts) add(code int) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[int]uint64)
	}
	c.m[code]++
	c.mu.Unlock()
}

func (c *codeCounts) snapshot() map[int]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.m)
	if out == nil {
		out = map[int]uint64{}
	}
	return out
}

// closeKey is one kind of close: why, and with which code.
type closeKey struct {
	why  CloseReason
	code int
}

// closeCounts counts closed connections by reason and code: the one set
// of close counters, which the layers above read through Stats.
type closeCounts struct {
	mu sync.Mutex
	m  map[closeKey]uint64
}

func (c *closeCounts) add(why CloseReason, code int) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[closeKey]uint64)
	}
	c.m[closeKey{why, code}]++
	c.mu.Unlock()
}

// snapshot returns the counts by code and by reason.
func (c *closeCounts) snapshot() (byCode map[int]uint64, byReason map[CloseReason]uint64) {
	byCode, byReason = map[int]uint64{}, map[CloseReason]uint64{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range c.m {
		byCode[k.code] += n
		byReason[k.why] += n
	}
	return byCode, byReason
}

// Stats returns a snapshot of the transport's counters. Safe from any
// goroutine.
func (s *Server) Stats() Stats {
	st := Stats{
		Open: s.open.Load(), Opened: s.opened.Load(), Upgraded: s.upgraded.Load(),
		Refused: s.refused.snapshot(),
	}
	st.Closed, st.ClosedFor = s.closes.snapshot()
	for _, l := range s.loopList() {
		st.BytesIn += l.stats.bytesIn.Load()
		st.BytesOut += l.stats.bytesOut.Load()
		st.FramesIn += l.stats.framesIn.Load()
		st.FramesOut += l.stats.framesOut.Load()
		st.Dropped += l.stats.dropped.Load()
		st.Behind += l.stats.behind.Load()
		st.Writes += l.stats.writes.Load()
		st.Wakeups += l.stats.wakeups.Load()
		st.Carried += l.stats.carried.Load()
		l.stats.sendWait.addTo(&st.SendWait)
	}
	return st
}
