package hub

import (
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/clientip"
)

// passwordGuesses bounds the wrong room passwords a client may try
// (Config.WrongPasswordRate, WrongPasswordBurst): without it a guest
// guessed a listed room's password at its message rate, tens of
// thousands of guesses a second from one address. Each refusal for a
// wrong password takes a token from the address's bucket (the user's,
// for an address IPQuotaExempt exempts, such as a proxy on the same
// host); while the bucket is empty a join with a password is refused
// before the room (or, in a cluster, Redis) looks at it, so a right
// password does not get through either: what would otherwise tell a
// guesser it had found it. Buckets are kept for the addresses and users
// seen last, a bounded table (clientip.Buckets).
type passwordGuesses struct {
	addrs  *clientip.Limiter
	users  *clientip.Buckets[string]
	exempt func(netip.Addr) bool
	now    func() time.Time
}

// passwordKeys bounds the addresses and users whose wrong guesses are
// remembered: past it the one idle longest is forgotten.
const passwordKeys = 16_384

func newPasswordGuesses(cfg Config) passwordGuesses {
	lim := rate.Limit(cfg.WrongPasswordRate)
	return passwordGuesses{
		addrs:  clientip.NewLimiter(lim, cfg.WrongPasswordBurst, passwordKeys),
		users:  clientip.NewBuckets[string](lim, cfg.WrongPasswordBurst, passwordKeys),
		exempt: cfg.IPQuotaExempt,
		now:    cfg.Now,
	}
}

// refusal is the RATE_LIMITED that s gets for a join with a password
// while its wrong guesses are spent, nil when it may try.
func (g *passwordGuesses) refusal(s *Session) error {
	var wait time.Duration
	if ip := s.ip(); !g.exempt(ip) {
		wait = g.addrs.Wait(ip, g.now())
	} else {
		wait = g.users.Wait(s.claims.UserID, g.now())
	}
	if wait <= 0 {
		return nil
	}
	return &protocol.Error{Code: protocol.ErrorRateLimited, Message: "too many wrong room passwords; try again later", RetryAfter: wait}
}

// wrong charges s's bucket for a join refused for its password.
func (g *passwordGuesses) wrong(s *Session) {
	if ip := s.ip(); !g.exempt(ip) {
		g.addrs.Allow(ip, g.now())
	} else {
		g.users.Allow(s.claims.UserID, g.now())
	}
}

// feedUser is the key of the anonymous spectator feeds from an address
// IPQuotaExempt exempts: they have no user of their own, so they share
// one bucket.
const feedUser = "\x00feed"

// PasswordWait returns how long until a spectator feed (server/spectate)
// from ip may try a room password again, 0 when it may now: it takes from
// the bucket of ip that JoinRoom's passwords take from, so a room's
// password cannot be guessed through its feed at the HTTP request rate.
// The anonymous feeds of an address IPQuotaExempt exempts share one
// bucket. Safe from any goroutine.
func (h *Hub) PasswordWait(ip netip.Addr) time.Duration {
	g := &h.guesses
	if g.exempt(ip) {
		return g.users.Wait(feedUser, g.now())
	}
	return g.addrs.Wait(ip, g.now())
}

// WrongPassword charges ip for a password a room refused to its spectator
// feed, as PasswordWait counts them. Safe from any goroutine.
func (h *Hub) WrongPassword(ip netip.Addr) {
	g := &h.guesses
	if g.exempt(ip) {
		g.users.Allow(feedUser, g.now())
	} else {
		g.addrs.Allow(ip, g.now())
	}
}
