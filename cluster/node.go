package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Default registration timing: a node refreshes its key every
// DefaultHeartbeat; a node silent for DefaultTTL is gone from the registry.
const (
	DefaultHeartbeat = 2 * time.Second
	DefaultTTL       = 6 * time.Second
	// MaxTTL is the longest registration TTL Config accepts: a crashed
	// node leaves the registry within it.
	MaxTTL = 10 * time.Second
	// DefaultPrefix starts every key and channel name.
	DefaultPrefix = "tickroom:"
)

// Load is what a node reports of itself on each heartbeat.
type Load struct {
	// Conns is the number of open WebSocket connections.
	Conns int
	// Rooms is the number of rooms the node runs.
	Rooms int
	// Sessions is the number of logged-in tickroom.v1 sessions.
	Sessions int
}

// NodeInfo is one registered node as the registry holds it.
type NodeInfo struct {
	ID string `json:"id"`
	// WebSocketURL is the URL clients connect to (ws:// or wss://, with
	// the path).
	WebSocketURL string `json:"ws_url"`
	// HTTPURL is the node's public HTTP base URL (login, config), or empty.
	HTTPURL  string `json:"http_url,omitempty"`
	Conns    int    `json:"conns"`
	Sessions int    `json:"sessions"`
	Rooms    int    `json:"rooms"`
	Draining bool   `json:"draining"`
	// Started is when the node process started; Seen its last heartbeat
	// (Redis's clock).
	Started time.Time `json:"started"`
	Seen    time.Time `json:"seen"`
	// Up is when the node process started on Redis's clock, as it
	// reckons it (Node.RedisTime); zero until its second heartbeat, and
	// when NoUp.
	Up time.Time `json:"-"`
	// NoUp tells that the node's process writes no Up: a node of an
	// older version, or one restarted under the id from an older binary
	// (a rollback), the "up" left behind being the previous process's.
	// Its start is Started then, on its own clock.
	NoUp bool `json:"-"`
}

