package hub

import (
	"context"
	"math"
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
//
// In a cluster (Config.Buckets set) the buckets are kept in Redis as
// well, where every node counts in them: a guesser spreading its
// connections over N nodes would otherwise try N times as many
// passwords. Redis is asked off the event loops only (a JoinRoom of a
// node of a cluster runs off them already, clusterlobby.go; a feed's
// request runs on its HTTP goroutine), and when it does not answer the
// node's own buckets, charged all along, decide alone: during an outage a
// guesser gets its bound on each node again.
type passwordGuesses struct {
	addrs  *clientip.Limiter
	users  *clientip.Buckets[string]
	shared Buckets // nil: each node counts alone
	limit  float64 // WrongPasswordRate, a second
	burst  int
	exempt func(netip.Addr) bool
	now    func() time.Time
}

// passwordKeys bounds the addresses and users whose wrong guesses are
// remembered: past it the one idle longest is forgotten.
const passwordKeys = 16_384

func newPasswordGuesses(cfg Config) passwordGuesses {
	lim := rate.Limit(cfg.WrongPasswordRate)
	g := passwordGuesses{
		addrs:  clientip.NewLimiter(lim, cfg.WrongPasswordBurst, passwordKeys),
		users:  clientip.NewBuckets[string](lim, cfg.WrongPasswordBurst, passwordKeys),
		limit:  cfg.WrongPasswordRate,
		burst:  cfg.WrongPasswordBurst,
		exempt: cfg.IPQuotaExempt,
		now:    cfg.Now,
	}
	if !math.IsInf(cfg.WrongPasswordRate, 1) {
		g.shared = cfg.Buckets
	}
	return g
}

// guesser names whose bucket a guess is charged to: an address, or for
// an address IPQuotaExempt exempts a user (feedUser for the anonymous
// feeds of such an address).
type guesser struct {
	ip   netip.Addr
	user string // set when ip is exempt
}

func (g *passwordGuesses) of(s *Session) guesser {
	if ip := s.ip(); !g.exempt(ip) {
		return guesser{ip: ip}
	}
	return guesser{user: s.claims.UserID}
}

func (g *passwordGuesses) ofFeed(ip netip.Addr) guesser {
	if g.exempt(ip) {
		return guesser{user: feedUser}
	}
	return guesser{ip: ip}
}

// localWait is how long until who's bucket on this node holds a token.
func (g *passwordGuesses) localWait(who guesser) time.Duration {
	if who.user != "" {
		return g.users.Wait(who.user, g.now())
	}
	return g.addrs.Wait(who.ip, g.now())
}

// localTake charges who's bucket on this node.
func (g *passwordGuesses) localTake(who guesser) {
	if who.user != "" {
		g.users.Allow(who.user, g.now())
	} else {
		g.addrs.Allow(who.ip, g.now())
	}
}

// sharedBuckets are who's buckets in Config.Buckets: a user's; an IPv4
// address's; an IPv6 /64's and its /48's, which holds
// clientip.V6SiteFactor times as much, as clientip.Limiter counts them.
func (g *passwordGuesses) sharedBuckets(who guesser) []Bucket {
	switch who.user {
	case "":
	case feedUser:
		return []Bucket{{Key: "pw:feed", Rate: g.limit, Burst: g.burst}}
	default:
		return []Bucket{{Key: "pw:u:" + who.user, Rate: g.limit, Burst: g.burst}}
	}
	key, site := clientip.Group(who.ip)
	bs := []Bucket{{Key: "pw:a:" + key.String(), Rate: g.limit, Burst: g.burst}}
	if site.IsValid() {
		bs = append(bs, Bucket{Key: "pw:s:" + site.String(), Rate: g.limit * clientip.V6SiteFactor, Burst: g.burst * clientip.V6SiteFactor})
	}
	return bs
}

// wait is how long until who may try a password again, 0 when it may
// now: the longer of its buckets' on this node and in the shared ones
// (which may have lost what this node counted: Redis restarted empty),
// this node's alone when Redis does not answer. It may block on Redis
// for its timeout: never call it on an event loop or a tick worker.
func (g *passwordGuesses) wait(ctx context.Context, who guesser) time.Duration {
	wait := g.localWait(who)
	if g.shared == nil || wait > 0 {
		return wait
	}
	for _, b := range g.sharedBuckets(who) {
		d, err := g.shared.Wait(ctx, b)
		if err != nil {
			return wait
		}
		wait = max(wait, d)
	}
	return wait
}

// take charges who for a wrong password, on this node and in its shared
// buckets. Like wait, it may block on Redis.
func (g *passwordGuesses) take(ctx context.Context, who guesser) {
	g.localTake(who)
	g.takeShared(ctx, who)
}

// takeShared charges who's shared buckets only: this node's were charged
// where the refusal was answered (Session.fail). An error leaves them
// uncharged: Redis is out of reach, and this node's buckets decide.
func (g *passwordGuesses) takeShared(ctx context.Context, who guesser) {
	if g.shared == nil {
		return
	}
	// A join may have spent its request's deadline on the directory; the
	// charge gets the Buckets' own.
	ctx = context.WithoutCancel(ctx)
	for _, b := range g.sharedBuckets(who) {
		if g.shared.Take(ctx, b) != nil {
			return
		}
	}
}

// rateLimited is the refusal of a password tried wait before its bucket
// holds a token, nil when wait is 0.
func rateLimited(wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	return &protocol.Error{Code: protocol.ErrorRateLimited, Message: "too many wrong room passwords; try again later", RetryAfter: wait}
}

// refusal is the RATE_LIMITED that s gets for a join with a password
// while its wrong guesses on this node are spent, nil when it may try.
// It asks this node's buckets only: safe on the event loop.
func (g *passwordGuesses) refusal(s *Session) error {
	return rateLimited(g.localWait(g.of(s)))
}

// sharedRefusal is refusal counted on every node of the cluster (this
// node's alone while Redis does not answer). Off the event loop only.
func (g *passwordGuesses) sharedRefusal(ctx context.Context, s *Session) error {
	return rateLimited(g.wait(ctx, g.of(s)))
}

// wrong charges s's bucket on this node for a join refused for its
// password; safe on any goroutine. A node of a cluster also charges the
// shared buckets where it answers the join (clusterJoin).
func (g *passwordGuesses) wrong(s *Session) { g.localTake(g.of(s)) }

// feedUser is the key of the anonymous spectator feeds from an address
// IPQuotaExempt exempts: they have no user of their own, so they share
// one bucket.
const feedUser = "\x00feed"

// PasswordWait returns how long until a spectator feed (server/spectate)
// from ip may try a room password again, 0 when it may now: it takes from
// the bucket of ip that JoinRoom's passwords take from, so a room's
// password cannot be guessed through its feed at the HTTP request rate.
// The anonymous feeds of an address IPQuotaExempt exempts share one
// bucket. In a cluster it asks Redis (Config.Buckets), under ctx and the
// Buckets' own deadline, so call it where blocking that long is fine (an
// HTTP handler), never on an event loop. Safe from any goroutine.
func (h *Hub) PasswordWait(ctx context.Context, ip netip.Addr) time.Duration {
	return h.guesses.wait(ctx, h.guesses.ofFeed(ip))
}

// WrongPassword charges ip for a password a room refused to its spectator
// feed, as PasswordWait counts them; it may block on Redis as
// PasswordWait does. Safe from any goroutine.
func (h *Hub) WrongPassword(ctx context.Context, ip netip.Addr) {
	h.guesses.take(ctx, h.guesses.ofFeed(ip))
}
