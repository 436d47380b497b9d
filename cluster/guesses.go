package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/server/account"
	"github.com/tickroom/tickroom/server/clientip"
)

// Guesses is the account service's Guesses in a cluster: each account's
// bucket of wrong passwords and its marked addresses kept in Redis, where
// every node counts them, so that the bound on an account's wrong
// passwords (account.Config.WrongPasswordRate, WrongPasswordBurst,
// WrongPasswordAddrs) holds for a guesser however it spreads its
// password logins over the nodes.
//
// An account is one hash (Keys.Guesses) that one Lua script reads and
// writes in a step, by the rules the service's own memory keeps (the
// bucket filled on Redis's clock, the marks that ended dropped, a take's
// mark named so that only its own give-back drops it); its TTL is the
// time until its bucket is full again and its last mark has ended (at
// the defaults at most the marks' memory, an hour), after which the
// account is as if never guessed, as it is then. Unlike the service's memory, Redis keeps
// no bound on the accounts: one is kept for each account guessed within
// the hour, each guess a password hash on some node.
//
// Every call runs under the node's Timeout and fails with ErrUnavailable
// when Redis does not answer, as Buckets' do (and like them fails at once,
// without asking Redis, while the node knows it does not answer): the
// service then counts in its own memory. A take that fails once sent may
// have run all the same, its answer lost: the mark it may have made is
// given back at once, on a goroutine of its own (a take's mark is named,
// so only its own give-back drops it, and the give-back is safe when the
// take never ran); a token it may have taken is not, as nothing tells it
// from one a take that never ran did not take, and the bucket refills it
// (a minute at the defaults). Those goroutines are as many as the takes
// sent when Redis stopped answering (after a failure one call at a time
// asks it), each living at most the Timeout. Safe from any goroutine;
// never call it from an event loop.
type Guesses struct {
	rdb  *redis.Client
	keys Keys
	skip
}

var _ account.Guesses = (*Guesses)(nil)

// NewGuesses returns the guesses of n's cluster, over n's Redis client.
func NewGuesses(n *Node) *Guesses {
	return &Guesses{rdb: n.Client(), keys: n.Keys(), skip: newSkip(n)}
}

// guessScript runs one call of Guesses on an account's hash.
// KEYS: the hash. ARGV: the call ('take', 'back', 'mark', 'spend'), the
// rate (tokens a second), the burst, the marks an account keeps, their
// memory (ms), the address's key (clientip.Group's), its /48 (” for
// none), clientip.V6SiteFactor, a take's sequence ('back': the one to
// give back, ” for a token).
// Fields: t, the bucket's tokens at at (ms); m:<key>, a mark:
// "<until ms>|<sequence of the take that made it, ” once a wrong
// password confirmed it>|<its /48>".
// Returns {1, mark (0/1)} for a call that went through, {0, wait (ms)}
// for a take refused.
var guessScript = redis.NewScript(nowLua + `
local op = ARGV[1]
local rate, burst, addrs, memory = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local key, site, factor, seq = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]
local field = 'm:' .. key
local h = redis.call('HGETALL', KEYS[1])
if op == 'back' and #h == 0 then return {1, 0} end
local tokens, at = burst, now
local marks, n = {}, 0
for i = 1, #h, 2 do
  local f, v = h[i], h[i + 1]
  if f == 't' then tokens = tonumber(v)
  elseif f == 'at' then at = tonumber(v)
  else
    local u, s, st = string.match(v, '^(%d+)|([^|]*)|(.*)$')
    u = tonumber(u)
    if u and u > now then
      marks[f] = {u, s, st}
      n = n + 1
    else
      redis.call('HDEL', KEYS[1], f)
    end
  end
end
if now > at then
  tokens = math.min(tokens + (now - at) * rate / 1000, burst)
  at = now
end
local changed = nil
local function mark(s)
  local m = marks[field]
  if m then
    m[1], m[2] = now + memory, ''
  elseif n < addrs then
    marks[field] = {now + memory, s, site}
    n = n + 1
  else
    return
  end
  changed = field
end
local out = {1, 0}
if op == 'take' then
  if tokens >= 1 then
    tokens = tokens - 1
  else
    local wait = math.ceil((1 - tokens) / rate * 1000)
    local m = marks[field]
    if m then return {0, math.min(wait, m[1] - now)} end
    local first, sites, siteEnds = nil, 0, nil
    for _, o in pairs(marks) do
      if not first or o[1] < first then first = o[1] end
      if site ~= '' and o[3] == site then
        sites = sites + 1
        if not siteEnds or o[1] < siteEnds then siteEnds = o[1] end
      end
    end
    if sites >= factor then return {0, math.min(wait, siteEnds - now)} end
    if n >= addrs then return {0, math.min(wait, first - now)} end
    mark(seq)
    out = {1, 1}
  end
elseif op == 'back' then
  if seq == '' then
    tokens = math.min(tokens + 1, burst)
  else
    local m = marks[field]
    if m and m[2] == seq then
      marks[field] = nil
      n = n - 1
      redis.call('HDEL', KEYS[1], field)
    end
  end
elseif op == 'mark' then
  mark('')
elseif op == 'spend' then
  if tokens >= 1 then tokens = tokens - 1 end
  mark('')
end
local keep = 0
if tokens < burst then keep = math.ceil((burst - tokens) / rate * 1000) end
for _, m in pairs(marks) do keep = math.max(keep, m[1] - now) end
if keep <= 0 then
  redis.call('DEL', KEYS[1])
  return out
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'at', string.format('%d', at))
if changed then
  local m = marks[changed]
  redis.call('HSET', KEYS[1], changed, string.format('%d', m[1]) .. '|' .. m[2] .. '|' .. m[3])
end
redis.call('PEXPIRE', KEYS[1], keep)
return out
`)

