package server

import (
	"context"
	"sync"
	"syscall"
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
	conns []*Conn  // every open TCP connection of the loop, for the sweep
	req   Request  // scratch for the upgrade being parsed
	out   []byte   // scratch for HTTP responses
	ctl   []byte   // scratch for control frames written directly
	iov   [][]byte // scratch for Writev
	// inTraffic is the connection whose OnTraffic is running: it must be
	// closed by returning gnet.Close, not with EventLoop.Close.
	inTraffic *Conn

	// Guarded by mu.
	mu           sync.Mutex
	dirty        []*Conn
	spare        []*Conn
	flushPending bool // a flush task is submitted and has not run
	inTurn       bool // OnTraffic is running; its end flushes dirty

	flushTask gnet.Runnable
	sweepTask gnet.Runnable

	stats loopStats
}

func newLoop(s *Server, el gnet.EventLoop) *loop {
	l := &loop{srv: s, el: el, out: make([]byte, 0, 512), ctl: make([]byte, 0, 2+maxControlPayload)}
	l.flushTask = gnet.RunnableFunc(func(context.Context) error { l.flushDirty(); return nil })
	l.sweepTask = gnet.RunnableFunc(func(context.Context) error { l.sweep(time.Now().UnixNano()); return nil })
	return l
}

// add registers a newly opened connection. Loop only.
func (l *loop) add(c *Conn) {
	c.listIndex = len(l.conns)
	l.conns = append(l.conns, c)
}

// remove unregisters a closed connection. Loop only.
func (l *loop) remove(c *Conn) {
	i := c.listIndex
	if i < 0 || i >= len(l.conns) || l.conns[i] != c {
		return
	}
	last := len(l.conns) - 1
	l.conns[i] = l.conns[last]
	l.conns[i].listIndex = i
	l.conns[last] = nil
	l.conns = l.conns[:last]
	c.listIndex = -1
	if cap(l.conns) > 64 && len(l.conns) < cap(l.conns)/4 {
		l.conns = append([]*Conn(nil), l.conns...)
	}
}

// sweep enforces every deadline of the loop's connections: handshake,
// refusal and close deadlines, pings and the idle timeout, and the
// outbound budget. It runs on the loop every Config.SweepInterval.
func (l *loop) sweep(now int64) {
	cfg := &l.srv.cfg
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
				c.refuseHTTP(408, "handshake timeout")
			}
		case stateRefused, stateClosing:
			if now > c.deadline {
				c.closeTCP()
			}
		case stateOpen:
			l.sweepOpen(c, now)
		}
	}
}

// sweepOpen pings a quiet connection, closes a silent one and enforces the
// outbound budget. Loop only.
func (l *loop) sweepOpen(c *Conn, now int64) {
	cfg := &l.srv.cfg
	quiet := now - c.lastRead
	switch {
	case quiet > int64(cfg.IdleTimeout):
		cfg.Logger.Debug("idle timeout", "conn", c.id)
		code := cfg.IdleCloseCode
		if code == 0 {
			code = ws.StatusGoingAway
		}
		c.fail(code, "idle timeout")
		return
	case quiet > int64(cfg.PingInterval) && now-c.lastPing > int64(cfg.PingInterval):
		c.lastPing = now
		c.sendControl(ws.OpPing, nil)
	}
	out := int64(c.gc.OutboundBuffered())
	c.outBytes.Store(out)
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
		c.closeCode, c.closeWhy = cfg.SlowCloseCode, "outbound budget exceeded"
		c.releaseQueue()
		c.resetTCP()
	}
}

// resetTCP drops a connection too slow to read what it is sent: the
// socket is closed with a zero linger, so the kernel discards the bytes it
// still holds for the peer and sends a reset. A graceful close would keep
// megabytes queued behind a closed window and the peer would learn of the
// close only after reading them all, if ever. Loop only.
func (c *Conn) resetTCP() {
	if c.state != stateClosed {
		_ = syscall.SetsockoptLinger(c.gc.Fd(), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	}
	c.closeTCP()
}

// closeTCP closes c's socket: at the end of its OnTraffic when that is
// running, else at once. Loop only.
func (c *Conn) closeTCP() {
	if c.state == stateClosed {
		return
	}
	if c.loop.inTraffic == c {
		c.closeNow = true
		c.state = stateClosed // nothing more is read or written
		return
	}
	_ = c.loop.el.Close(c.gc)
}
