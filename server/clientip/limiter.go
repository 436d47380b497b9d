package clientip

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/internal/limits"
)

// Buckets is a table of token buckets (golang.org/x/time/rate), one per
// key, bounded in size: past the bound the least recently used bucket is
// forgotten, one per new key, so a caller who cycles through many keys
// resets the buckets idle the longest (whose buckets have refilled the
// most) one at a time, never everyone's at once. Safe from any goroutine.
// A nil *Buckets, or one with rate.Inf, allows everything.
type Buckets[K comparable] struct {
	limit rate.Limit
	burst int
	max   int

	mu   sync.Mutex
	keys map[K]*list.Element // guarded by mu; values are *bucket[K]
	lru  list.List           // guarded by mu; most recently used at the front
}

type bucket[K comparable] struct {
	key K
	lim *rate.Limiter
}

// NewBuckets returns a table of buckets of limit and burst holding at most
// maxKeys keys (at least 2).
func NewBuckets[K comparable](limit rate.Limit, burst, maxKeys int) *Buckets[K] {
	return &Buckets[K]{limit: limit, burst: burst, max: max(maxKeys, 2), keys: make(map[K]*list.Element)}
}

// off reports whether b limits nothing (nil, rate.Inf, or +Inf from a flag).
func (b *Buckets[K]) off() bool { return b == nil || b.limit >= rate.Inf }

// Allow takes one token from key's bucket at now. When the bucket is
// empty it takes nothing and returns false and how long until a token
// would be there.
func (b *Buckets[K]) Allow(key K, now time.Time) (bool, time.Duration) {
	if b.off() {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.bucket(key, 1).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// bucket returns key's limiter, made with factor times the configured
// rate and burst when key is new, and marks it most recently used. A new
// key past the bound replaces the least recently used. The caller holds
// mu.
func (b *Buckets[K]) bucket(key K, factor int) *rate.Limiter {
	if e, ok := b.keys[key]; ok {
		b.lru.MoveToFront(e)
		return e.Value.(*bucket[K]).lim
	}
	if len(b.keys) >= b.max {
		old := b.lru.Back()
		delete(b.keys, old.Value.(*bucket[K]).key)
		b.lru.Remove(old)
	}
	nb := &bucket[K]{key: key, lim: rate.NewLimiter(b.limit*rate.Limit(factor), b.burst*factor)}
	b.keys[key] = b.lru.PushFront(nb)
	return nb.lim
}

// Wait returns how long until key's bucket holds a token at now, taking
// nothing (0: one is there; a key without a bucket has a full one).
func (b *Buckets[K]) Wait(key K, now time.Time) time.Duration {
	if b.off() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waitLocked(key, now)
}

// waitLocked is Wait with mu held.
func (b *Buckets[K]) waitLocked(key K, now time.Time) time.Duration {
	e, ok := b.keys[key]
	if !ok {
		return 0
	}
	lim := e.Value.(*bucket[K]).lim
	short := 1 - lim.TokensAt(now)
	if short <= 0 {
		return 0
	}
	if lim.Limit() <= 0 {
		return time.Hour // never refills
	}
	// Saturating: a tiny rate's wait is more than a Duration holds, and a
	// plain conversion of it is negative on amd64, which let it through.
	return limits.Seconds(short / float64(lim.Limit()))
}

// Limiter limits something per client address: one bucket per Group key
// (an IPv4 address, an IPv6 /64) and, for IPv6, one per /48 holding
// V6SiteFactor times the rate and burst, all in one Buckets table. Safe
// from any goroutine; a nil *Limiter allows everything.
type Limiter struct {
	b *Buckets[netip.Prefix]
}

// NewLimiter returns a Limiter of limit and burst per address that
// tracks at most maxAddrs addresses and /48s (see Buckets).
func NewLimiter(limit rate.Limit, burst, maxAddrs int) *Limiter {
	return &Limiter{b: NewBuckets[netip.Prefix](limit, burst, maxAddrs)}
}

// Allow takes one token from addr's bucket (and its /48's, for IPv6) at
// now. When a bucket is empty it takes nothing and returns false and how
// long until one would pass.
func (l *Limiter) Allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	if l == nil || l.b.off() {
		return true, 0
	}
	key, site := Group(addr)
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.bucket(key, 1).ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if site.IsValid() {
		rs := b.bucket(site, V6SiteFactor).ReserveN(now, 1)
		if d := rs.DelayFrom(now); d > 0 || wait > 0 {
			wait = max(wait, d)
			rs.CancelAt(now)
		}
	}
	if wait > 0 {
		r.CancelAt(now)
		return false, wait
	}
	return true, 0
}

// Wait returns how long until addr's bucket (and its /48's, for IPv6)
// would let one through at now, taking nothing.
func (l *Limiter) Wait(addr netip.Addr, now time.Time) time.Duration {
	if l == nil || l.b.off() {
		return 0
	}
	key, site := Group(addr)
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	wait := l.b.waitLocked(key, now)
	if site.IsValid() {
		wait = max(wait, l.b.waitLocked(site, now))
	}
	return wait
}