// errGuessLimit is the failure of a call of a limit the script cannot
// keep; the service then counts alone.
var errGuessLimit = errors.New("cluster: guesses: invalid limit")

// call runs guessScript for op under ctx and the node's timeout.
func (g *Guesses) call(ctx context.Context, op string, l account.GuessLimit, id string, client netip.Addr, seq string) ([]int64, error) {
	if !(l.Rate > 0) || math.IsInf(l.Rate, 1) || l.Burst < 1 || l.Addrs < 1 || l.Memory < time.Millisecond {
		return nil, errGuessLimit
	}
	if !g.ask() {
		return nil, errQuiet
	}
	res, err := g.run(ctx, op, l, id, client, seq)
	if err := g.answered(ctx, err); err != nil {
		if op == "take" {
			g.lost(l, id, client, seq)
		}
		return nil, err
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("%w: guesses: answer %v", ErrUnavailable, res)
	}
	return res, nil
}

// run runs guessScript for op under ctx and the node's timeout, asking
// Redis whatever the skip says.
func (g *Guesses) run(ctx context.Context, op string, l account.GuessLimit, id string, client netip.Addr, seq string) ([]int64, error) {
	key, site := clientip.Group(client)
	siteKey := ""
	if site.IsValid() {
		siteKey = site.String()
	}
	call, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	return guessScript.Run(call, g.rdb, []string{g.keys.Guesses(id)},
		op, strconv.FormatFloat(l.Rate, 'g', -1, 64), l.Burst, l.Addrs, l.Memory.Milliseconds(),
		key.String(), siteKey, clientip.V6SiteFactor, seq).Int64Slice()
}

// lost gives back the mark a take (seq) that failed once sent may have
// made: Redis may have run it and its answer been lost (the deadline
// passed, the caller gave up, the connection broke), and the service,
// told nothing was taken, gives nothing back. Only the mark named seq is
// dropped, so that is safe when the take never ran. It runs on a
// goroutine of its own, under the node's timeout, and asks Redis though
// the take's failure has the other calls skip it: best effort, it fails
// as any call when Redis does not answer.
func (g *Guesses) lost(l account.GuessLimit, id string, client netip.Addr, seq string) {
	go func() { _, _ = g.run(context.Background(), "back", l, id, client, seq) }()
}

// Take implements account.Guesses.
func (g *Guesses) Take(ctx context.Context, l account.GuessLimit, id string, client netip.Addr) (account.Guess, bool, time.Duration, error) {
	seq := strconv.FormatUint(rand.Uint64(), 36)
	res, err := g.call(ctx, "take", l, id, client, seq)
	if err != nil {
		return account.Guess{}, false, 0, err
	}
	if res[0] == 0 {
		return account.Guess{}, false, max(time.Duration(res[1])*time.Millisecond, 0), nil
	}
	t := account.Guess{ID: id, Client: client, Mark: res[1] == 1}
	if t.Mark {
		t.Seq = seq
	}
	return t, true, 0, nil
}

// GiveBack implements account.Guesses.
func (g *Guesses) GiveBack(ctx context.Context, l account.GuessLimit, t account.Guess) error {
	seq := ""
	if t.Mark {
		seq = t.Seq
	}
	_, err := g.call(ctx, "back", l, t.ID, t.Client, seq)
	return err
}

// Mark implements account.Guesses.
func (g *Guesses) Mark(ctx context.Context, l account.GuessLimit, id string, client netip.Addr) error {
	_, err := g.call(ctx, "mark", l, id, client, "")
	return err
}

// Spend implements account.Guesses.
func (g *Guesses) Spend(ctx context.Context, l account.GuessLimit, id string, client netip.Addr) error {
	_, err := g.call(ctx, "spend", l, id, client, "")
	return err
}
