package server

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// The read path. OnTraffic peeks everything gnet has buffered, and readFrames
// walks as many whole frames as it holds: each is checked from its header,
// unmasked in place in gnet's buffer with ws.Cipher and dispatched; the
// caller discards the bytes used, once. A frame that is not whole yet stays
// in gnet's buffer for the next call, and its size was already checked
// against the limits, so no more than MaxFrameSize+14 bytes of it are ever
// held.

// readFrames handles the frames at the start of b and returns how many bytes
// they used. It stops at an incomplete frame or when the connection stops
// reading. Loop only.
func (c *Conn) readFrames(b []byte) int {
	cfg := &c.srv.cfg
	used := 0
	for c.state == stateOpen || c.state == stateClosing {
		h, hn, ferr := parseHeader(b[used:])
		if ferr != nil {
			c.fail(ferr.code, ferr.reason)
			return len(b)
		}
		if hn == 0 {
			return used
		}
		if h.Length > int64(cfg.MaxFrameSize) {
			c.fail(errFrameTooBig.code, errFrameTooBig.reason)
			return len(b)
		}
		if c.state == stateOpen && !h.OpCode.IsControl() {
			if ferr := c.checkData(h); ferr != nil {
				c.fail(ferr.code, ferr.reason)
				return len(b)
			}
		}
		end := used + hn + int(h.Length)
		if end > len(b) {
			return used
		}
		payload := b[used+hn : end]
		ws.Cipher(payload, h.Mask, 0)
		used = end
		c.loop.stats.framesIn.Add(1)
		if ferr := c.dispatch(h, payload); ferr != nil {
			c.fail(ferr.code, ferr.reason)
			return len(b)
		}
	}
	return len(b)
}

// checkData applies the continuation and message size rules to a data
// frame header, before its payload is awaited.
func (c *Conn) checkData(h ws.Header) *frameError {
	switch {
	case h.OpCode == ws.OpContinuation && c.fragOp == 0:
		return errContUnexpect
	case h.OpCode != ws.OpContinuation && c.fragOp != 0:
		return errContExpected
	case int64(len(c.msg))+h.Length > int64(c.srv.cfg.MaxMessageSize):
		return errMessageTooBig
	}
	return nil
}

// dispatch acts on one whole, unmasked frame. Loop only.
func (c *Conn) dispatch(h ws.Header, p []byte) *frameError {
	switch h.OpCode {
	case ws.OpPing:
		if c.state == stateOpen {
			c.sendControl(ws.OpPong, p)
		}
		return nil
	case ws.OpPong:
		return nil
	case ws.OpClose:
		return c.onCloseFrame(p)
	}
	if c.state != stateOpen {
		return nil // RFC 6455 §1.4: data after our close frame is ignored
	}
	if h.Fin && h.OpCode != ws.OpContinuation {
		if h.OpCode == ws.OpText && !utf8.Valid(p) {
			return errBadUTF8
		}
		c.handler.OnMessage(c, h.OpCode, p)
		return nil
	}
	if h.OpCode != ws.OpContinuation {
		c.fragOp = h.OpCode
		c.utf8Done = 0
	}
	c.msg = append(c.msg, p...)
	if c.fragOp == ws.OpText {
		n, ok := validUTF8Prefix(c.msg[c.utf8Done:])
		if !ok {
			return errBadUTF8
		}
		c.utf8Done += n
		if h.Fin && c.utf8Done != len(c.msg) {
			return errBadUTF8
		}
	}
	if !h.Fin {
		return nil
	}
	op := c.fragOp
	c.fragOp = 0
	c.handler.OnMessage(c, op, c.msg)
	// Keep a modest buffer for the next fragmented message; give a big
	// one back so idle connections stay small.
	if cap(c.msg) > 64<<10 {
		c.msg = nil
	} else {
		c.msg = c.msg[:0]
	}
	return nil
}

// onCloseFrame answers the peer's close frame: it echoes the code when the
// close is the peer's, or completes our own closing handshake. Loop only.
func (c *Conn) onCloseFrame(p []byte) *frameError {
	code, reason, ferr := parseClose(p)
	if ferr != nil {
		return ferr
	}
	c.peerClosed = true
	if c.state == stateOpen {
		// Frames queued before the close go first, then the echo.
		c.flush()
		if c.state != stateOpen {
			return nil // the flush dropped a slow connection
		}
		c.closeCode, c.closeWhy = code, string(reason)
		c.mu.Lock()
		c.writeShut = true
		c.mu.Unlock()
		echo := code
		if code == ws.StatusNoStatusRcvd {
			echo = 0
		}
		l := c.loop
		l.ctl = appendClose(l.ctl[:0], echo, "")
		_, _ = c.gc.Write(l.ctl)
	}
	c.closeTCP()
	return nil
}
