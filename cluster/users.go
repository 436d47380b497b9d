package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Users defaults.
const (
	// DefaultUserTTL is how long a session's record outlives its node's
	// last refresh of it. A crashed node's sessions stop counting sooner:
	// Locate skips the sessions of nodes whose registration expired.
	DefaultUserTTL = 2 * time.Minute
	// usersBatch is how many records one refresh script touches.
	usersBatch = 500
)

// UserSession is one connection of a user as the cluster records it.
type UserSession struct {
	// Node is the id of the node the connection is on.
	Node string
	// Conn is the connection's id on that node.
	Conn uint64
}

func (s UserSession) field() string { return s.Node + "/" + strconv.FormatUint(s.Conn, 10) }

func parseUserSession(f string) (UserSession, bool) {
	i := strings.LastIndexByte(f, '/')
	if i <= 0 {
		return UserSession{}, false
	}
	c, err := strconv.ParseUint(f[i+1:], 10, 64)
	return UserSession{Node: f[:i], Conn: c}, err == nil
}

// UsersConfig configures Users.
type UsersConfig struct {
	// Client is the Redis client. Required.
	Client *redis.Client
	// Node is this node's id. Required.
	Node string
	// Prefix starts every key. Zero value means DefaultPrefix.
	Prefix string
	// Timeout bounds one Redis call. Zero value means one second.
	Timeout time.Duration
	// TTL is how long a session's record lives past its last refresh.
	// Zero value means DefaultUserTTL.
	TTL time.Duration
	// Refresh is how often this node refreshes its sessions' records.
	// Zero value means a third of TTL.
	Refresh time.Duration
	// NodeLiveness makes Claim and Locate ignore the sessions of nodes
	// that are not in the node registry (Keys.Nodes): a node that died is
	// out of it within its registration TTL. Zero value means records
	// count until their own TTL.
	NodeLiveness bool
	// Logger receives refresh failures. Zero value means no logging.
	Logger *slog.Logger
}

