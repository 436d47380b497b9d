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

// minFragment is the smallest continuation frame that does not count
// against the message rate on its own.
const minFragment = 1 << 10

// readFrames handles the frames at the start of b and returns how many bytes
// they used. It stops at an incomplete frame or when the connection stops
// reading. now is the time the bytes were read. Loop only.
func (c *Conn) readFrames(b []byte, now int64) int {
	c.inNeed, c.inMessage = 0, false
	if c.flooded {
		return len(b) // closing for a flood
	}
	cfg := &c.srv.cfg
	used := 0
	// Nothing is read past the peer's close frame (RFC 6455 §5.5.1).
	for (c.state == stateOpen || c.state == stateClosing) && !c.peerClosed {
		h, hn, ferr := parseHeader(b[used:])
		if ferr != nil {
			c.fail(ReasonProtocol, ferr.code, ferr.reason)
			return len(b)
		}
		if hn == 0 {
			c.frameWaits(used < len(b), now)
			return used
		}
		if h.Length > int64(cfg.MaxFrameSize) {
			c.fail(ReasonTooBig, errFrameTooBig.code, errFrameTooBig.reason)
			return len(b)
		}
		if c.state == stateOpen && !h.OpCode.IsControl() {
			if ferr := c.checkData(h); ferr != nil {
				why := ReasonProtocol
				if ferr == errMessageTooBig {
					why = ReasonTooBig
				}
				c.fail(why, ferr.code, ferr.reason)
				return len(b)
			}
		}
		end := used + hn + int(h.Length)
		if end > len(b) {
			// OnTraffic skips the reads until the frame is whole.
			c.inNeed = int32(end - used)
			c.inMessage = !h.Fin && !h.OpCode.IsControl()
			c.frameWaits(true, now)
			return used
		}
		c.frameStart = 0
		payload := b[used+hn : end]
		ws.Cipher(payload, h.Mask, 0)
		used = end
		c.loop.stats.framesIn.Add(1)
		// A message counts once, at its first frame; so does every
		// control frame, and every continuation too small to be anything
		// but a flood of frames (clients such as gorilla/websocket
		// fragment at 4 KiB).
		c.overRate = false
		if h.OpCode != ws.OpContinuation || h.Length < minFragment {
			c.overRate = !c.allowFrame(now)
			c.loop.counted++
		}
		if c.overRate {
			if float64(c.excess) > 4*float64(cfg.MessageRate) {
				// What the handler queued, its answers to the messages
				// over the rate among them, goes out before the close
				// frame; the rest of the flood is dropped unread.
				c.flooded = true
				c.closeAfterQueue(ReasonRate, cfg.RateCloseCode, "message rate exceeded")
				return len(b)
			}
			if h.OpCode == ws.OpPing || h.OpCode == ws.OpPong {
				continue // no pong for a ping over the rate
			}
		}
		ferr = c.dispatch(h, payload, now)
		c.overRate = false
		if ferr != nil {
			c.fail(ReasonProtocol, ferr.code, ferr.reason)
			return len(b)
		}
	}
	return len(b)
}

// frameWaits records that a frame is unfinished (partial) or that the
// bytes ended on a frame boundary. The sweep closes a connection whose
// unfinished frame is older than Config.FrameTimeout. Loop only.
func (c *Conn) frameWaits(partial bool, now int64) {
	switch {
	case !partial:
		c.frameStart = 0
	case c.frameStart == 0:
		c.frameStart = now
	}
}

// allowFrame takes one frame from the connection's rate bucket (rate
// Config.MessageRate, burst twice that), reporting false when it is
// empty; frames over the rate add to an excess that decays at the rate.
// Loop only.
func (c *Conn) allowFrame(now int64) bool {
	rate := float64(c.srv.cfg.MessageRate)
	dt := float64(max(0, now-c.rateLast)) / 1e9 // a time before the last refill refills nothing
	c.rateLast = max(c.rateLast, now)
	c.tokens = float32(min(float64(c.tokens)+dt*rate, 2*rate))
	c.excess = float32(max(0, float64(c.excess)-dt*rate))
	if c.tokens >= 1 {
		c.tokens--
		return true
	}
	c.excess++
	return false
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
func (c *Conn) dispatch(h ws.Header, p []byte, now int64) *frameError {
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
		c.msgStart = now
		c.fragOver = false
	}
	// The message is over the rate when one of its counted frames was,
	// its first above all: a last fragment of 1 KiB or more is not
	// counted, and its own verdict would clear the first one's.
	c.fragOver = c.fragOver || c.overRate
	c.msg = append(c.msg, p...)
	if c.fragOp == ws.OpText {
		n, ok := validUTF8Prefix(c.msg[c.utf8Done:])
		if !ok {
			return errBadUTF8
		}
		c.utf8Done += int32(n)
		if h.Fin && int(c.utf8Done) != len(c.msg) {
			return errBadUTF8
		}
	}
	if !h.Fin {
		return nil
	}
	op := c.fragOp
	c.fragOp, c.msgStart = 0, 0
	c.overRate, c.fragOver = c.fragOver, false
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
