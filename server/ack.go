package server

import (
	"sync/atomic"
	"time"
)

// lateAnswer is how long after a read a connection's first write must come
// for delayAcks to take it that the kernel's delayed-ACK timer has already
// sent the read bytes' ACK. The timer runs 40 ms where round trips are
// shorter (loopback, LANs; longer on longer ones), in jiffies, so with
// HZ=250 it fires 36–40 ms after the bytes arrived, and the read is stamped
// a little after that: 32 ms leaves room for both. A write taken for late
// that was not costs one setsockopt(2); a late one missed costs an ACK.
const lateAnswer = 32 * time.Millisecond

// delayAcksOff turns delayAcks off, for the test that compares the two.
var delayAcksOff atomic.Bool

// delayAcks runs after the first write since a read. Linux acknowledges a
// client's small segment late, in the next segment the server sends, while
// the connection is interactive ("pingpong": the server answered within
// the delayed-ACK timeout of the client's last segment). When an answer
// comes later than that, the timer sends the ACK and the connection stops
// being interactive; the read of the client's next segment then sends an
// ACK of its own (tcp_cleanup_rbuf), although a frame follows within the
// tick. An arena room at 20 Hz answers an input at 10 Hz in its next frame,
// 0–50 ms later: one input in four or five waits that long, and those ACKs
// at read took 2.3–3.4 % of the server's CPU at 3,000 bots and 7 % at
// 5,000 (BENCHMARKS.md, "An ACK less a late answer"). So after a late
// write the connection is made interactive again, as TCP_QUICKACK off does:
// one setsockopt(2) in place of the ACK's transmit. The client's TCP sees
// what it sees from any server that answers in time: its segments' ACKs
// ride on the server's. A failure changes nothing but the cost. Loop only.
func (c *Conn) delayAcks() {
	c.ackOwed = false
	if delayAcksOff.Load() || nanotime()-c.lastRead < int64(lateAnswer) {
		return
	}
	interactive(c.gc.Fd())
}
