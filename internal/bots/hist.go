package bots

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Histogram bucketing: values below histSub are exact; above, each power of
// two is split into histSub/2 buckets, so a bucket's width is at most 1/64
// of its lower bound (1.6 % relative error) over the whole uint64 range.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits // 128
	histHalf    = histSub / 2
	histBuckets = histSub + (64-histSubBits)*histHalf
)

// Histogram is a high-dynamic-range histogram of non-negative integers
// (microseconds, ticks) with bounded relative error. Record is safe from any
// goroutine and does not allocate; each bot loop records into its own
// histogram, and readers merge them with Snapshot.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Uint64
}

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // ≥ 1
	return histSub + (shift-1)*histHalf + int(v>>uint(shift)) - histHalf
}

// histLow returns the smallest value of bucket i.
func histLow(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	i -= histSub
	shift := uint(i/histHalf + 1)
	return uint64(i%histHalf+histHalf) << shift
}

// histHigh returns the largest value of bucket i.
func histHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := uint((i-histSub)/histHalf + 1)
	return histLow(i) + (1 << shift) - 1
}

// Record adds one value.
func (h *Histogram) Record(v uint64) {
	h.counts[histIndex(v)].Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// HistSnapshot is a point-in-time copy of one or more histograms, which
// can be merged and diffed. Not safe for concurrent use.
type HistSnapshot struct {
	Counts [histBuckets]uint64
	Max    uint64
}

// Snapshot adds h's counts into s.
func (h *Histogram) Snapshot(s *HistSnapshot) {
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			s.Counts[i] += c
		}
	}
	s.Max = max(s.Max, h.max.Load())
}

// Sub returns s minus an earlier snapshot of the same histograms: the values
// recorded in between. Max is an upper bound taken from the highest
// non-empty bucket.
func (s *HistSnapshot) Sub(prev *HistSnapshot) *HistSnapshot {
	out := new(HistSnapshot)
	top := -1
	for i := range s.Counts {
		out.Counts[i] = s.Counts[i] - prev.Counts[i]
		if out.Counts[i] != 0 {
			top = i
		}
	}
	if top >= 0 {
		out.Max = min(s.Max, histHigh(top))
	}
	return out
}

// Count returns the number of values.
func (s *HistSnapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Quantile returns the value at quantile q (0..1), by nearest rank: the
// value of rank ⌈q·n⌉, the smallest with at least q of the values at or
// below it, given as the upper bound of the bucket that holds it, capped
// at Max; 0 when empty.
func (s *HistSnapshot) Quantile(q float64) uint64 {
	n := s.Count()
	if n == 0 {
		return 0
	}
	// Less a hair for q·n that should be whole (0.99 × 100 is not, quite,
	// in floating point).
	rank := uint64(math.Ceil(q*float64(n) - 1e-9))
	rank = max(1, min(rank, n))
	var seen uint64
	for i, c := range s.Counts {
		seen += c
		if seen >= rank {
			return min(histHigh(i), s.Max)
		}
	}
	return s.Max
}

// Mean returns the mean of the bucket midpoints, each bucket's range cut
// at Max (the top bucket's values are no larger), so the mean is never
// above the maximum.
func (s *HistSnapshot) Mean() float64 {
	var n, sum float64
	for i, c := range s.Counts {
		if c != 0 {
			lo, hi := histLow(i), histHigh(i)
			if s.Max >= lo {
				hi = min(hi, s.Max)
			}
			n += float64(c)
			sum += float64(c) * (float64(lo) + float64(hi)) / 2
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// Summary is a histogram's headline figures.
type Summary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   uint64  `json:"p50"`
	P90   uint64  `json:"p90"`
	P99   uint64  `json:"p99"`
	P999  uint64  `json:"p99_9"`
	Max   uint64  `json:"max"`
}

// Summary returns s's count, mean, percentiles and maximum.
func (s *HistSnapshot) Summary() Summary {
	return Summary{
		Count: s.Count(), Mean: s.Mean(), P50: s.Quantile(0.50), P90: s.Quantile(0.90),
		P99: s.Quantile(0.99), P999: s.Quantile(0.999), Max: s.Max,
	}
}
