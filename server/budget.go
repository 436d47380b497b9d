package server

import (
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Input budgets: what the connections of one client address, and of the
// whole server, may send together.
//
// Config.MessageRate holds each connection to its own rate, but the
// connections of one address add up: 250 of them, each within its rate,
// kept a core busy reading pings or 60 KB messages that were all refused.
// So input is also counted per client address (Conn.ClientIP) and for the
// server as a whole, in bytes and in frames (the frames MessageRate
// counts: messages and control frames), against token buckets of
// golang.org/x/time/rate: a check per read, not per frame, so the
// Limiter's mutex costs a read what the connection's own bucket
// (allowFrame) costs a frame.
//
// The budgets hold back no one while they are not exceeded. Once an
// address (or the server) is over one, a connection that sends more than
// its share of it, the budget divided among the connections that share
// it, is closed with Config.RateCloseCode after what its handler queued,
// like a connection over its own rate; the rest of its input is dropped
// unread. Closing, rather than skipping pongs or dropping messages, is
// what stops the bytes: a connection that is left open goes on costing
// the server a read for every byte it sends. A connection within its
// share, such as a player behind the same NAT as a flood, is not touched.

// refusedWeight is how many times a message a handler refused (Conn.Refused)
// counts against the input budgets, so a flood of bad messages reaches them
// sooner than a flood of good ones.
const refusedWeight = 4

// minFrameShare is the smallest burst of frames a connection's share of
// the frame budgets holds.
const minFrameShare = 16

// maxClientHeaderLen is the longest header of a client frame (masked,
// 64-bit length; RFC 6455 §5.2).
const maxClientHeaderLen = 14

// addrState is what the server keeps per client address: its upgraded
// connections and its input budgets.
type addrState struct {
	conns         atomic.Int32 // changed under Server.ipMu
	bytes, frames *rate.Limiter
}

// newBudget returns a bucket of perSecond units a second with a burst of
// twice that.
func newBudget(perSecond int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(perSecond), 2*perSecond)
}

// chargeInput counts n bytes just read from c, and the frames of the read
// that counted against the message rate (loop.counted), against c's
// address and the server, and closes c when it is over its share of a
// budget that is exceeded (see the top of this file). Loop only.
func (c *Conn) chargeInput(now int64, n int) {
	l := c.loop
	frames := l.counted
	n += l.refused * (refusedWeight - 1) // once already, as read
	frames += l.refusedFrames * (refusedWeight - 1)
	l.counted, l.refused, l.refusedFrames = 0, 0, 0
	a := c.addr
	if a == nil || c.state != stateOpen || c.flooded || (n <= 0 && frames == 0) {
		return
	}
	s := c.srv
	cfg := &s.cfg
	t := time.Unix(0, now)
	var addrOver, allOver, bytesOver, framesOver bool
	if n > 0 {
		addrOver = !a.bytes.AllowN(t, n)
		allOver = !s.inBytes.AllowN(t, n)
		bytesOver = addrOver || allOver
	}
	if frames > 0 {
		fa, fs := !a.frames.AllowN(t, frames), !s.inFrames.AllowN(t, frames)
		addrOver, allOver = addrOver || fa, allOver || fs
		framesOver = fa || fs
	}
	// The connection's share: the smaller of its address's budget and the
	// server's, each divided among the connections that share it. Its
	// burst holds at least one message of the largest size.
	conns := float64(max(1, a.conns.Load()))
	all := float64(max(1, s.open.Load()))
	byteRate := min(float64(cfg.InputBytesPerIP)/conns, float64(cfg.InputBytes)/all)
	frameRate := min(float64(cfg.InputFramesPerIP)/conns, float64(cfg.InputFrames)/all)
	byteBurst := max(2*byteRate, float64(cfg.MaxMessageSize+maxClientHeaderLen))
	frameBurst := max(2*frameRate, minFrameShare)
	dt := math.Inf(1) // the first charge finds the share full
	if c.inLast != 0 {
		dt = float64(max(0, now-c.inLast)) / 1e9
	}
	c.inLast = max(c.inLast, now)
	// A debt is kept up to one burst, so a connection that was over its
	// share earns it back within two bursts' time.
	c.byteShare = float32(max(-byteBurst, min(float64(c.byteShare)+dt*byteRate, byteBurst)-float64(n)))
	c.frameShare = float32(max(-frameBurst, min(float64(c.frameShare)+dt*frameRate, frameBurst)-float64(frames)))
	if !(bytesOver && c.byteShare < 0) && !(framesOver && c.frameShare < 0) {
		return
	}
	reason := "input over the server's budget"
	if addrOver {
		reason = "input over its address's budget"
	}
	cfg.Logger.Debug("input budget exceeded", "conn", c.id, "ip", c.ip, "code", int(cfg.RateCloseCode), "reason", reason)
	// What the handler queued goes out before the close frame; the rest
	// of the input is dropped unread (see readFrames).
	c.flooded = true
	c.closeAfterQueue(ReasonInputBudget, cfg.RateCloseCode, reason)
}

// Refused tells the transport that the message being handed to
// Handler.OnMessage was refused as invalid (a field over its limit, a
// body that does not decode): it then counts refusedWeight times against
// the connection's input budgets, bytes and frames, so a flood of refused
// messages from one address closes its senders sooner than a flood of
// valid ones would. Loop only, during OnMessage.
func (c *Conn) Refused(n int) {
	if c.loop.inTraffic == c {
		c.loop.refused += n
		c.loop.refusedFrames++
	}
}
