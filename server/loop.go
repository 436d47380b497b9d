package server

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
)

// loop is tickroom's state for one gnet event loop: its connections, its
// dirty list, and scratch buffers that only the loop's goroutine touches.
type loop struct {
	srv *Server
	el  gnet.EventLoop

	// Loop-only.
	conns []*Conn // every open TCP connection of the loop, for the sweep
	// probes[i] is the lag probe's state of conns[i] (lag.go), and
	// lastProbe the time of the last sweep that probed (unix ns).
	probes    []lagProbe
	lastProbe int64
	// behindChanged: a probe found a connection behind, or no longer, or
	// one found behind closed, since behindSet was last published.
	behindChanged bool
	// paced lists the connections whose link the last sweep found the
	// limit, for recheckLag.
	paced []*Conn
	req   Request  // scratch for the upgrade being parsed
	out   []byte   // scratch for HTTP responses
	ctl   []byte   // scratch for control frames written directly
	iov   [][]byte // scratch for Writev
	// evictScratch lists the largest holders while over the outbound
	// budget.
	evictScratch []*Conn
	// inTraffic is the connection whose OnTraffic is running: it must be
	// closed by returning gnet.Close, not with EventLoop.Close.
	inTraffic *Conn
	// counted is how many frames of the read being parsed counted against
	// the message rate, for the input budgets.
	counted int
	// refused and refusedFrames are the bytes and messages of that read
	// that the handler refused (Conn.Refused).
	refused, refusedFrames int
	// held lists the connections for which gnet holds bytes, or that keep
	// frames back while it does, for the drain recheck (recheckHeld).
	held []*Conn
	// turnFlushed counts the connections turns flushed since the last
	// flush task, taskFlushed those flush tasks flushed since the round
	// began, and taskEnded is when the last flush task ended (endTurn,
	// runFlushTask).
	turnFlushed, taskFlushed int
	taskEnded                int64
	// flushNow is the time flushDirty last read, a frame.Stamp, for
	// noteWait.
	flushNow int64

	// Guarded by mu.
	mu           sync.Mutex
	dirty        []*Conn
	spare        []*Conn
	flushPending bool // a flush task is submitted and has not run
	carrying     bool // the dirty list waits for the next round (carryOver)
	inTurn       bool // OnTraffic is running; its end flushes dirty
	inFlush      bool // flushDirty is running; its caller submits for the rest
	holds        int  // broadcasts queueing: markDirty submits no task (batch.go)

	// heldCount is len(held), and pacedCount len(paced), for the ticker
	// goroutine.
	heldCount, pacedCount atomic.Int32
	// behindSet holds the loop's connections found behind
	// (Config.MaxStateLag), for Congested; nil when none. It is replaced,
	// never changed.
	behindSet atomic.Pointer[map[*Conn]struct{}]
	// carryTimer submits the flush task for a list carried over that no
	// turn took up (carryOver); created on first use, reset by the loop.
	carryTimer *time.Timer

	flushTask   gnet.Runnable
	sweepTask   gnet.Runnable
	recheckTask gnet.Runnable

	stats loopStats
}

func newLoop(s *Server, el gnet.EventLoop) *loop {
	l := &loop{srv: s, el: el, out: make([]byte, 0, 512), ctl: make([]byte, 0, 2+maxControlPayload)}
	l.flushTask = gnet.RunnableFunc(func(context.Context) error { l.runFlushTask(); return nil })
	l.sweepTask = gnet.RunnableFunc(func(context.Context) error { l.sweep(nanotime()); return nil })
	l.recheckTask = gnet.RunnableFunc(func(context.Context) error { l.recheckHeld(); l.recheckLag(); return nil })
	return l
}

// drainRecheck is how often a loop with connections for which gnet holds
// bytes looks whether gnet has drained them (recheckHeld).
const drainRecheck = 10 * time.Millisecond

