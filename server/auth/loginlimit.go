package auth

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Guest logins are rate-limited per client address with
// golang.org/x/time/rate: a login is an HTTP request, far off the hot path,
// and the library's Reserve gives the Retry-After a refused client needs.

const (
	// DefaultGuestLoginRate is Config.GuestLoginRate's zero value: one
	// guest login per client address every five seconds, sustained.
	DefaultGuestLoginRate rate.Limit = 0.2
	// DefaultGuestLoginBurst is Config.GuestLoginBurst's zero value.
	DefaultGuestLoginBurst = 10
	// maxLoginAddrs bounds the addresses tracked at once (about 150 bytes
	// each). When it is reached, addresses whose bucket has refilled are
	// forgotten; if every one is still in use, all are.
	maxLoginAddrs = 16384
)

// loginLimiter keeps one token bucket per client address (per /64 for
// IPv6, the block one subscriber gets). Safe from any goroutine.
type loginLimiter struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	addrs map[netip.Prefix]*rate.Limiter // guarded by mu
}

func newLoginLimiter(limit rate.Limit, burst int) *loginLimiter {
	return &loginLimiter{limit: limit, burst: burst, addrs: make(map[netip.Prefix]*rate.Limiter)}
}

// allow takes one login from addr's bucket at now. When the bucket is
// empty it returns false and how long until a login would pass.
func (l *loginLimiter) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	if l == nil || l.limit >= rate.Inf { // rate.Inf, or +Inf from a flag
		return true, 0
	}
	key := addrKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.addrs[key]
	if !ok {
		if len(l.addrs) >= maxLoginAddrs {
			l.sweep(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.addrs[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets the addresses whose bucket is full again (a new bucket is
// the same), and every address when none is. The caller holds mu.
func (l *loginLimiter) sweep(now time.Time) {
	for k, lim := range l.addrs {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.addrs, k)
		}
	}
	if len(l.addrs) >= maxLoginAddrs {
		clear(l.addrs)
	}
}

// addrKey is the address itself for IPv4, its /64 for IPv6.
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, 32)
}
