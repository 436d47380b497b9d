package auth

import (
	"context"
	"net/netip"
	"time"

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
// In a cluster (Config.Logins) the buckets are kept in Redis as well,
// where every node counts them: a login is let through when this node's
// buckets and the cluster's both hold a token, and takes one of each.
// While Redis does not answer, this node's decide alone.
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

// Logins keeps the login buckets of client addresses where every node of
// a cluster counts them (Config.Logins). Package cluster implements it
// over Redis. Its methods may block for the implementation's timeout:
// the login handler calls them on its HTTP goroutine, never on an event
// loop. An error means the buckets could not be reached (nothing was
// taken): the node's own buckets then decide alone. Safe from any
// goroutine.
type Logins interface {
	// Allow takes a login from addr's buckets when they hold one: an
	// IPv4 address's, or an IPv6 /64's and its /48's, which holds
	// V6SiteFactor times limit and burst; otherwise it takes nothing and
	// reports false and how long until they do.
	Allow(ctx context.Context, addr netip.Addr, limit rate.Limit, burst int) (bool, time.Duration, error)
	// Refund gives back the login Allow took from addr's buckets.
	Refund(ctx context.Context, addr netip.Addr, limit rate.Limit, burst int) error
}

// allowLogin takes a login of client at now from this node's buckets
// and, in a cluster, the cluster's; it reports false, and how long until
// one would be let through, when either is spent, and whether the
// cluster's took one (for refundLogin). It may wait on Redis for its
// timeout.
func (a *Authority) allowLogin(ctx context.Context, client netip.Addr, now time.Time) (ok bool, wait time.Duration, shared bool) {
	if ok, wait = a.guests.Allow(client, now); !ok || a.cfg.Logins == nil {
		return ok, wait, false
	}
	ok, wait, err := a.cfg.Logins.Allow(ctx, client, a.cfg.GuestLoginRate, a.cfg.GuestLoginBurst)
	switch {
	case err != nil:
		return true, 0, false
	case !ok:
		a.guests.Refund(client, now)
		return false, wait, false
	}
	return true, 0, true
}

// refundLogin gives back the login allowLogin took of client, the
// cluster's too when shared.
func (a *Authority) refundLogin(ctx context.Context, client netip.Addr, shared bool) {
	a.guests.Refund(client, a.cfg.Now())
	if shared {
		// The client may have gone: the login is given back all the same,
		// under the Logins' own deadline.
		_ = a.cfg.Logins.Refund(context.WithoutCancel(ctx), client, a.cfg.GuestLoginRate, a.cfg.GuestLoginBurst)
	}
}