// addHeld puts c, for which gnet now holds bytes or which keeps frames
// back, on the loop's held list. Loop only.
func (l *loop) addHeld(c *Conn) {
	if c.onHeldList {
		return
	}
	c.onHeldList = true
	l.held = append(l.held, c)
	l.heldCount.Store(int32(len(l.held)))
}

// recheckHeld flushes the held connections for which gnet has drained
// what the kernel refused, counts again what gnet holds for the others,
// and drops from the list those for which it holds nothing and that keep
// no frames back; a connection whose peer's close frame is answered is
// closed once gnet has written what it held (onCloseFrame), and a
// lingering one (an HTTP refusal, or a close frame fail wrote) is
// half-closed then (linger). gnet v2 tells nobody when it drains a
// connection's buffer, so without it a frame kept back would wait for the
// connection's next frame, its next read or the sweep, and the count
// Congested reads would stay over HighWater until then: up to
// Config.SweepInterval for a connection that is sent nothing more, as a
// room sends a congested member no state; and a lingering connection's
// FIN would wait for its close deadline. The ticker asks for it every
// drainRecheck while the list is not empty. Loop only.
func (l *loop) recheckHeld() {
	kept := l.held[:0]
	for _, c := range l.held {
		if c.state == stateClosing && c.peerClosed {
			// Both close frames are out once gnet has written what it
			// held (onCloseFrame).
			if c.gc.OutboundBuffered() > 0 {
				kept = append(kept, c)
				continue
			}
			c.onHeldList = false
			c.closeTCP()
			continue
		}
		if c.state == stateRefused {
			// Lingering: its FIN goes once gnet has written what it
			// held (linger).
			if c.gc.OutboundBuffered() > 0 {
				kept = append(kept, c)
				continue
			}
			c.onHeldList = false
			c.shutWrite()
			continue
		}
		c.flushIfDrained() // c stays on the list meanwhile: addHeld appends nothing
		if c.state == stateOpen && !c.holding {
			c.setOut(int64(c.gc.OutboundBuffered()))
		}
		if c.state == stateOpen && (c.holding || c.outBytes.Load() > 0) {
			kept = append(kept, c)
		} else {
			c.onHeldList = false
		}
	}
	clear(l.held[len(kept):])
	l.held = kept
	l.heldCount.Store(int32(len(kept)))
}

// add registers a newly opened connection. Loop only.
func (l *loop) add(c *Conn) {
	c.listIndex = int32(len(l.conns))
	l.conns = append(l.conns, c)
	l.probes = append(l.probes, lagProbe{})
}

// remove unregisters a closed connection. Loop only.
func (l *loop) remove(c *Conn) {
	i := int(c.listIndex)
	if i < 0 || i >= len(l.conns) || l.conns[i] != c {
		return
	}
	last := len(l.conns) - 1
	if l.probes[i].behind {
		l.behindChanged = true
	}
	l.conns[i] = l.conns[last]
	l.conns[i].listIndex = int32(i)
	l.conns[last] = nil
	l.conns = l.conns[:last]
	l.probes[i] = l.probes[last]
	l.probes = l.probes[:last]
	c.listIndex = -1
	if cap(l.conns) > 64 && len(l.conns) < cap(l.conns)/4 {
		l.conns = append([]*Conn(nil), l.conns...)
		l.probes = append([]lagProbe(nil), l.probes...)
	}
}

