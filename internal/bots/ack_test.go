package bots

import (
	"testing"
	"time"
)

// TestAckTimesEveryInput: a bot with more inputs awaiting their ack than
// its first ring of send times holds (128: 12.8 s at 10 Hz, as 10,000
// bots on this box had) still times every input when the ack comes, the
// slowest included, and counts every one acknowledged. Before, the
// oldest were neither timed nor counted: the latency's top was clipped
// at about 12.8 s.
func TestAckTimesEveryInput(t *testing.T) {
	const n, period = 200, int64(100 * time.Millisecond)
	b := &bot{l: &loop{st: new(loopStats)}}
	for i := int64(1); i <= n; i++ {
		b.seq++
		b.stamp(b.seq, i*period)
	}
	now := n*period + period/2
	b.ack(n, now)
	var s HistSnapshot
	b.l.st.latency.Snapshot(&s)
	want := uint64(now-period) / 1e3 // the first input's, µs
	if s.Count() != n || s.Max != want || b.l.st.c[cAcked].Load() != n {
		t.Fatalf("%d inputs timed (max %d µs), %d counted acked; want %d, max %d µs, %d", s.Count(), s.Max, b.l.st.c[cAcked].Load(), n, want, n)
	}
	// Past the most a bot keeps, the inputs it could not time are counted
	// as acknowledged and as untimed.
	b = &bot{l: &loop{st: new(loopStats)}}
	for i := int64(1); i <= maxAckWindow+10; i++ {
		b.seq++
		b.stamp(b.seq, i*period)
	}
	b.ack(b.seq, (maxAckWindow+11)*period)
	if acked, untimed := b.l.st.c[cAcked].Load(), b.l.st.c[cUntimed].Load(); acked != maxAckWindow+10 || untimed != 10 {
		t.Fatalf("%d acked, %d untimed; want %d and 10", acked, untimed, maxAckWindow+10)
	}
}

// TestAckLeavesOutOverwrittenSendTimes: once more inputs await their ack
// than the most a bot keeps, the send times of the oldest are written
// over by the newest; an ack that reaches only some of them times those
// whose send times are still kept, and counts the others untimed. Before,
// the oldest were timed from the send times of inputs sent 4,096 later:
// latencies hundreds of seconds short.
func TestAckLeavesOutOverwrittenSendTimes(t *testing.T) {
	const period = int64(100 * time.Millisecond)
	const sent, acked = maxAckWindow + 100, maxAckWindow + 10
	b := &bot{l: &loop{st: new(loopStats)}}
	for i := int64(1); i <= sent; i++ {
		b.seq++
		b.stamp(b.seq, i*period)
	}
	now := (sent + 1) * period
	b.ack(acked, now)
	var s HistSnapshot
	b.l.st.latency.Snapshot(&s)
	// Input acked was sent at acked × period, the latest of those acked:
	// none of them waited less.
	least := uint64(now-acked*period) / 1e3
	for i, c := range s.Counts {
		if c != 0 && histHigh(i) < least {
			t.Fatalf("%d inputs timed at %d µs or less; none of those acknowledged waited less than %d µs", c, histHigh(i), least)
		}
	}
	untimed := b.l.st.c[cUntimed].Load()
	if s.Count()+untimed != acked || untimed != sent-maxAckWindow {
		t.Fatalf("%d timed, %d untimed; want %d timed (the send times kept) and %d untimed", s.Count(), untimed, acked-(sent-maxAckWindow), sent-maxAckWindow)
	}
}
