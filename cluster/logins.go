package cluster

import (
	"context"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
)

// Logins is the login handler's Logins in a cluster: the buckets of the
// logins a client address may make (auth.Config.GuestLoginRate,
// GuestLoginBurst) kept in Redis, where every node counts them, so that
// an address whose logins a balancer spreads over N nodes is held to one
// bound, not N.
//
// A bucket is one hash (Keys.Login) of its tokens and when they were
// counted (Redis's clock), which one Lua script reads and writes: an IPv4
// address's, or an IPv6 /64's and its /48's (holding
// clientip.V6SiteFactor times as much), taken together or not at all, as
// the node's own clientip.Limiter takes them; its TTL is the time until
// it is full again (Burst/Rate: 50 s at the defaults), and a full bucket
// has no key.
//
// Every call runs under the node's Timeout and fails with ErrUnavailable
// when Redis does not answer, as Buckets' do (and like them fails at once,
// without asking Redis, while the node knows it does not answer): the
// login handler then counts in its own memory. Safe from any goroutine;
// never call it from an event loop.
type Logins struct {
	rdb  *redis.Client
	keys Keys
	skip
}

var _ auth.Logins = (*Logins)(nil)

// NewLogins returns the login buckets of n's cluster, over n's Redis
// client.
func NewLogins(n *Node) *Logins {
	return &Logins{rdb: n.Client(), keys: n.Keys(), skip: newSkip(n)}
}

// loginScript takes a token from each of its buckets, or gives one back.
// KEYS: the buckets. ARGV: 'take' or 'back', then each bucket's rate (a
// second) and burst. Fields: t, the tokens at at (ms). A take takes
// from every bucket or from none: it returns 0 when it took, else how
// long (ms) until every bucket holds a token.
var loginScript = redis.NewScript(nowLua + `
local b = {}
for i, k in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local v = redis.call('HMGET', k, 't', 'at')
  local tokens, at = tonumber(v[1]) or burst, tonumber(v[2]) or now
  if now > at then tokens = math.min(tokens + (now - at) * rate / 1000, burst) end
  b[i] = {k, rate, burst, tokens}
end
if ARGV[1] == 'take' then
  local wait = 0
  for _, x in ipairs(b) do
    if x[4] < 1 then wait = math.max(wait, math.ceil((1 - x[4]) / x[2] * 1000)) end
  end
  if wait > 0 then return wait end
  for _, x in ipairs(b) do x[4] = x[4] - 1 end
else
  for _, x in ipairs(b) do x[4] = math.min(x[4] + 1, x[3]) end
end
for _, x in ipairs(b) do
  if x[4] >= x[3] then
    redis.call('DEL', x[1])
  else
    redis.call('HSET', x[1], 't', string.format('%.17g', x[4]), 'at', string.format('%d', now))
    redis.call('PEXPIRE', x[1], math.max(1, math.ceil((x[3] - x[4]) / x[2] * 1000)))
  end
end
return 0
`)

// call runs loginScript for op on addr's buckets under ctx and the
// node's timeout; a limit of an infinite rate takes nothing.
func (l *Logins) call(ctx context.Context, op string, addr netip.Addr, limit rate.Limit, burst int) (time.Duration, error) {
	r := float64(limit)
	if !(r > 0) || math.IsInf(r, 1) || burst < 1 {
		return 0, nil
	}
	if !l.ask() {
		return 0, errQuiet
	}
	key, site := clientip.Group(addr)
	keys := []string{l.keys.Login("a:" + key.String())}
	args := []any{op, strconv.FormatFloat(r, 'g', -1, 64), burst}
	if site.IsValid() {
		keys = append(keys, l.keys.Login("s:"+site.String()))
		args = append(args, strconv.FormatFloat(r*clientip.V6SiteFactor, 'g', -1, 64), burst*clientip.V6SiteFactor)
	}
	call, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	wait, err := loginScript.Run(call, l.rdb, keys, args...).Int64()
	if err := l.answered(ctx, err); err != nil {
		return 0, err
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// Allow implements auth.Logins.
func (l *Logins) Allow(ctx context.Context, addr netip.Addr, limit rate.Limit, burst int) (bool, time.Duration, error) {
	wait, err := l.call(ctx, "take", addr, limit, burst)
	if err != nil {
		return false, 0, err
	}
	return wait <= 0, wait, nil
}

// Refund implements auth.Logins.
func (l *Logins) Refund(ctx context.Context, addr netip.Addr, limit rate.Limit, burst int) error {
	_, err := l.call(ctx, "back", addr, limit, burst)
	return err
}
