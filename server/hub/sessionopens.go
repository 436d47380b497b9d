package hub

import (
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
)

// sessionOpens bounds how fast sessions are opened, per user and per
// client address (Config.SessionRate, SessionAddressRate). Nothing else
// did: one guest token from one address opened 1,500 to 5,000 sessions a
// second on loopback, each a token check, two store reads when its user
// came online, and a Presence push to each online friend as it came and
// another as it went, thousands a second to a friend who had done
// nothing. The buckets are kept for the users and addresses seen last, a
// bounded table (clientip.Buckets) as for wrong passwords.
type sessionOpens struct {
	users  *clientip.Buckets[string]
	addrs  *clientip.Limiter
	exempt func(netip.Addr) bool
}

// sessionKeys bounds the users, and apart from them the addresses, whose
// session opens are remembered: more than a node's default connection cap
// (server.Config.MaxConns, 10,000), so that one forgotten had long
// refilled its bucket.
const sessionKeys = 16_384

func newSessionOpens(cfg Config) sessionOpens {
	return sessionOpens{
		users:  clientip.NewBuckets[string](rate.Limit(cfg.SessionRate), cfg.SessionBurst, sessionKeys),
		addrs:  clientip.NewLimiter(rate.Limit(cfg.SessionAddressRate), cfg.SessionAddressBurst, sessionKeys),
		exempt: cfg.IPQuotaExempt,
	}
}

// allow charges one session of user from addr at now: nil, or the 429
// that refuses the upgrade with when to try again, counted in st. A
// refused upgrade takes nothing: a user over its own rate does not take
// its address's tokens from the others there, and one refused for its
// address (a crowded NAT) keeps its own for when it connects from
// another. The user's bucket is looked at first and charged last; the
// caller holds Hub.mu, the only lock allow is called under, so the token
// Wait saw is still there for Allow.
func (o sessionOpens) allow(user string, addr netip.Addr, now time.Time, st *Stats) error {
	if wait := o.users.Wait(user, now); wait > 0 {
		st.SessionsUserRate.Add(1)
		return &server.HTTPError{Status: 429, Message: "this user opens sessions too fast", RetryAfter: wait}
	}
	if !o.exempt(addr) {
		if ok, wait := o.addrs.Allow(addr, now); !ok {
			st.SessionsAddressRate.Add(1)
			return &server.HTTPError{Status: 429, Message: "sessions opened too fast from this address", RetryAfter: wait}
		}
	}
	o.users.Allow(user, now)
	return nil
}
