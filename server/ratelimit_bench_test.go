package server

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// The per-message rate check runs on the event loop for every frame a
// client sends. These benchmarks compare the connection's own token bucket
// (Conn.allowFrame) with golang.org/x/time/rate's Limiter on that path,
// each at 120 messages/s with a burst of 240, the default, and messages
// arriving at 100/s so that every check passes. Both read the clock
// themselves, as on the loop. BENCHMARKS.md has the figures and the
// decision.

func rateConn() *Conn {
	return &Conn{srv: &Server{cfg: Config{MessageRate: 120}}, tokens: 240}
}

func BenchmarkMessageRateOwnBucket(b *testing.B) {
	c := rateConn()
	c.rateLast = time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		if !c.allowFrame(time.Now().UnixNano()) {
			c.tokens = 240
		}
	}
}

func BenchmarkMessageRateXTimeRate(b *testing.B) {
	l := rate.NewLimiter(120, 240)
	b.ReportAllocs()
	for b.Loop() {
		if !l.AllowN(time.Now(), 1) {
			l.SetBurst(240)
		}
	}
}

// The two variants below step a fake clock by 10 ms per message, so the
// bucket refills and no check fails: the cost of the arithmetic alone.

func BenchmarkMessageRateOwnBucketFakeClock(b *testing.B) {
	now := time.Unix(1_800_000_000, 0).UnixNano()
	c := rateConn()
	c.rateLast = now
	b.ReportAllocs()
	for b.Loop() {
		now += int64(10 * time.Millisecond)
		if !c.allowFrame(now) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkMessageRateXTimeRateFakeClock(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	l := rate.NewLimiter(120, 240)
	l.SetBurstAt(now, 240)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Millisecond)
		if !l.AllowN(now, 1) {
			b.Fatal("refused")
		}
	}
}

// BenchmarkInputBudgetCharge is the input budgets' cost per read (one
// frame of 100 bytes a read, the worst case): the address's and the
// server's Limiters for bytes and frames, and the connection's share.
func BenchmarkInputBudgetCharge(b *testing.B) {
	s, _, l := newFakeServer(Config{})
	c, _ := newFakeConn(s, nil, l, BaseHandler{})
	c.addr = &addrState{bytes: newBudget(s.cfg.InputBytesPerIP), frames: newBudget(s.cfg.InputFramesPerIP)}
	c.addr.conns.Store(1)
	now := time.Unix(1_800_000_000, 0).UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		now += int64(time.Millisecond)
		l.counted = 1
		c.chargeInput(now, 100)
		if c.flooded {
			b.Fatal("closed")
		}
	}
}
