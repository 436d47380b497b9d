package auth

import (
	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/clientip"
)

// Guest logins are rate-limited per client address with
// golang.org/x/time/rate: a login is an HTTP request, far off the hot path,
// and the library's Reserve gives the Retry-After a refused client needs.
//
// The buckets live in a clientip.Limiter (the table the account claim
// limits use too), bounded by Config.GuestLoginAddrs. Past it
// the least recently used bucket is forgotten, one per new address, so an
// attacker who cycles through many addresses resets the buckets of the
// addresses idle the longest (whose buckets have refilled the most) one
// at a time, never everyone's at once. Only a login the limiter lets
// through adds an address, so to make it forget one takes as many logins
// let through as it holds, not as many requests.
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

// newLoginLimiter returns the guest login limiter: a clientip.Limiter,
// one bucket per client address (per /64 for IPv6, plus one per /48),
// least recently used first out.
func newLoginLimiter(limit rate.Limit, burst, maxAddrs int) *clientip.Limiter {
	return clientip.NewLimiter(limit, burst, maxAddrs)
}
