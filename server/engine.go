package server

import (
	"net"
	"net/netip"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
)

// maxDrain is how many bytes a lingering or closing connection (an HTTP
// refusal or our close frame sent) may still send before it is reset,
// past the rest of a message it was sending when our close frame went out
// (messageRest).
const maxDrain = 256 << 10

// engine adapts Server to gnet's event callbacks. Every callback but
// OnBoot and OnTick runs on the event loop that owns the connection.
type engine struct {
	gnet.BuiltinEventEngine
	s         *Server
	nextSweep int64 // unix ns of the next sweep; OnTick's goroutine only
}

var _ gnet.EventHandler = (*engine)(nil)

// OnBoot records the engine and the listener's address.
func (e *engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.s.boot(eng)
	return gnet.None
}

// OnOpen sets up a connection and applies the connection limits.
func (e *engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := e.s
	l := s.loopFor(gc.EventLoop())
	c := &Conn{
		id:        s.nextID.Add(1),
		srv:       s,
		loop:      l,
		gc:        gc,
		remote:    gc.RemoteAddr(),
		listIndex: -1,
		closeCode: ws.StatusAbnormalClosure,
		deadline:  nanotime() + int64(s.cfg.HandshakeTimeout),
	}
	gc.SetContext(c)
	l.add(c)
	s.opened.Add(1)
	if s.open.Add(1) > int64(s.cfg.MaxConns) || s.shutting.Load() {
		s.refused.add(503)
		// No room: refuse at once rather than hold a socket for the
		// request. The 503 goes out before gnet closes the socket.
		c.state = stateRefused
		c.writeShut = true
		return []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"), gnet.Close
	}
	if ta, ok := c.remote.(*net.TCPAddr); ok {
		c.ip, _ = netip.AddrFromSlice(ta.IP)
		c.ip = c.ip.Unmap()
	}
	if !s.cfg.TrustedProxies.Contains(c.ip) && !s.handshakeStart(c) {
		// Over the per-address cap: refused at once, like the 503 above,
		// so an address holds no more sockets than the cap however
		// many it opens (held until its first byte, a silent one
		// stayed for HandshakeTimeout).
		s.refused.add(429)
		s.cfg.Logger.Debug("connection refused: handshakes per address", "conn", c.id, "ip", c.ip)
		c.state = stateRefused
		c.writeShut = true
		return refusedHandshakes, gnet.Close
	}
	notSentLowat(gc.Fd(), s.cfg.NotSentLowat)
	return nil, gnet.None
}

// refusedHandshakes answers a connection over Config.MaxHandshakesPerIP.
var refusedHandshakes = []byte("HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 49\r\n\r\ntoo many unfinished handshakes from this address\n")

// OnTraffic parses what the peer sent: the upgrade request, then frames.
func (e *engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.Close
	}
	now := nanotime()
	c.lastRead = now
	if !c.ackOwed { // written on change only: its line is the one rooms queue frames on
		c.ackOwed = true
	}
	avail := gc.InboundBuffered()
	fresh := avail - int(c.inKept) // what this read added
	l := c.loop
	l.inTraffic = c
	l.counted, l.refused, l.refusedFrames = 0, 0, 0
	l.beginTurn()
	used := 0
	opened := c.state == stateOpen
	switch {
	case c.state == stateClosing && !c.countDrain(fresh):
		// Reset: past maxDrain after our close frame.
	case (c.state == stateOpen || c.state == stateClosing) && avail < int(c.inNeed):
		// The frame at the front is still incomplete, and its header was
		// checked when it began: wait for the rest without peeking. gnet
		// copies what is buffered into one slice on every Peek, so peeking
		// at each read of a large frame would copy it over and over.
		c.chargeInput(now, fresh)
		c.flushIfDrained()
	default:
		b, _ := gc.Peek(-1)
		lingering := c.state == stateRefused
		if c.state == stateHandshake {
			if c.srv.cfg.ProxyProtocol && !c.proxyRead && c.refuse == 0 {
				n, ok := c.readProxyHeader(b)
				used = n
				if ok {
					used += c.handshake(b[n:])
				}
			} else {
				used = c.handshake(b)
			}
		}
		if c.state == stateOpen || c.state == stateClosing {
			used += c.readFrames(b[used:], now)
			if opened {
				c.chargeInput(now, fresh)
			}
			// A peer that reads again may have let gnet drain.
			c.flushIfDrained()
		}
		if c.state == stateRefused {
			used = len(b) // input is drained and ignored while lingering
			if lingering {
				// A peer that keeps sending after our answer is not
				// listening: past maxDrain it is reset, so a flood costs no
				// more reading than that.
				c.countDrain(len(b))
			}
		}
	}
	l.endTurn()
	l.inTraffic = nil
	l.stats.bytesIn.Add(uint64(used))
	if c.closeNow {
		return gnet.Close
	}
	if used > 0 {
		_, _ = gc.Discard(used)
	}
	c.inKept = int32(avail - used)
	return gnet.None
}

// countDrain counts n bytes read and ignored from a peer after our close
// frame or HTTP refusal, and resets the connection past maxDrain,
// reporting false then. Loop only.
func (c *Conn) countDrain(n int) bool {
	if c.drained += int32(min(n, maxDrain+1)); c.drained > maxDrain {
		c.resetTCP()
		return false
	}
	return true
}

// OnClose releases a connection and tells its handler, once.
func (e *engine) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*Conn)
	if !ok {
		return gnet.None
	}
	s := e.s
	s.handshakeDone(c)
	s.connDone(c)
	c.state = stateClosed
	c.releaseQueue()
	c.setOut(0)
	s.lingerHeld.Add(-c.lingerBytes)
	c.lingerBytes = 0
	c.loop.remove(c)
	c.msg = nil
	if c.accepted {
		// Counted once the handler is done with the connection: one who
		// sees the close counted (Stats, metrics) sees what OnClose did.
		c.accepted = false
		code := c.closeCode
		c.handler.OnClose(c, code, c.closeWhy)
		// Counted before it leaves Open, which Stats reads first: a
		// snapshot with Open at 0 has every close counted.
		s.closes.add(c.closeFor, countedCode(c.closeFor, code))
		s.open.Add(-1)
		return gnet.None
	}
	s.open.Add(-1)
	return gnet.None
}

// countedCode is the code a close counts under in Stats.Closed: its own,
// but for a close the peer started with a code of the 3000–4999 ranges,
// which is the client's to choose; those count together under 0, so that
// clients can neither add a metric series each nor pass for the server's
// own application codes (4001 slow, 4002 rate limited, …).
func countedCode(why CloseReason, code StatusCode) int {
	if why == ReasonPeer && code >= 3000 {
		return 0
	}
	return int(code)
}

// OnTick asks every loop to sweep its connections' deadlines each
// Config.SweepInterval, and in between, every drainRecheck, the loops that
// keep frames back for connections to flush those gnet has drained, and
// those with connections whose link is the limit to look at their lag
// again (recheckLag).
func (e *engine) OnTick() (time.Duration, gnet.Action) {
	s := e.s
	now := nanotime()
	sweep := now >= e.nextSweep
	if sweep {
		e.nextSweep = now + int64(s.cfg.SweepInterval)
	}
	for _, l := range s.loopList() {
		switch {
		case sweep:
			_ = l.el.Execute(s.ctx, l.sweepTask) // the sweep flushes drained connections too
		case l.heldCount.Load() > 0 || l.pacedCount.Load() > 0:
			_ = l.el.Execute(s.ctx, l.recheckTask)
		}
	}
	return min(s.cfg.SweepInterval, drainRecheck), gnet.None
}