// Users is the cluster-wide record of who is connected where: one Redis
// hash per user (Keys.User), a field per connection ("node/conn") whose
// value is "deadline:since": its deadline in Redis's clock (milliseconds
// since 1970) and when its node accepted it, on Redis's clock as that
// node reckons it (Registry.UseClockOf; microseconds since 1970).
// The node holding a connection refreshes it; a field past its deadline,
// or of a node gone from the registry, is ignored by readers and removed
// by the next claim. Since orders the connections of a user on different
// nodes: an exclusive claim never removes a connection that opened after
// its own (see Claim), so it works whatever order claims reach Redis in.
// Two nodes' reckonings differ by up to half their round trips to Redis,
// so a reconnection through another node within that (a client following
// a Redirect at once, a few ms on a loaded host), while the first node's
// record of the old connection stands, may read as the older one: Claim
// reports the other connection's since (Claimed.NewerSince), and the
// Registry claims again, a short while, a connection superseded by one
// within that error (claimMargin), until the first node's release of the
// closed connection has removed its record (claimPatience); only a record
// that stands after that, a connection still open, wins on the clocks.
// Its methods are safe from any goroutine; those that take a context wait
// on Redis and are never called from an event loop.
type Users struct {
	cfg  UsersConfig
	rdb  *redis.Client
	keys Keys
	log  *slog.Logger

	mu     sync.Mutex
	local  map[string]map[uint64]int64 // user → this node's connections → since (µs)
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// NewUsers checks cfg and returns Users.
func NewUsers(cfg UsersConfig) (*Users, error) {
	if cfg.Client == nil || cfg.Node == "" {
		return nil, fmt.Errorf("%w: users need a Redis client and a node id", ErrConfig)
	}
	if strings.Contains(cfg.Node, "/") {
		return nil, fmt.Errorf("%w: node id %q has a '/'", ErrConfig, cfg.Node)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultUserTTL
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = cfg.TTL / 3
	}
	if cfg.Refresh >= cfg.TTL {
		return nil, fmt.Errorf("%w: users refresh %v is not shorter than their TTL %v", ErrConfig, cfg.Refresh, cfg.TTL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Users{cfg: cfg, rdb: cfg.Client, keys: Keys{Prefix: cfg.Prefix}, log: cfg.Logger,
		local: make(map[string]map[uint64]int64)}, nil
}

// User is the hash of one user's connections (TTL: UsersConfig.TTL past
// the last refresh).
func (k Keys) User(id string) string { return k.Prefix + "user:" + id }

// liveCheck is the script preamble: now (Redis's clock), live(field,
// value), which tells whether a record counts, nodeOf(field) and
// since(value) (0 for a value without one).
const liveCheck = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function nodeOf(f) return string.match(f, '^(.*)/') end
local function since(v) return tonumber(string.match(v, ':(%d+)$')) or 0 end
local function live(f, v)
  local dl = tonumber(string.match(v, '^%d+'))
  if dl == nil or dl <= now then return false end
  if ARGV[1] ~= '1' then return true end
  local exp = redis.call('ZSCORE', KEYS[1], nodeOf(f))
  return exp ~= false and tonumber(exp) > now
end
`

// claimScript records ARGV[2] in KEYS[2] with a deadline ARGV[3] ms away
// and since ARGV[5], drops records that no longer count and, with ARGV[4]
// = '1', removes the user's other live records and returns them after a
// first element '0'. An exclusive claim that finds a live record of
// another node with a later since records nothing, removes only its own
// field and returns {'1', that record, its since}: that connection
// replaces this one.
// Records of the claimer's node never do: that node's claims run in the
// order its connections opened.
var claimScript = redis.NewScript(liveCheck + `
local h = redis.call('HGETALL', KEYS[2])
if ARGV[4] == '1' then
  local mine, node = tonumber(ARGV[5]), nodeOf(ARGV[2])
  for i = 1, #h, 2 do
    local f = h[i]
    if f ~= ARGV[2] and nodeOf(f) ~= node and since(h[i + 1]) > mine and live(f, h[i + 1]) then
      redis.call('HDEL', KEYS[2], ARGV[2])
      return {'1', f, string.match(h[i + 1], ':(%d+)$')}
    end
  end
end
local out = {'0'}
for i = 1, #h, 2 do
  local f = h[i]
  if f ~= ARGV[2] then
    if not live(f, h[i + 1]) then
      redis.call('HDEL', KEYS[2], f)
    elseif ARGV[4] == '1' then
      redis.call('HDEL', KEYS[2], f)
      out[#out + 1] = f
    end
  end
end
redis.call('HSET', KEYS[2], ARGV[2], string.format('%d:%s', now + tonumber(ARGV[3]), ARGV[5]))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return out
`)

// locateScript returns, for each user key KEYS[2..], its live records.
var locateScript = redis.NewScript(liveCheck + `
local out = {}
for k = 2, #KEYS do
  local h = redis.call('HGETALL', KEYS[k])
  local l = {}
  for i = 1, #h, 2 do
    if live(h[i], h[i + 1]) then l[#l + 1] = h[i] end
  end
  out[#out + 1] = l
end
return out
`)

// refreshScript moves the deadline of the records ARGV[2..] of the user
// keys KEYS[1..] ARGV[1] ms away, keeping their since, those still there
// only: a record another node's claim removed stays removed.
var refreshScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  local v = redis.call('HGET', k, ARGV[i + 1])
  if v then
    redis.call('HSET', k, ARGV[i + 1], string.format('%d', now + ttl) .. (string.match(v, ':%d+$') or ''))
    redis.call('PEXPIRE', k, ttl)
  end
end
return 0
`)

func (u *Users) liveArg() string {
	if u.cfg.NodeLiveness {
		return "1"
	}
	return "0"
}

// Claimed is what Claim did.
type Claimed struct {
	// Replaced are the user's connections the claim removed from the
	// record: the caller closes them (this node's) or tells their nodes.
	Replaced []UserSession
	// Newer, when Superseded, is the connection that opened after the
	// claimed one on another node, and NewerSince when (as its node
	// reckons Redis's clock).
	Newer      UserSession
	NewerSince time.Time
	// Superseded reports that an exclusive claim found a live connection
	// of the user on another node that opened after the claimed one (its
	// claim reached Redis first): nothing was recorded or removed, and the
	// caller closes the claimed connection as replaced.
	Superseded bool
}

// Claim records connection conn of user on this node, opened at since.
// With exclusive, the user's other connections, on any node, are removed
// from the record and returned, unless one on another node opened after
// since: then conn is not recorded (Claimed.Superseded), so that a claim
// that reaches Redis late (a client that followed a Redirect may have
// connected to another node meanwhile) never replaces a newer connection.
// Nodes' reckonings of Redis's clock order connections on different
// nodes, within half their round trips to Redis: the caller tells a
// connection superseded by one opened within that error from Claimed's
// NewerSince, and may claim again once the other's record is gone (see
// Users). It fails with
// ErrUnavailable when Redis does not answer; the connection is still
// remembered here and recorded by Republish.
func (u *Users) Claim(ctx context.Context, user string, conn uint64, since time.Time, exclusive bool) (Claimed, error) {
	us := since.UnixMicro()
	u.mu.Lock()
	set := u.local[user]
	if set == nil {
		set = make(map[uint64]int64)
		u.local[user] = set
	}
	set[conn] = us
	u.mu.Unlock()
	ex := "0"
	if exclusive {
		ex = "1"
	}
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	me := UserSession{Node: u.cfg.Node, Conn: conn}
	fields, err := claimScript.Run(ctx, u.rdb, []string{u.keys.Nodes(), u.keys.User(user)},
		u.liveArg(), me.field(), u.cfg.TTL.Milliseconds(), ex, us).StringSlice()
	if err != nil {
		return Claimed{}, unavailable(err)
	}
	if len(fields) > 0 && fields[0] == "1" {
		u.forget(user, conn)
		res := Claimed{Superseded: true}
		if len(fields) == 3 {
			res.Newer, _ = parseUserSession(fields[1])
			at, _ := strconv.ParseInt(fields[2], 10, 64)
			res.NewerSince = time.UnixMicro(at)
		}
		return res, nil
	}
	if len(fields) > 0 {
		fields = fields[1:]
	}
	return Claimed{Replaced: parseFields(fields)}, nil
}

// forget drops connection conn of user from this node's records.
func (u *Users) forget(user string, conn uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if set := u.local[user]; set != nil {
		delete(set, conn)
		if len(set) == 0 {
			delete(u.local, user)
		}
	}
}

func parseFields(fields []string) []UserSession {
	out := make([]UserSession, 0, len(fields))
	for _, f := range fields {
		if s, ok := parseUserSession(f); ok {
			out = append(out, s)
		}
	}
	return out
}

// Release removes connection conn of user on this node from the record.
func (u *Users) Release(ctx context.Context, user string, conn uint64) error {
	u.forget(user, conn)
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	return unavailable(u.rdb.HDel(ctx, u.keys.User(user), UserSession{Node: u.cfg.Node, Conn: conn}.field()).Err())
}

// Locate returns the live connections of each user (a user with none is
// absent from the map). It fails with ErrUnavailable when Redis does not
// answer.
func (u *Users) Locate(ctx context.Context, users ...string) (map[string][]UserSession, error) {
	keys := make([]string, 0, len(users)+1)
	keys = append(keys, u.keys.Nodes())
	for _, id := range users {
		keys = append(keys, u.keys.User(id))
	}
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	v, err := locateScript.Run(ctx, u.rdb, keys, u.liveArg()).Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make(map[string][]UserSession)
	for i, l := range v {
		list, _ := l.([]any)
		if i >= len(users) || len(list) == 0 {
			continue
		}
		fields := make([]string, 0, len(list))
		for _, f := range list {
			if s, ok := f.(string); ok {
				fields = append(fields, s)
			}
		}
		out[users[i]] = parseFields(fields)
	}
	return out, nil
}

// Start refreshes this node's records every UsersConfig.Refresh until
// Close.
func (u *Users) Start() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stop != nil || u.closed {
		return
	}
	u.stop, u.done = make(chan struct{}), make(chan struct{})
	go u.loop(u.stop, u.done)
}

func (u *Users) loop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(u.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if err := u.refresh(context.Background()); err != nil {
			u.log.Warn("cluster: refreshing user records failed", "err", err)
		}
	}
}

// records returns this node's (user, field, since) triples.
func (u *Users) records() (users, fields []string, since []int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for user, set := range u.local {
		for c, us := range set {
			users = append(users, user)
			fields = append(fields, UserSession{Node: u.cfg.Node, Conn: c}.field())
			since = append(since, us)
		}
	}
	return users, fields, since
}

// refresh moves the deadline of this node's records, in batches.
func (u *Users) refresh(ctx context.Context) error {
	users, fields, _ := u.records()
	for i := 0; i < len(users); i += usersBatch {
		j := min(i+usersBatch, len(users))
		keys := make([]string, 0, j-i)
		args := make([]any, 0, j-i+1)
		args = append(args, u.cfg.TTL.Milliseconds())
		for k := i; k < j; k++ {
			keys = append(keys, u.keys.User(users[k]))
			args = append(args, fields[k])
		}
		cctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
		err := refreshScript.Run(cctx, u.rdb, keys, args...).Err()
		cancel()
		if err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// Republish records every connection of this node again, removing none:
// after Redis lost its data, or this node was cut off past the TTL.
func (u *Users) Republish(ctx context.Context) error {
	users, fields, since := u.records()
	for i := 0; i < len(users); i += usersBatch {
		j := min(i+usersBatch, len(users))
		_, err := u.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for k := i; k < j; k++ {
				claimScript.Eval(ctx, p, []string{u.keys.Nodes(), u.keys.User(users[k])},
					u.liveArg(), fields[k], u.cfg.TTL.Milliseconds(), "0", since[k])
			}
			return nil
		})
		if err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// Connected returns how many users this node has connections of.
func (u *Users) Connected() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.local)
}

// Leave removes every record of this node's connections from Redis and
// forgets them: a node shutting down leaves the cluster before it closes
// its connections, so their Releases come after the registry stopped and
// never reach Redis. Left there, the records outlived the node by their
// TTL (2 min), and counted again as soon as a node of the same id
// registered (a restart under its -node-id). Connections recorded after
// Leave (a claim still queued) lapse with their TTL.
func (u *Users) Leave(ctx context.Context) error {
	users, fields, _ := u.records()
	u.mu.Lock()
	clear(u.local)
	u.mu.Unlock()
	for i := 0; i < len(users); i += usersBatch {
		j := min(i+usersBatch, len(users))
		cctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
		_, err := u.rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
			for k := i; k < j; k++ {
				p.HDel(cctx, u.keys.User(users[k]), fields[k])
			}
			return nil
		})
		cancel()
		if err != nil {
			return unavailable(err)
		}
	}
	return nil
}

// Close stops the refresh. The records stay until their TTL, or until
// Release or Leave.
func (u *Users) Close() {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.closed = true
	stop, done := u.stop, u.done
	u.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}