// Config configures a Node.
type Config struct {
	// Client is the Redis client (see Dial). Required.
	Client *redis.Client
	// ID names the node in the cluster: letters, digits, '.', '_', '-',
	// at most 64. Zero value means a random id.
	ID string
	// WebSocketURL is the absolute ws:// or wss:// URL, path included,
	// at which clients reach this node; redirects send clients there.
	// Zero value means SetURLs gives it before Start (a node listening on
	// port 0 knows its address only then).
	WebSocketURL string
	// HTTPURL is the node's public HTTP base URL. Zero value means none
	// is advertised.
	HTTPURL string
	// Load reports the node's load on each heartbeat. Zero value means
	// zero load.
	Load func() Load
	// Heartbeat is how often the registration is refreshed. Zero value
	// means DefaultHeartbeat.
	Heartbeat time.Duration
	// TTL is how long a registration outlives its last heartbeat; at
	// least twice Heartbeat and at most MaxTTL. Zero value means
	// DefaultTTL.
	TTL time.Duration
	// Timeout bounds each Redis call. Zero value means DefaultTimeout.
	Timeout time.Duration
	// Prefix starts every key and channel, so that several clusters can
	// share one Redis. Zero value means DefaultPrefix.
	Prefix string
	// Logger receives registration changes. Zero value means no logging.
	Logger *slog.Logger
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Node is this process's membership of the cluster: its registration and
// heartbeat, and the view of the other nodes. Its methods are safe from
// any goroutine.
type Node struct {
	cfg     Config
	rdb     *redis.Client
	keys    Keys
	started time.Time
	inst    string           // this process's mark on its registration ("inst")
	clock   func() time.Time // this node's clock (time.Now; tests skew it)

	// offset is Redis's clock less this node's (ns), as the heartbeat
	// with the shortest round trip within the last minute measured it
	// (RedisTime); offRTT and offAt are that heartbeat's round trip and
	// time, kept by the heartbeat's goroutine alone.
	offset  atomic.Int64
	clocked atomic.Bool // offset was measured
	offRTT  time.Duration
	offAt   time.Time
	// up is the process's start on Redis's clock (unix ms), its
	// registration's "up", learnt with the first offset; 0 until then.
	up atomic.Int64

	draining atomic.Bool
	rawPeers atomic.Bool           // every live node reads rawbody framing (RawPeers)
	opsPeers atomic.Bool           // every live node reads ops messages (BatchPeers)
	refPeers atomic.Bool           // every live node reads a reservation's refused rooms (RefusedPeers)
	lastErr  atomic.Pointer[error] // nil after a good heartbeat
	lastOK   atomic.Int64          // unix nanos of the last good heartbeat
	lost     atomic.Bool           // the last heartbeat did not reach Redis (Unreachable)
	inUse    atomic.Bool           // the last heartbeat found the id registered by another process

	mu         sync.Mutex
	hooks      []func(context.Context) error
	rejoin     bool // the hooks still have to run for the current registration
	hooking    bool // the hooks run (republish), beside the heartbeat
	hooksDone  sync.WaitGroup
	stop       chan struct{}
	done       chan struct{}
	running    bool
	closed     bool
	kick       chan struct{} // asks the heartbeat to run now
	registered atomic.Int64  // registrations written, for tests and metrics
}

// New checks cfg and returns a Node; it touches Redis only once Start is
// called.
func New(cfg Config) (*Node, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("%w: a Redis client is required", ErrConfig)
	}
	if cfg.ID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.ID = "n-" + hex.EncodeToString(b[:])
	}
	if !idPattern.MatchString(cfg.ID) {
		return nil, fmt.Errorf("%w: node id %q: letters, digits, '.', '_', '-', at most 64", ErrConfig, cfg.ID)
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.TTL == 0 {
		cfg.TTL = max(DefaultTTL, 2*cfg.Heartbeat)
	}
	if cfg.Heartbeat < 0 || cfg.TTL < 2*cfg.Heartbeat || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("%w: heartbeat %v and TTL %v: the TTL must be at least twice the heartbeat and at most %v", ErrConfig, cfg.Heartbeat, cfg.TTL, MaxTTL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Load == nil {
		cfg.Load = func() Load { return Load{} }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var inst [8]byte
	_, _ = rand.Read(inst[:])
	n := &Node{cfg: cfg, rdb: cfg.Client, keys: Keys{Prefix: cfg.Prefix}, started: time.Now(), inst: hex.EncodeToString(inst[:]), clock: time.Now, kick: make(chan struct{}, 1)}
	err := fmt.Errorf("%w: not registered yet", ErrUnavailable)
	n.lastErr.Store(&err)
	return n, nil
}

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// WebSocketURL returns the URL the node advertises to clients.
func (n *Node) WebSocketURL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg.WebSocketURL
}

// Client returns the node's Redis client, for the other cluster pieces.
func (n *Node) Client() *redis.Client { return n.rdb }

// Keys returns the key names the node uses.
func (n *Node) Keys() Keys { return n.keys }

// Timeout is the deadline of one Redis call.
func (n *Node) Timeout() time.Duration { return n.cfg.Timeout }

// Heartbeat is how often the registration is refreshed.
func (n *Node) Heartbeat() time.Duration { return n.cfg.Heartbeat }

// TTL is the registration's lifetime after its last heartbeat.
func (n *Node) TTL() time.Duration { return n.cfg.TTL }

// OnRegister adds a hook run after each fresh registration: at the first
// heartbeat, whenever a heartbeat finds the registration gone (Redis
// restarted empty, or the node was cut off past its TTL), and at the first
// heartbeat that succeeds after one that failed (a heartbeat that timed
// out may still have recreated the registration). The hooks
// republish what the node holds in memory; one that fails is run again
// at the next heartbeat, with the others. They run one at a time on a
// goroutine of their own while the heartbeat goes on, and the node is
// ready (Ready) once they all succeeded.
func (n *Node) OnRegister(f func(context.Context) error) {
	n.mu.Lock()
	n.hooks = append(n.hooks, f)
	n.rejoin = true
	n.mu.Unlock()
}

// SetURLs sets the WebSocket and HTTP URLs the node advertises, when
// Config did not; it must be called before Start.
func (n *Node) SetURLs(ws, http string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running {
		n.cfg.WebSocketURL, n.cfg.HTTPURL = ws, http
	}
}

// Start registers the node at once (a Redis that is down only delays it)
// and keeps the registration fresh until Close. It fails with ErrConfig
// when the node has no WebSocket URL.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running || n.closed {
		return nil
	}
	if n.cfg.WebSocketURL == "" {
		return fmt.Errorf("%w: the node's WebSocket URL is required", ErrConfig)
	}
	n.running = true
	n.started = n.clock()
	n.stop, n.done = make(chan struct{}), make(chan struct{})
	go n.loop(n.stop, n.done)
	return nil
}

