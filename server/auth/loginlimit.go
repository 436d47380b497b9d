package auth

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/clientip"
)

// Guest logins are rate-limited per client address with
// golang.org/x/time/rate: a login is an HTTP request, far off the hot path,
// and the library's Reserve gives the Retry-After a refused client needs.
//
// The buckets live in a table bounded by Config.GuestLoginAddrs. Past it
// the least recently used bucket is forgotten, one per new address, so an
// attacker who cycles through many addresses resets the buckets of the
// addresses idle the longest (whose buckets have refilled the most) one
// at a time, never everyone's at once.
//
// IPv6: one subscriber usually gets a /64, so a /64 counts as one address;
// a site usually gets a /48, whose 65,536 /64s would otherwise each get a
// burst. So a login from IPv6 also takes from its /48's bucket, which
// holds V6SiteFactor times an address's rate and burst.

const (
	// DefaultGuestLoginRate is Config.GuestLoginRate's zero value: one
	// guest login per client address every five seconds, sustained.
	DefaultGuestLoginRate rate.Limit = 0.2
	// DefaultGuestLoginBurst is Config.GuestLoginBurst's zero value.
	DefaultGuestLoginBurst = 10
	// DefaultGuestLoginAddrs is Config.GuestLoginAddrs's zero value.
	DefaultGuestLoginAddrs = 16384
	// V6SiteFactor is how many addresses' worth of guest logins the /64s
	// of one IPv6 /48 share; every per-address limit uses the same factor.
	V6SiteFactor = clientip.V6SiteFactor
)

// loginLimiter keeps one token bucket per client address (per /64 for
// IPv6, plus one per /48), least recently used first out. Safe from any
// goroutine.
type loginLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	addrs map[netip.Prefix]*list.Element // guarded by mu; values are *bucket
	lru   list.List                      // guarded by mu; most recently used at the front
}

// bucket is one address's (or /48's) limiter in the table.
type bucket struct {
	key netip.Prefix
	lim *rate.Limiter
}

func newLoginLimiter(limit rate.Limit, burst, maxAddrs int) *loginLimiter {
	return &loginLimiter{limit: limit, burst: burst, max: max(maxAddrs, 2), addrs: make(map[netip.Prefix]*list.Element)}
}

// allow takes one login from addr's bucket (and its /48's, for IPv6) at
// now. When a bucket is empty it takes nothing and returns false and how
// long until a login would pass.
func (l *loginLimiter) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	if l == nil || l.limit >= rate.Inf { // rate.Inf, or +Inf from a flag
		return true, 0
	}
	key, site := clientip.Group(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucket(key, 1).ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if site.IsValid() {
		rs := l.bucket(site, V6SiteFactor).ReserveN(now, 1)
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

// bucket returns key's limiter, made with factor times the configured
// rate and burst when key is new, and marks it most recently used. A new
// key past the bound replaces the least recently used. The caller holds
// mu.
func (l *loginLimiter) bucket(key netip.Prefix, factor int) *rate.Limiter {
	if e, ok := l.addrs[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*bucket).lim
	}
	if len(l.addrs) >= l.max {
		old := l.lru.Back()
		delete(l.addrs, old.Value.(*bucket).key)
		l.lru.Remove(old)
	}
	b := &bucket{key: key, lim: rate.NewLimiter(l.limit*rate.Limit(factor), l.burst*factor)}
	l.addrs[key] = l.lru.PushFront(b)
	return b.lim
}
