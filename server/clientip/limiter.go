package clientip

import (
	"container/list"
	"math"
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
//
// Only a request that passes adds a key; a refused one only marks the
// keys it already has as used. A new key's bucket is full, so a refused
// request with a new key was refused by another bucket (an IPv6 /64's by
// its /48's, see Limiter). Were the key added, requests refused by one
// spent bucket could push every other key out of the table, each coming
// back with a fresh burst: a limit worth the request rate. As it is,
// forgetting a bucket takes a bound's worth of requests the limits let
// through.
type Buckets[K comparable] struct {
	limit rate.Limit
	burst int
	max   int

	mu   sync.Mutex
	keys map[K]*list.Element // guarded by mu; values are *bucket[K]
	lru  list.List           // guarded by mu; most recently used at the front
	// latest is the latest time a call gave, guarded by mu (at).
	latest time.Time
}

// at returns now, or the latest time a call gave when now is before it;
// the caller holds mu. Callers read the clock before they take mu, so
// their times come in a little out of order, and a rate.Limiter given a
// time before its last counts the time between twice: under many
// requests at once, a bucket let more through than its burst.
func (b *Buckets[K]) at(now time.Time) time.Time {
	if now.Before(b.latest) {
		return b.latest
	}
	b.latest = now
	return now
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
	now = b.at(now)
	t := b.take(key, 1, now)
	if t.wait > 0 {
		t.cancel(now)
		return false, t.wait
	}
	b.keep(t)
	return true, 0
}

// taking is one token reserved from key's bucket: lim is the table's, or
// a new full bucket the table does not hold yet (fresh).
type taking[K comparable] struct {
	key   K
	lim   *rate.Limiter
	r     *rate.Reservation
	fresh bool
	wait  time.Duration // >0: the bucket is short; cancel r
}

// take reserves one token at now from key's bucket, marking it most
// recently used, or from a new full one of factor times the configured
// rate and burst, which keep adds. The caller holds mu.
func (b *Buckets[K]) take(key K, factor int, now time.Time) taking[K] {
	t := taking[K]{key: key}
	if e, ok := b.keys[key]; ok {
		b.lru.MoveToFront(e)
		t.lim = e.Value.(*bucket[K]).lim
	} else {
		t.lim = rate.NewLimiter(b.limit*rate.Limit(factor), b.burst*factor)
		t.fresh = true
	}
	t.r = t.lim.ReserveN(now, 1)
	t.wait = t.r.DelayFrom(now)
	return t
}

// cancel gives back t's token.
func (t taking[K]) cancel(now time.Time) { t.r.CancelAt(now) }

// keep adds t's bucket to the table if it is new, as the most recently
// used; past the bound it replaces the least recently used. The caller
// holds mu.
func (b *Buckets[K]) keep(t taking[K]) {
	if !t.fresh {
		return
	}
	if len(b.keys) >= b.max {
		old := b.lru.Back()
		delete(b.keys, old.Value.(*bucket[K]).key)
		b.lru.Remove(old)
	}
	b.keys[t.key] = b.lru.PushFront(&bucket[K]{key: t.key, lim: t.lim})
}

// Refund gives one token back to key's bucket at now, up to its burst:
// for a request a token was taken for that turned out to cost nothing.
// A key the table no longer holds has a full bucket already.
func (b *Buckets[K]) Refund(key K, now time.Time) {
	if b.off() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now = b.at(now)
	b.refundLocked(key, now)
}

// refundLocked is Refund with mu held.
func (b *Buckets[K]) refundLocked(key K, now time.Time) {
	if e, ok := b.keys[key]; ok {
		bk := e.Value.(*bucket[K])
		bk.lim = refilled(bk.lim, now)
	}
}

// refilled returns a limiter of lim's rate and burst that holds one token
// more than lim at now, at most its burst. A rate.Limiter gains tokens by
// time alone, so the new one is a full one from which the missing whole
// tokens were taken as long before now as the fraction left takes to
// refill (a fraction is lost only at a rate so small that the time does
// not fit a Duration).
func refilled(lim *rate.Limiter, now time.Time) *rate.Limiter {
	burst := lim.Burst()
	tokens := min(max(lim.TokensAt(now), 0)+1, float64(burst))
	whole := math.Floor(tokens)
	var ago time.Duration
	if l := lim.Limit(); l > 0 {
		ago = limits.Seconds((tokens - whole) / float64(l))
	}
	out := rate.NewLimiter(lim.Limit(), burst)
	out.ReserveN(now.Add(-ago), burst-int(whole))
	return out
}

// Wait returns how long until key's bucket holds a token at now, taking
// nothing (0: one is there; a key without a bucket has a full one).
func (b *Buckets[K]) Wait(key K, now time.Time) time.Duration {
	if b.off() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now = b.at(now)
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
// long until one would pass. The /48 is asked first: a request it
// refuses neither adds nor marks as used a bucket of the /64, so that a
// /48 past its share cannot push other addresses out of the table from
// new /64s (see Buckets).
func (l *Limiter) Allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	if l == nil || l.b.off() {
		return true, 0
	}
	key, site := Group(addr)
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	now = b.at(now)
	var s taking[netip.Prefix]
	if site.IsValid() {
		s = b.take(site, V6SiteFactor, now)
		if s.wait > 0 {
			s.cancel(now)
			return false, max(s.wait, b.waitLocked(key, now))
		}
	}
	t := b.take(key, 1, now)
	if t.wait > 0 {
		t.cancel(now)
		if site.IsValid() {
			s.cancel(now)
		}
		return false, t.wait
	}
	if site.IsValid() {
		b.keep(s)
	}
	b.keep(t)
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
	now = l.b.at(now)
	wait := l.b.waitLocked(key, now)
	if site.IsValid() {
		wait = max(wait, l.b.waitLocked(site, now))
	}
	return wait
}

// Refund gives back the token Allow took from addr's bucket (and its
// /48's) at now (see Buckets.Refund).
func (l *Limiter) Refund(addr netip.Addr, now time.Time) {
	if l == nil || l.b.off() {
		return
	}
	key, site := Group(addr)
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	now = l.b.at(now)
	l.b.refundLocked(key, now)
	if site.IsValid() {
		l.b.refundLocked(site, now)
	}
}