// SetDraining marks the node as draining (or not) in its registration,
// at once: a draining node is given no new rooms.
func (n *Node) SetDraining(on bool) {
	n.draining.Store(on)
	n.Refresh()
}

// Draining reports whether the node drains.
func (n *Node) Draining() bool { return n.draining.Load() }

// Refresh asks the heartbeat to write the registration now.
func (n *Node) Refresh() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Ready returns nil when the last heartbeat reached Redis, else why not
// (wrapping ErrUnavailable); /readyz reports it.
func (n *Node) Ready() error {
	if p := n.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Unreachable reports whether the node's last heartbeat failed to reach
// Redis: false before the first and again as soon as one reaches it,
// whether or not the node is Ready yet (it may still be republishing).
// Callers that may do without Redis (Buckets) skip it meanwhile rather
// than wait out its timeout.
func (n *Node) Unreachable() bool { return n.lost.Load() }

// Registrations returns how many times the node has written a fresh
// registration (1 after the first heartbeat; one more after each Redis
// loss it recovered from).
func (n *Node) Registrations() int64 { return n.registered.Load() }

func (n *Node) loop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		n.beat()
		select {
		case <-stop:
			return
		case <-t.C:
		case <-n.kick:
		}
	}
}

// beat writes the registration and, on a fresh one, runs the hooks.
func (n *Node) beat() {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Timeout)
	fresh, err := n.register(ctx)
	cancel()
	n.lost.Store(err != nil)
	inUse := errors.Is(err, errIDInUse)
	if n.inUse.Swap(inUse) != inUse && inUse {
		n.cfg.Logger.Error("cluster: another process runs under this node id; this one stays out of the cluster (not ready) until that one's registration lapses: give each process its own -node-id", "node", n.cfg.ID, "err", err)
	}
	if err != nil {
		if n.Ready() == nil && !inUse {
			n.cfg.Logger.Warn("cluster: heartbeat failed; serving local rooms, cluster-wide requests fail until Redis answers", "node", n.cfg.ID, "err", err)
		}
		n.lastErr.Store(&err)
		// The script may still run after the deadline (a silent Redis
		// executes what it received once it answers again) and recreate
		// an expired registration: its "fresh" answer is then lost, and
		// the next heartbeat finds the key present. So after any failed
		// heartbeat the hooks run again, whatever the next one answers.
		n.mu.Lock()
		n.rejoin = true
		n.mu.Unlock()
		return
	}
	n.mu.Lock()
	if fresh {
		n.registered.Add(1)
		n.rejoin = true
	}
	// The hooks republish a node's worth of rooms and users, which on a
	// loaded node or Redis takes longer than the registration's TTL: they
	// run beside the heartbeat, which goes on refreshing the registration
	// meanwhile. Run on this goroutine, they kept it from beating past
	// the TTL, the other nodes swept the node's rooms as a dead node's,
	// and the next heartbeat found the registration gone and republished
	// again, round and round.
	pending := n.rejoin || n.hooking
	if n.rejoin && !n.hooking && !n.closed {
		n.hooking = true
		n.hooksDone.Add(1)
		go n.runHooks(!fresh || n.registered.Load() > 1)
	}
	n.mu.Unlock()
	if pending {
		return // ready once the hooks succeed
	}
	n.markReady()
}

