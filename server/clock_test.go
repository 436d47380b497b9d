package server

import (
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// overRateLog records, for each message, whether it came over the rate.
type overRateLog struct {
	BaseHandler
	over []bool
}

func (h *overRateLog) OnMessage(c *Conn, _ ws.OpCode, _ []byte) {
	h.over = append(h.over, c.OverRate())
}

// TestClockStepBackKeepsRateBucket: a connection that sent a message and
// then, after the wall clock stepped back (an NTP step, a VM resumed),
// sends more is neither closed as a flood nor held over its rate. The
// loop read its times from the wall clock, and the bucket took a step
// back for seconds of debt: every message went over the rate, and the
// first of them closed the connection. The loop's clock is now monotonic
// (nanotime), and a bucket handed an earlier time refills nothing.
func TestClockStepBackKeepsRateBucket(t *testing.T) {
	s, _, l := newFakeServer(Config{MessageRate: 10})
	h := &overRateLog{}
	c, _ := newFakeConn(s, nil, l, h)
	t0 := nanotime()
	c.tokens, c.rateLast = 20, t0
	feed := func(now int64) {
		t.Helper()
		l.inTraffic = c
		b := maskedFrame(0x81, []byte("hi"))
		if n := c.readFrames(b, now); n != len(b) {
			t.Fatalf("readFrames used %d of %d", n, len(b))
		}
		l.inTraffic = nil
	}
	feed(t0)
	back := t0 - int64(10*time.Second) // the clock stepped back 10 s
	feed(back)
	feed(back + int64(time.Millisecond))
	c.mu.Lock()
	closing := c.closeReq
	c.mu.Unlock()
	if c.flooded || closing {
		t.Fatalf("connection closed as a flood after the clock stepped back (excess %v)", c.excess)
	}
	if len(h.over) != 3 || h.over[1] || h.over[2] {
		t.Fatalf("messages over the rate after the step: %v", h.over)
	}
}
