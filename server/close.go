package server

import (
	"syscall"

	"github.com/gobwas/ws"
)

// The close path. Every close the server chooses goes through fail (a
// close frame at once, dropping what is queued) or Conn.Close (a close
// frame behind what is queued), so the peer gets a typed close frame
// wherever the socket can still take one; the TCP connection then ends on
// the peer's FIN or, after Config.CloseTimeout, by expire. Every close is
// counted once, by code and CloseReason, when the socket closes, after
// the handler's OnClose.

// CloseReason says why a connection closed. The server counts closes by
// reason and code (Stats.Closed, Stats.ClosedFor).
type CloseReason uint8

const (
	// ReasonLost: the TCP connection ended without a close handshake.
	ReasonLost CloseReason = iota
	// ReasonPeer: the peer sent a close frame.
	ReasonPeer
	// ReasonApp: the Handler (or any caller of Conn.Close) closed it.
	ReasonApp
	// ReasonShutdown: the server is shutting down.
	ReasonShutdown
	// ReasonProtocol: the peer broke RFC 6455 (bad frame, bad UTF-8).
	ReasonProtocol
	// ReasonTooBig: a frame or message over MaxFrameSize or MaxMessageSize.
	ReasonTooBig
	// ReasonRate: frames (control frames included) over MessageRate.
	ReasonRate
	// ReasonFrameTimeout: a frame or fragmented message not completed
	// within FrameTimeout (slow drip).
	ReasonFrameTimeout
	// ReasonIdle: nothing read for IdleTimeout.
	ReasonIdle
	// ReasonSlowDeadline: outbound bytes over ReliableBudget for longer
	// than SlowDeadline.
	ReasonSlowDeadline
	// ReasonSlowBytes: outbound bytes over HardCap.
	ReasonSlowBytes
	// ReasonBudget: closed, as one of the largest holders, while the
	// process held more than MaxOutboundBytes.
	ReasonBudget
	// ReasonInputBudget: over its share of its address's or the server's
	// input budget (Config.InputBytesPerIP and the rest) while that
	// budget was exceeded.
	ReasonInputBudget
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonLost: "lost", ReasonPeer: "peer", ReasonApp: "app", ReasonShutdown: "shutdown",
	ReasonProtocol: "protocol", ReasonTooBig: "too_big", ReasonRate: "rate",
	ReasonFrameTimeout: "frame_timeout", ReasonIdle: "idle", ReasonSlowDeadline: "slow_deadline",
	ReasonSlowBytes: "slow_bytes", ReasonBudget: "outbound_budget", ReasonInputBudget: "input_budget",
}

// String returns the reason's metric label ("slow_deadline").
func (r CloseReason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// fail sends a close frame with code straight away, behind only what gnet
// already holds for the kernel, drops whatever is still queued, and
// lingers until the peer closes. Loop only.
func (c *Conn) fail(why CloseReason, code ws.StatusCode, reason string) {
	switch c.state {
	case stateClosing:
		// Our close frame is out; the peer broke the closing handshake.
		// What was left for a message it was sending (messageRest) is
		// no longer owed: it may send maxDrain more, less what it sent
		// past that allowance already. The socket goes at the deadline
		// our close frame started.
		deadline := c.deadline
		c.drained = max(c.drained, 0)
		c.releaseQueue()
		c.linger()
		c.deadline = deadline
		return
	case stateOpen:
	default:
		return
	}
	c.closeFor, c.closeCode, c.closeWhy = why, code, reason
	c.resetOnExpire = true
	c.releaseQueue()
	l := c.loop
	l.ctl = appendClose(l.ctl[:0], code, reason)
	_, _ = c.gc.Write(l.ctl)
	c.setOut(int64(c.gc.OutboundBuffered()))
	c.linger()
}

// linger stops all reading and writing on c and half-closes the socket, so
// the response or close frame just written reaches the peer instead of
// being lost to a reset when unread input is still arriving; the socket
// closes on the peer's FIN or at Config.CloseTimeout (see expire). When
// gnet still holds unsent bytes, the half-close waits until it has written
// them (recheckHeld); the socket is reset at the deadline if the peer has
// not taken them by then. Loop only.
func (c *Conn) linger() {
	c.mu.Lock()
	c.writeShut = true
	c.mu.Unlock()
	c.state = stateRefused
	c.deadline = nanotime() + int64(c.srv.cfg.CloseTimeout)
	// What gnet still holds is freed by the deadline at the latest; the
	// budget's eviction does not count it again.
	c.lingerBytes = c.outBytes.Load()
	c.srv.lingerHeld.Add(c.lingerBytes)
	if c.gc.OutboundBuffered() > 0 {
		// A FIN now would cut what gnet holds short, the response or
		// close frame last in it.
		c.loop.addHeld(c)
		return
	}
	c.shutWrite()
}

// shutWrite half-closes c's socket: the kernel sends its FIN behind what
// it holds for the peer. Loop only, with nothing held by gnet.
func (c *Conn) shutWrite() {
	_ = syscall.Shutdown(c.gc.Fd(), syscall.SHUT_WR)
}

// expire ends a closing or refused connection whose close deadline has
// passed. A connection the server failed (fail), or one for which gnet
// still holds bytes, is reset, so a peer that stopped reading cannot keep
// the server's buffers, or the kernel's for an orphaned socket, past the
// deadline; the others (an HTTP refusal, a Close whose frame went out)
// end gracefully. Loop only.
func (c *Conn) expire() {
	if c.state != stateClosed && (c.resetOnExpire || c.gc.OutboundBuffered() > 0) {
		c.resetTCP()
		return
	}
	c.closeTCP()
}

// resetTCP closes the socket with a zero linger, so the kernel discards the
// bytes it still holds for the peer and sends a reset. Loop only.
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

// onCloseFrame answers the peer's close frame: it echoes the code when the
// close is the peer's, or completes our own closing handshake. The socket
// closes once gnet has written what it holds for the peer, our close frame
// last (recheckHeld), or at the close deadline. Loop only.
func (c *Conn) onCloseFrame(p []byte) *frameError {
	code, reason, ferr := parseClose(p)
	if ferr != nil {
		return ferr
	}
	c.peerClosed = true
	if c.state == stateOpen {
		// Frames queued before the close go first, then the echo; a close
		// frame a Close queued already answers the peer's instead.
		echo := code
		if code == ws.StatusNoStatusRcvd {
			echo = 0
		}
		c.mu.Lock()
		if !c.writeShut {
			c.writeShut, c.closeReq = true, true
			c.reqFor, c.reqCode, c.reqReason = ReasonPeer, echo, ""
		}
		c.mu.Unlock()
		c.flush(false)
		if c.state != stateClosing {
			return nil // the flush closed a slow connection
		}
		if c.closeFor == ReasonPeer {
			c.closeCode, c.closeWhy = code, string(reason)
		}
	}
	if c.gc.OutboundBuffered() > 0 {
		// Closing the socket now would cut what gnet holds short, the
		// peer's answer among it.
		c.loop.addHeld(c)
		return nil
	}
	c.closeTCP()
	return nil
}