// markReady records a good heartbeat.
func (n *Node) markReady() {
	if n.Ready() != nil {
		n.cfg.Logger.Info("cluster: registered", "node", n.cfg.ID, "ws", n.cfg.WebSocketURL)
	}
	n.lastErr.Store(nil)
	n.lastOK.Store(time.Now().UnixNano())
}

// runHooks runs the hooks (again: not for the node's first
// registration) until a whole round of them succeeds with no
// heartbeat failing or finding the registration gone meanwhile, then
// marks the node ready; when one fails it leaves them to the next
// heartbeat.
func (n *Node) runHooks(again bool) {
	defer n.hooksDone.Done()
	for ; ; again = true {
		n.mu.Lock()
		n.rejoin = false
		hooks := slices.Clone(n.hooks)
		n.mu.Unlock()
		if again {
			n.cfg.Logger.Info("cluster: registered again after losing Redis; republishing local state", "node", n.cfg.ID)
		}
		var herr error
		for _, h := range hooks {
			// A hook republishes a node's worth of rooms: give it more
			// than one call's deadline.
			hctx, cancel := context.WithTimeout(context.Background(), 4*n.cfg.Timeout)
			herr = h(hctx)
			cancel()
			if herr != nil {
				break
			}
		}
		n.mu.Lock()
		if herr != nil {
			n.rejoin, n.hooking = true, false
			n.mu.Unlock()
			herr = unavailable(herr)
			n.lastErr.Store(&herr)
			return
		}
		if n.rejoin && !n.closed {
			n.mu.Unlock()
			continue // a heartbeat failed or found the registration gone meanwhile
		}
		n.hooking = false
		n.mu.Unlock()
		n.markReady()
		return
	}
}

// errIDInUse: the node's id is registered by another process.
var errIDInUse = errors.New("node id in use")

// register writes the registration; fresh tells that the key did not
// exist before. It fails with errIDInUse, writing nothing, while the
// registration under the node's id is another process's: a node that
// runs under the same id (two processes given one -node-id), or one
// that crashed and whose registration has not lapsed yet (a supervisor
// that restarted it at once). Taking it over sent the first process's
// players to this one, its redirects to the other, and dropped its
// rooms from the directory as a previous process's.
func (n *Node) register(ctx context.Context) (fresh bool, err error) {
	l := n.cfg.Load()
	draining := "0"
	if n.draining.Load() {
		draining = "1"
	}
	up := ""
	if ms := n.up.Load(); ms != 0 {
		up = strconv.FormatInt(ms, 10)
	}
	t0 := n.clock()
	r, err := registerScript.Run(ctx, n.rdb, []string{n.keys.Node(n.cfg.ID), n.keys.Nodes()},
		n.cfg.ID, n.cfg.TTL.Milliseconds(), n.keys.NodePrefix(), n.inst,
		"inst", n.inst, "id", n.cfg.ID, "ws", n.cfg.WebSocketURL, "http", n.cfg.HTTPURL,
		"conns", l.Conns, "sessions", l.Sessions, "rooms", l.Rooms, "draining", draining,
		"started", n.started.UnixMilli(), "wire", n.started.UnixMilli(), "ops", n.started.UnixMilli(),
		"refused", n.started.UnixMilli(), "up", up, "upof", n.started.UnixMilli(),
	).Int64Slice()
	if err != nil {
		return false, unavailable(err)
	}
	if len(r) == 1 && r[0] == -1 {
		f, _ := n.rdb.HMGet(ctx, n.keys.Node(n.cfg.ID), "ws", "started").Result()
		ws, started := "?", "?"
		if len(f) == 2 {
			if s, ok := f[0].(string); ok {
				ws = s
			}
			if s, ok := f[1].(string); ok {
				if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
					started = time.UnixMilli(ms).UTC().Format(time.RFC3339)
				}
			}
		}
		return false, fmt.Errorf("%w: %w: node %q is registered by another process (ws %s, started %s); this one registers once that registration lapses (%v after its last heartbeat)",
			ErrUnavailable, errIDInUse, n.cfg.ID, ws, started, n.cfg.TTL)
	}
	if len(r) != 6 {
		return false, unavailable(errors.New("unexpected heartbeat answer"))
	}
	n.learnOffset(t0, n.clock(), time.Unix(r[4], r[5]*1000))
	if n.up.Load() == 0 {
		n.up.Store(n.RedisTime(n.started).UnixMilli())
	}
	n.rawPeers.Store(r[1] == 1)
	n.opsPeers.Store(r[2] == 1)
	n.refPeers.Store(r[3] == 1)
	return r[0] == 0, nil
}

