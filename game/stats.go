package game

import (
	"sync/atomic"
	"time"
)

// HistogramBounds are the upper bounds of the tick histograms' buckets; a
// first bucket counts everything up to 50 µs and a last one everything
// above 100 ms. Between them the steps stay near a quarter of the value, so
// a p99 of 1 ms reads apart from one of 1.25, 1.5 or 2 ms.
var HistogramBounds = [...]time.Duration{
	50 * time.Microsecond, 75 * time.Microsecond, 100 * time.Microsecond,
	150 * time.Microsecond, 200 * time.Microsecond, 300 * time.Microsecond,
	400 * time.Microsecond, 500 * time.Microsecond, 600 * time.Microsecond,
	700 * time.Microsecond, 800 * time.Microsecond, 900 * time.Microsecond,
	time.Millisecond, 1250 * time.Microsecond, 1500 * time.Microsecond,
	1750 * time.Microsecond, 2 * time.Millisecond, 2500 * time.Microsecond,
	3 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond,
	6 * time.Millisecond, 8 * time.Millisecond, 10 * time.Millisecond,
	15 * time.Millisecond, 20 * time.Millisecond, 25 * time.Millisecond,
	30 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond,
	75 * time.Millisecond, 100 * time.Millisecond,
}

// histogram is a fixed-bucket, lock-free duration histogram. One goroutine
// (a shard worker) writes; any goroutine reads.
type histogram struct {
	counts [len(HistogramBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// add counts d in bucket i, bucket(d): the tick worker finds a tick's
// bucket once for the room's histogram and its game's.
func (h *histogram) add(i int, d time.Duration) {
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// bucket returns the index of the first bound not below d (the overflow
// bucket past the last), by binary search.
func bucket(d time.Duration) int {
	i, j := 0, len(HistogramBounds)
	for i < j {
		m := int(uint(i+j) >> 1)
		if d > HistogramBounds[m] {
			i = m + 1
		} else {
			j = m
		}
	}
	return i
}

func (h *histogram) snapshot() Histogram {
	var s Histogram
	for i := range h.counts {
		c := h.counts[i].Load()
		s.Counts[i] = c
		s.Count += c
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Histogram is a snapshot of a duration histogram: Counts[i] counts
// observations at most HistogramBounds[i] (and above the previous bound);
// the last entry counts those above every bound.
type Histogram struct {
	Counts [len(HistogramBounds) + 1]uint64
	Count  uint64
	Sum    time.Duration
}

// Quantile estimates the q-quantile (0..1) by linear interpolation inside
// its bucket. The overflow bucket reports the largest bound.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	var seen float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			if i == len(HistogramBounds) {
				return HistogramBounds[len(HistogramBounds)-1]
			}
			lo := time.Duration(0)
			if i > 0 {
				lo = HistogramBounds[i-1]
			}
			frac := (rank - seen) / float64(c)
			return lo + time.Duration(frac*float64(HistogramBounds[i]-lo))
		}
		seen += float64(c)
	}
	return HistogramBounds[len(HistogramBounds)-1]
}

// Merge adds o's counts into h.
func (h *Histogram) Merge(o Histogram) {
	for i := range h.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Count += o.Count
	h.Sum += o.Sum
}

// counters are a room's or a shard's event counts.
type counters struct {
	ticks         atomic.Uint64
	overruns      atomic.Uint64
	inboxDrops    atomic.Uint64
	rateLimited   atomic.Uint64
	framesEncoded atomic.Uint64
	stateSkipped  atomic.Uint64
	sleeps        atomic.Uint64
}

// Counters is a snapshot of event counts.
type Counters struct {
	// Ticks counts game steps run.
	Ticks uint64
	// Overruns counts times a room was still late after catching up and
	// skipped the ticks it missed.
	Overruns uint64
	// InboxDrops counts inputs dropped because the inbox was full.
	InboxDrops uint64
	// RateLimited counts inputs dropped by the per-seat rate limit.
	RateLimited uint64
	// FramesEncoded counts frames encoded (state, events, messages).
	FramesEncoded uint64
	// StateSkipped counts state frames not sent to a congested client.
	StateSkipped uint64
	// Sleeps counts times a room went off its tick to sleep (Sleeper);
	// the ticks it slept through are not in Ticks.
	Sleeps uint64
	// Crashes counts rooms closed because their game failed: a panic in
	// one of its methods during a tick, or a state over
	// Config.MaxStateBytes. A shard's and a game's only: a room's is 0.
	Crashes uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Ticks:         c.ticks.Load(),
		Overruns:      c.overruns.Load(),
		InboxDrops:    c.inboxDrops.Load(),
		RateLimited:   c.rateLimited.Load(),
		FramesEncoded: c.framesEncoded.Load(),
		StateSkipped:  c.stateSkipped.Load(),
		Sleeps:        c.sleeps.Load(),
	}
}

// Add adds o into c.
func (c *Counters) Add(o Counters) {
	c.Ticks += o.Ticks
	c.Overruns += o.Overruns
	c.InboxDrops += o.InboxDrops
	c.RateLimited += o.RateLimited
	c.FramesEncoded += o.FramesEncoded
	c.StateSkipped += o.StateSkipped
	c.Sleeps += o.Sleeps
	c.Crashes += o.Crashes
}

// TickStats are the timing histograms and counters of a room or a shard.
type TickStats struct {
	// Lateness is how long after its due time each tick started.
	Lateness Histogram
	// Duration is how long each tick (all its catch-up steps) took.
	Duration Histogram
	Counters
}

// Merge adds o's histograms and counters to t.
func (t *TickStats) Merge(o TickStats) {
	t.Lateness.Merge(o.Lateness)
	t.Duration.Merge(o.Duration)
	t.Counters.Add(o.Counters)
}

// tickStats is the live, atomic form of TickStats: a shard's and a
// game's. A room's is roomStats, which has no crashes: a crashed room is
// gone.
type tickStats struct {
	liveStats[histogram, *histogram]
	crashes atomic.Uint64
}

func (t *tickStats) snapshot() TickStats {
	s := t.liveStats.snapshot()
	s.Crashes = t.crashes.Load()
	return s
}

// roomStats is a room's tickStats, with the room's smaller histograms.
type roomStats = liveStats[roomHistogram, *roomHistogram]

// liveStats is the live, atomic form of TickStats over histograms H.
type liveStats[H any, P interface {
	*H
	snapshot() Histogram
}] struct {
	lateness H
	duration H
	counters
}

func (t *liveStats[H, P]) snapshot() TickStats {
	return TickStats{Lateness: P(&t.lateness).snapshot(), Duration: P(&t.duration).snapshot(), Counters: t.counters.snapshot()}
}

// roomHistogram is a room's own histogram, which only the admin API and
// the monitor read (its quantiles and mean): 32-bit counts, halved with
// the sum whenever one reaches roomHalveAt, so that a room that ticks for
// years keeps its shape in 144 bytes rather than 272. The shard's and
// game's histograms, which /metrics exports as counters, stay 64-bit.
// One goroutine (the room's shard worker) writes; any goroutine reads, and
// a read during a halving may see some buckets halved and others not, or
// the sum halved and the counts not (or the reverse), so that one read's
// quantiles are off and its mean doubled or halved.
type roomHistogram struct {
	counts [len(HistogramBounds) + 1]atomic.Uint32
	sum    atomic.Int64 // nanoseconds
}

// roomHalveAt is the count at which a room's histogram halves: at 120
// ticks a second, after about 200 days.
var roomHalveAt uint32 = 1 << 31

// add counts d in bucket i, bucket(d).
func (h *roomHistogram) add(i int, d time.Duration) {
	if h.counts[i].Add(1) >= roomHalveAt {
		for k := range h.counts {
			h.counts[k].Store(h.counts[k].Load() / 2)
		}
		h.sum.Store(h.sum.Load() / 2)
	}
	h.sum.Add(int64(d))
}

func (h *roomHistogram) snapshot() Histogram {
	var s Histogram
	for i := range h.counts {
		c := uint64(h.counts[i].Load())
		s.Counts[i] = c
		s.Count += c
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Stats is a snapshot of the runtime for the metrics layer.
type Stats struct {
	// Rooms is the number of live rooms.
	Rooms int
	// Shards holds one entry per shard worker; room counters are summed
	// into their shard's.
	Shards []ShardStats
	// Total sums every shard.
	Total TickStats
}

// ShardStats is one shard worker's snapshot.
type ShardStats struct {
	// Rooms is the number of rooms on the shard.
	Rooms int
	TickStats
}