// sweep enforces every deadline of the loop's connections: handshake,
// refusal and close deadlines, pings and the idle timeout, and the
// outbound budget. It runs on the loop every Config.SweepInterval.
func (l *loop) sweep(now int64) {
	cfg := &l.srv.cfg
	// The lag probe's rounds are half a sweep interval apart at least: a
	// loop behind on its tasks runs the sweeps that waited back to back,
	// and a round right after another measures nothing (lag.go).
	probe := cfg.MaxStateLag > 0 && now-l.lastProbe >= int64(cfg.SweepInterval)/2
	if probe {
		clear(l.paced)
		l.paced = l.paced[:0]
	}
	// Walk backwards: closing a connection swaps the last one into its
	// slot.
	for i := len(l.conns) - 1; i >= 0; i-- {
		if i >= len(l.conns) {
			continue
		}
		c := l.conns[i]
		switch c.state {
		case stateHandshake:
			if now > c.deadline {
				cfg.Logger.Debug("handshake timeout", "conn", c.id)
				c.refuseHTTP(408, "handshake timeout", 0)
			}
		case stateRefused, stateClosing:
			if now > c.deadline {
				c.expire()
			}
		case stateOpen:
			l.sweepOpen(c, now, probe)
		}
	}
	if l.srv.overBudget() {
		l.evict()
	}
	if probe {
		l.lastProbe = now
		l.pacedCount.Store(int32(len(l.paced)))
	}
	l.publishBehind()
}

// evict closes the loop's largest outbound holders first, among those
// with more than HighWater waiting behind what the kernel refused (held by
// gnet, or kept back in their queue while gnet holds bytes), until the
// process is back under MaxOutboundBytes. Each loop evicts its own connections; a
// holder under HighWater keeps up and is left alone. It runs after a
// flush that left the process over budget and at each sweep. Loop only.
func (l *loop) evict() {
	cfg := &l.srv.cfg
	big := l.evictScratch[:0]
	for _, c := range l.conns {
		behind := c.outBytes.Load()
		if c.holding {
			behind += c.queued.Load()
		}
		if c.state == stateOpen && behind > int64(cfg.HighWater) {
			big = append(big, c)
		}
	}
	slices.SortFunc(big, func(a, b *Conn) int {
		return cmp.Compare(b.outBytes.Load()+b.queued.Load(), a.outBytes.Load()+a.queued.Load())
	})
	for _, c := range big {
		if !l.srv.overBudget() {
			break
		}
		cfg.Logger.Debug("outbound budget: largest holder closed", "conn", c.id, "code", int(cfg.SlowCloseCode))
		c.fail(ReasonBudget, cfg.SlowCloseCode, "server outbound budget exceeded")
	}
	clear(big)
	l.evictScratch = big[:0]
}

// sweepOpen pings a quiet connection, closes a silent one, enforces the
// outbound budget and, in a round of the lag probe, probes it. Loop only.
func (l *loop) sweepOpen(c *Conn, now int64, probe bool) {
	cfg := &l.srv.cfg
	quiet := now - c.lastRead
	switch {
	case quiet > int64(cfg.IdleTimeout):
		cfg.Logger.Debug("idle timeout", "conn", c.id)
		c.fail(ReasonIdle, cfg.IdleCloseCode, "idle timeout")
		return
	case c.frameStart != 0 && now-c.frameStart > int64(cfg.FrameTimeout),
		c.msgStart != 0 && now-c.msgStart > int64(cfg.FrameTimeout):
		cfg.Logger.Debug("frame timeout", "conn", c.id)
		c.fail(ReasonFrameTimeout, cfg.IdleCloseCode, "frame not completed in time")
		return
	case quiet > int64(cfg.PingInterval) && now-c.lastPing > int64(cfg.PingInterval):
		c.lastPing = now
		c.sendControl(ws.OpPing, nil)
	}
	c.flushIfDrained()
	if c.state != stateOpen {
		return
	}
	out := int64(c.gc.OutboundBuffered())
	c.setOut(out)
	if probe {
		l.probeLag(c, out, now)
	}
	if out+c.queued.Load() <= int64(cfg.ReliableBudget) {
		c.overSince = 0
		return
	}
	if c.overSince == 0 {
		c.overSince = now
		return
	}
	if now-c.overSince > int64(cfg.SlowDeadline) {
		cfg.Logger.Debug("slow connection closed", "conn", c.id, "code", int(cfg.SlowCloseCode))
		c.fail(ReasonSlowDeadline, cfg.SlowCloseCode, "outbound budget exceeded")
	}
}