// learnOffset notes the offset of Redis's clock, read as redis between
// t0 and t1 on this node's, when the round trip is the shortest of the
// last minute.
func (n *Node) learnOffset(t0, t1, redis time.Time) {
	rtt := t1.Sub(t0)
	if n.offRTT > 0 && rtt > n.offRTT && t1.Sub(n.offAt) < time.Minute {
		return
	}
	n.offRTT, n.offAt = max(rtt, 1), t1
	n.offset.Store(int64(redis.Sub(t0.Add(rtt / 2))))
	n.clocked.Store(true)
}

// LocalTime returns t, a time on Redis's clock, on this node's clock
// (RedisTime's inverse); ok is false, and t returned as it is, until a
// heartbeat measured the difference (a Redis that does not answer, or a
// registration of another process under the node's id, delays it).
func (n *Node) LocalTime(t time.Time) (local time.Time, ok bool) {
	if !n.clocked.Load() {
		return t, false
	}
	return t.Add(-time.Duration(n.offset.Load())), true
}

// RedisTime returns t, a time on this node's clock, on Redis's clock, as
// the heartbeats measure the difference (within half a round trip to
// Redis); t itself before the first heartbeat. Nodes order what they
// compare across the cluster on it, whatever their own clocks say.
func (n *Node) RedisTime(t time.Time) time.Time {
	return t.Add(time.Duration(n.offset.Load()))
}

// RawPeers reports whether every live node, at this node's last
// heartbeat, reads bodies framed by internal/rawbody, so that the Bus may
// send them so; until then, and whenever an older node is registered (a
// rolling deploy), it sends the older form, base64 inside the JSON, which
// every version reads. A node says it reads them by writing its start
// time as its registration's "wire" as well as its "started": a node of
// an older version writes no "wire", and one restarted from an older
// binary under the same id (a rollback) rewrites "started", so a "wire"
// left behind no longer matches.
func (n *Node) RawPeers() bool { return n.rawPeers.Load() }

// BatchPeers reports whether every live node, at this node's last
// heartbeat, reads the social layer's "ops" messages, several requests
// in one (Social.SetBatchPeers). A node says so as it says it reads raw
// bodies (RawPeers), with its registration's "ops".
func (n *Node) BatchPeers() bool { return n.opsPeers.Load() }

// RefusedPeers reports whether every live node, at this node's last
// heartbeat, reads the rooms a quick-match passed over in a reservation
// token's value ("<node>|<user>|<room>,<refused>…", Directory.Claim), so
// that the Directory's Match and Place may write them there; until then
// it writes the older form, without them, whose room id a node of an
// older version reads. A node says so as it says it reads raw bodies
// (RawPeers), with its registration's "refused".
func (n *Node) RefusedPeers() bool { return n.refPeers.Load() }

