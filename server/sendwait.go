package server

import (
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/internal/frame"
)

// SendWaitBounds are the upper bounds of the send wait histogram's
// buckets (Stats.SendWait); a last bucket counts everything above 1 s.
// They reach past a tick period or two at the usual rates, where a loop
// that has fallen behind on its writes shows.
var SendWaitBounds = [...]time.Duration{
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond,
	2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 30 * time.Millisecond, 50 * time.Millisecond,
	75 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond,
	200 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond,
	time.Second,
}

// WaitHistogram is a snapshot of the send wait histogram: Counts[i]
// counts waits at most SendWaitBounds[i] (and above the bound before);
// the last count, waits above the last bound.
type WaitHistogram struct {
	Counts [len(SendWaitBounds) + 1]uint64
	Count  uint64
	Sum    time.Duration
}

// waitHist is a loop's send wait histogram: the loop writes, any
// goroutine reads.
type waitHist struct {
	counts [len(SendWaitBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func (h *waitHist) add(d time.Duration) {
	i := 0
	for i < len(SendWaitBounds) && d > SendWaitBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// addTo adds h's counts to s.
func (h *waitHist) addTo(s *WaitHistogram) {
	for i := range h.counts {
		c := h.counts[i].Load()
		s.Counts[i] += c
		s.Count += c
	}
	s.Sum += time.Duration(h.sum.Load())
}

// noteWait counts, for a flush that wrote items, how long the oldest of
// them that says when it was made (frame.Frame.SetMade: a room's frames,
// from the start of their tick) waited until l.flushNow, the start of its
// stretch of the flush's writes. Loop only.
func (l *loop) noteWait(items []*frame.Frame) {
	for _, f := range items {
		if m := f.Made(); m != 0 {
			l.stats.sendWait.add(time.Duration(max(0, l.flushNow-m)))
			return
		}
	}
}