// registerScript writes a node's hash, sets its TTL and its expiry in
// the node index, with Redis's clock, unless the hash is another
// process's (its "inst" is not ARGV[4]; {-1} then, nothing written); it
// returns whether the hash existed
// whether every live node's hash has a "wire" equal to its "started"
// (see RawPeers; a hash gone since counts for nothing), whether each
// has an "ops" equal to it (BatchPeers), whether each has a
// "refused" equal to it (RefusedPeers), and Redis's clock (seconds and
// microseconds, as TIME gives them).
// ARGV: id, ttl ms, node key prefix, this process's inst, then the
// hash's fields and values.
var registerScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local existed = redis.call('EXISTS', KEYS[1])
if existed == 1 and redis.call('HGET', KEYS[1], 'inst') ~= ARGV[4] then return {-1} end
redis.call('HSET', KEYS[1], 'seen', now, unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
local raw, ops, refused = 1, 1, 1
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf')) do
  local f = redis.call('HMGET', ARGV[3] .. id, 'wire', 'started', 'ops', 'refused')
  if f[2] then
    if f[1] ~= f[2] then raw = 0 end
    if f[3] ~= f[2] then ops = 0 end
    if f[4] ~= f[2] then refused = 0 end
  end
end
return {existed, raw, ops, refused, tonumber(t[1]), tonumber(t[2])}
`)

// nodesScript drops expired entries of the node index and returns the
// hashes of the live nodes.
var nodesScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', ARGV[1] .. id)
  if #h > 0 then out[#out + 1] = h end
end
return out
`)

// Nodes returns the live nodes, this one included when registered,
// ordered by id. It fails with ErrUnavailable when Redis does not answer.
func (n *Node) Nodes(ctx context.Context) ([]NodeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	v, err := nodesScript.Run(ctx, n.rdb, []string{n.keys.Nodes()}, n.keys.NodePrefix()).Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]NodeInfo, 0, len(v))
	for _, h := range v {
		flat, _ := h.([]any)
		m := make(map[string]string, len(flat)/2)
		for i := 0; i+1 < len(flat); i += 2 {
			k, _ := flat[i].(string)
			val, _ := flat[i+1].(string)
			m[k] = val
		}
		out = append(out, nodeFromHash(m))
	}
	slices.SortFunc(out, func(a, b NodeInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out, nil
}

func nodeFromHash(m map[string]string) NodeInfo {
	atoi := func(s string) int { v, _ := strconv.Atoi(s); return v }
	ms := func(s string) time.Time {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.UnixMilli(v)
	}
	info := NodeInfo{
		ID: m["id"], WebSocketURL: m["ws"], HTTPURL: m["http"],
		Conns: atoi(m["conns"]), Sessions: atoi(m["sessions"]), Rooms: atoi(m["rooms"]), Draining: m["draining"] == "1",
		Started: ms(m["started"]), Seen: ms(m["seen"]),
	}
	// "up" is the current process's when it came with the current
	// "started" ("upof"): a process restarted from an older binary
	// rewrites "started", and leaves the "up" of the one before.
	if of := m["upof"]; of != "" && of == m["started"] {
		info.Up = ms(m["up"]) // zero while empty: not known yet
	} else {
		info.NoUp = true
	}
	return info
}

// Close stops the heartbeat and removes the registration, so that the
// others stop sending clients here at once rather than after the TTL;
// another process's registration under the same id stays.
// It returns the Redis error of the removal, if any (the TTL removes the
// registration anyway).
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	running, stop, done := n.running, n.stop, n.done
	n.mu.Unlock()
	if running {
		close(stop)
		<-done
	}
	n.hooksDone.Wait()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	return unavailable(leaveScript.Run(ctx, n.rdb, []string{n.keys.Node(n.cfg.ID), n.keys.Nodes()}, n.cfg.ID, n.inst).Err())
}

// leaveScript removes a node's registration and its entry in the node
// index, unless the registration is another process's: its "inst" is not
// ARGV[2], or it has none (a node of an older version runs under the
// id). KEYS: the node's hash, the node index. ARGV: id, inst.
var leaveScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HGET', KEYS[1], 'inst') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)
