// Package hub is tickroom's application layer over the WebSocket transport:
// it authenticates connections with session tokens, keeps one session per
// user, and serves the lobby (list, create, join, quick-match, spectate,
// leave), play (inputs in, state out) and resume of tickroom.v1.
//
// Chat, channels, direct messages, presence, friends, blocks and operator
// notifications live in package social; the hub creates a social.Member
// for each session, hands it the social requests, and is its social.Host.
// Everything social sends is Reliable: never skipped like stale state; a
// connection too slow to take it is closed by the transport with its
// slow-client code.
//
// # Seams
//
// Three small interfaces stand where a cluster will put shared state, each
// with the in-process implementation used today:
//
//   - Registry (MemoryRegistry): who is online, on which connection.
//   - Directory (MemoryDirectory): which rooms exist, with their seats and
//     metadata, and the quick-match pools.
//   - social.Fanout (LocalFanout): messages to connections and to users,
//     encoded once.
//   - Revocations (MemoryRevocations): kicks, bans and sign-outs (a new
//     password ended the sessions of older tokens), which outlive the
//     connections they closed; a store persists them.
//
// Config fields set other implementations; callers never see which one
// runs.
//
// # Errors
//
// A refusal is an error: the hub's own and social's carry their wire code
// (*protocol.Error), the room runtime's sentinels are mapped in one table
// (runtimeCodes), and Session.fail is the one place that turns an error
// into an Error reply.
//
// # Abuse bounds
//
// Room creation is paid from per-user and per-address budgets, and the
// rooms a user or an address created count against its share while they
// live (quota.go); lobby channels likewise (social.Config). docs/limits.md
// lists every bound and what a client sees when it hits it.
//
// # Concurrency
//
// Handler methods run on the connection's event loop. A session's own
// message state (rate limiter, decode buffer) is touched only there; its
// room memberships are guarded by the session's mutex because join results
// and removals arrive on tick workers. Hub.mu guards the held seats, the
// rooms each user is counted in (held.go) and the shutdown flag; a
// session's memberships are added and removed with Hub.mu and Session.mu
// both held, so the count and the lists agree (the input path takes only
// Session.mu). Lock order: Hub.mu before the Registry's lock and
// Session.mu; never call into a Room while holding either (rooms call back
// on their own goroutines). Social's locks are never taken while Hub.mu or
// a Session.mu is held.
//
// # Rate limits
//
// The per-message rate is the transport's (server.Config.MessageRate,
// checked by server.Conn's own token bucket; the server package doc says
// why not golang.org/x/time/rate): a message over it reaches the hub with
// server.Conn.OverRate set, and the hub answers it with
// ERROR_CODE_RATE_LIMITED and drops it; the transport closes a connection
// that keeps flooding with server.Config.RateCloseCode (the tickroom
// package sets CLOSE_CODE_RATE_LIMITED). Limits checked off the hot path
// (guest logins per address in server/auth) use x/time/rate.
//
// A rate field of Config or SocialConfig that is negative or NaN makes New
// fail naming it; a positive one however small is taken as it is, and the
// retry hint its refusals give (retry_after_ms, a 429's Retry-After) is at
// most an hour.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/internal/logspace"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/social"
)

// Path is where the hub is served by default.
const Path = "/v1/ws"

var (
	// ErrConfig wraps a Config that New refuses.
	ErrConfig = errors.New("hub: invalid config")
	// ErrNoSession is returned for an operation on a user with no session.
	ErrNoSession = errors.New("hub: user has no session")
)

// Config configures a Hub.
type Config struct {
	// Server is the transport the hub is served on; it is used to broadcast
	// frames grouped by event loop. Required.
	Server *server.Server
	// Auth verifies session tokens. Required.
	Auth *auth.Authority
	// Games holds the games rooms can run. Zero value means an empty
	// registry: every create fails with ERROR_CODE_UNKNOWN_GAME.
	Games *game.Registry
	// Runtime configures the room runtime the hub creates; its Registry,
	// Transport and OnRemoved are set by the hub. Its DropGrace is the
	// resume window.
	Runtime game.Config
	// MultipleSockets lets a user hold several connections at once. Zero
	// value means one socket per user: a second login closes the first with
	// CLOSE_CODE_DUPLICATE_LOGIN.
	MultipleSockets bool
	// HeartbeatInterval is the application ping interval told to clients in
	// Welcome. Zero value means 10 s.
	HeartbeatInterval time.Duration
	// MaxRoomsPerUser caps the rooms one user is a member of at once on
	// this node, as a player or a spectator, counted across all of the
	// user's connections and the seats held for its dropped or replaced
	// ones (a resume takes back a room already counted); a join or create
	// past it gets ERROR_CODE_ALREADY_IN_ROOM. Zero value means 4.
	MaxRoomsPerUser int
	// MaxRooms caps the rooms the server runs at once; a create beyond it
	// gets ERROR_CODE_ROOM_LIMIT. Zero value means 10,000.
	MaxRooms int
	// RoomCreateRate and RoomCreateBurst are a user's room creation
	// budget, a token bucket in cost units (game.Definition.RoomCost: a
	// 20 Hz room of up to 8 players costs 1 by default): past it a create gets
	// ERROR_CODE_RATE_LIMITED with a retry hint. Zero values mean 0.5 units
	// a second and a burst of 32.
	RoomCreateRate  float64
	RoomCreateBurst int
	// MaxRoomCostPerUser caps the cost of the live rooms a user created,
	// in them or not; past it a create gets ERROR_CODE_ROOM_LIMIT. Zero
	// value means 32.
	MaxRoomCostPerUser int
	// JoinRate and JoinBurst bound how fast one user becomes a new member
	// of rooms on this node (a token bucket, per second, of the user's,
	// shared by all its connections and kept across its reconnections),
	// each join and leave being a RoomEvent to every other member of the
	// room: a JoinRoom, as a player or a spectator, of a room the user
	// has no seat in, and a QuickMatch (one token whatever rooms it tries
	// or makes). A resume, or a JoinRoom of a room where the user holds a
	// seat (held for a dropped connection, or another of its
	// connections'), is never charged, nor is a CreateRoom (the creation
	// budget bounds it, and its room has no other member), nor a join
	// refused before it reached the room. Past it a join gets
	// ERROR_CODE_RATE_LIMITED with a retry hint. Zero values mean one
	// every 2 s and a burst of 16; +Inf turns it off.
	JoinRate  float64
	JoinBurst int
	// IPQuotaFactor makes a client address's creation budget and share of
	// live rooms this many times a user's, shared by every user on the
	// address. Zero value means 4.
	IPQuotaFactor int
	// IPQuotaExempt tells the addresses that have no share of their own
	// (their users keep theirs). Zero value means loopback addresses: a
	// load test, or a proxy on the same host whose clients are told apart
	// only with trusted proxies set on the server.
	IPQuotaExempt func(netip.Addr) bool
	// WrongPasswordRate and WrongPasswordBurst bound the wrong room
	// passwords a client address may try (a token bucket charged by each
	// join refused with ERROR_CODE_WRONG_PASSWORD); while its bucket is
	// empty a JoinRoom with a password gets ERROR_CODE_RATE_LIMITED with
	// a retry hint, whatever the password. An address IPQuotaExempt
	// exempts is held per user instead. With Buckets set the bound holds
	// across the nodes of a cluster. Zero values mean 0.5 a second and a
	// burst of 10; +Inf turns it off.
	WrongPasswordRate  float64
	WrongPasswordBurst int
	// SessionRate and SessionBurst bound the sessions one user opens on
	// this node (a token bucket, per second, charged by each upgrade its
	// valid token passes): past it the upgrade is refused with HTTP 429
	// and Retry-After, so that a client reconnecting in a loop cannot
	// make its friends' presence flap, nor start the store reads of a
	// coming online, faster than this. Zero values mean 2 a second and a
	// burst of 20; +Inf turns it off.
	SessionRate  float64
	SessionBurst int
	// SessionAddressRate and SessionAddressBurst bound, likewise, the
	// sessions the users of one client address open together (an IPv6
	// /64 as one, the /64s of one /48 sharing 16 times it), so that many
	// tokens gathered by one address do not multiply SessionRate. An
	// address IPQuotaExempt exempts has no such bound. Zero values mean
	// 32 a second and a burst of 256 (server.Config.MaxConnsPerIP's
	// default: every player behind one NAT reconnecting at once); +Inf
	// turns it off.
	SessionAddressRate  float64
	SessionAddressBurst int
	// CreatorGoneTimeout is how long after its creator left an empty room
	// (no player seat taken: spectators do not keep it) is closed. Zero
	// value means 5 s.
	CreatorGoneTimeout time.Duration
	// ListLimit caps the rooms in one RoomList, and in a watched room
	// list. Zero value means 100.
	ListLimit int
	// MaxRoomWatches caps the room list watches (WatchRooms) one
	// connection holds; one more gets ERROR_CODE_LIST_FULL. Zero value
	// means 4.
	MaxRoomWatches int
	// RoomWatchRate and RoomWatchBurst bound the WatchRooms one
	// connection may send (a token bucket, per second), each of which
	// lists every room of the node for its first list: a new watch, one
	// that replaces a held watch of the same id, and one after an
	// UnwatchRooms alike. Past it a WatchRooms gets
	// ERROR_CODE_RATE_LIMITED with a retry hint, and the watch it would
	// have replaced goes on. Zero values mean 2 a second and a burst of
	// 16.
	RoomWatchRate  float64
	RoomWatchBurst int
	// ListRoomsRate and ListRoomsBurst bound the ListRooms one connection
	// may send (a token bucket, per second), each of which looks at up to
	// 1,000 rooms (listScan): past it a ListRooms gets
	// ERROR_CODE_RATE_LIMITED with a retry hint. It is taken before the
	// address's budget below, so that one connection takes no more of
	// that budget than this. Zero values mean 4 a second and a burst of
	// 20 (a lobby paging through 20 pages at once).
	ListRoomsRate  float64
	ListRoomsBurst int
	// RoomListAddressRate and RoomListAddressBurst bound the room lists
	// the connections of one client address ask for together (a token
	// bucket, per second, of requests; an IPv6 /64 as one address, the
	// /64s of one /48 sharing 16 times it): each ListRooms and each
	// WatchRooms (its first list), once the connection's own bucket
	// (ListRoomsRate, RoomWatchRate) let it by, so that an address's many
	// connections do not multiply those. Past it either request gets
	// ERROR_CODE_RATE_LIMITED with a retry hint and nothing changes (nor
	// is the connection's own bucket charged). An address IPQuotaExempt
	// exempts has no such bound. Zero values mean 64 a second and a burst
	// of 256 × (MaxRoomWatches + 1), 1,280: every player of a NAT of
	// server.Config.MaxConnsPerIP's default reconnecting at once, each
	// watching its 4 lists again and listing once; +Inf turns it off.
	RoomListAddressRate  float64
	RoomListAddressBurst int
	// RoomWatchInterval is how often watched room lists are compared with
	// the rooms and their changes pushed: a watch gets at most one
	// RoomListUpdate per interval. Zero value means 250 ms; in a cluster
	// it is at least 1 s (each pass lists the cluster directory).
	RoomWatchInterval time.Duration
	// WatchPassTTL is how long a watch pass (GetWatchPass) opens its
	// room's spectator feed. Zero value means 1 hour.
	WatchPassTTL time.Duration
	// WatchPassRate and WatchPassBurst bound the watch passes one
	// connection may ask for (a token bucket, per second); past it a
	// GetWatchPass gets ERROR_CODE_RATE_LIMITED with a retry hint. Zero
	// values mean one every 10 s and a burst of 10.
	WatchPassRate  float64
	WatchPassBurst int
	// Social limits chat, direct messages, contact lists and presence
	// queries. Zero value means the defaults SocialConfig documents.
	Social SocialConfig
	// Registry tracks who is online on which connection. Zero value means
	// a MemoryRegistry.
	Registry Registry
	// Directory lists rooms and quick-match pools. Zero value means a
	// MemoryDirectory of the hub's runtime.
	Directory Directory
	// Fanout delivers messages to connections and users. Zero value means
	// a LocalFanout over Server and Registry.
	Fanout social.Fanout
	// Cluster is the cluster-wide room directory of a node of a cluster:
	// listings, joins and quick-matches span every node, and a room on
	// another node is answered with a Redirect. Zero value means a single
	// node.
	Cluster Cluster
	// Buckets keeps the buckets of WrongPasswordRate where every node of
	// a cluster counts in them (package cluster: Redis), so that a
	// guesser spreading its connections over the nodes gets the bound
	// once, not once a node; while they cannot be reached each node
	// counts alone. Zero value means this node counts alone, in memory.
	Buckets Buckets
	// Revocations keeps kicks and bans. Zero value means a
	// MemoryRevocations.
	Revocations Revocations
	// Records answers GetMatchHistory and GetLeaderboard from the store,
	// off the event loops (lookup.go bounds those reads). Zero value means
	// no store: both are refused with ERROR_CODE_UNSUPPORTED.
	Records Records
	// ChannelLog answers GetChannelHistory from the store (and the lines
	// waiting to be written), off the event loops like Records. Zero value means no store: the request is
	// refused with ERROR_CODE_UNSUPPORTED.
	ChannelLog ChannelLog
	// KickDuration is how long the tokens a kicked user held are refused.
	// Zero value means 5 minutes.
	KickDuration time.Duration
	// BanDuration is the length of a ban given without one (Ban with a
	// zero duration). Zero value means until Unban.
	BanDuration time.Duration
	// Logger receives session events: connections at Debug, operator
	// actions at Info. Zero value means no logging.
	Logger *slog.Logger
	// Now tells the time. Zero value means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Games == nil {
		c.Games = game.NewRegistry()
	}
	limits.Default(&c.HeartbeatInterval, 10*time.Second)
	limits.Default(&c.MaxRoomsPerUser, 4)
	limits.Default(&c.MaxRooms, 10_000)
	limits.Default(&c.RoomCreateRate, 0.5)
	limits.Default(&c.RoomCreateBurst, 32)
	limits.Default(&c.MaxRoomCostPerUser, 32)
	limits.Default(&c.JoinRate, 0.5)
	limits.Default(&c.JoinBurst, 16)
	limits.Default(&c.IPQuotaFactor, 4)
	if c.IPQuotaExempt == nil {
		c.IPQuotaExempt = isLoopback
	}
	limits.Default(&c.WrongPasswordRate, 0.5)
	limits.Default(&c.WrongPasswordBurst, 10)
	limits.Default(&c.SessionRate, 2)
	limits.Default(&c.SessionBurst, 20)
	limits.Default(&c.SessionAddressRate, 32)
	limits.Default(&c.SessionAddressBurst, 256)
	limits.Default(&c.CreatorGoneTimeout, 5*time.Second)
	limits.Default(&c.KickDuration, 5*time.Minute)
	if c.Revocations == nil {
		c.Revocations = NewMemoryRevocations()
	}
	limits.Default(&c.ListLimit, 100)
	limits.Default(&c.MaxRoomWatches, 4)
	limits.Default(&c.RoomWatchRate, 2)
	limits.Default(&c.RoomWatchBurst, 16)
	limits.Default(&c.ListRoomsRate, 4)
	limits.Default(&c.ListRoomsBurst, 20)
	limits.Default(&c.RoomListAddressRate, 64)
	limits.Default(&c.RoomListAddressBurst, 256*(c.MaxRoomWatches+1))
	limits.Default(&c.RoomWatchInterval, 250*time.Millisecond)
	limits.Default(&c.WatchPassTTL, time.Hour)
	limits.Default(&c.WatchPassRate, 0.1)
	limits.Default(&c.WatchPassBurst, 10)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	limits.Default(&c.Runtime.DropGrace, 30*time.Second)
	return c
}

// validate refuses negative limits; zero means their default.
func (c Config) validate() error {
	err := errors.Join(
		limits.NonNegative("HeartbeatInterval", c.HeartbeatInterval),
		limits.NonNegative("MaxRoomsPerUser", c.MaxRoomsPerUser),
		limits.NonNegative("MaxRooms", c.MaxRooms),
		limits.NonNegative("RoomCreateRate", c.RoomCreateRate),
		limits.NonNegative("RoomCreateBurst", c.RoomCreateBurst),
		limits.NonNegative("MaxRoomCostPerUser", c.MaxRoomCostPerUser),
		limits.NonNegative("JoinRate", c.JoinRate),
		limits.NonNegative("JoinBurst", c.JoinBurst),
		limits.NonNegative("IPQuotaFactor", c.IPQuotaFactor),
		limits.NonNegative("WrongPasswordRate", c.WrongPasswordRate),
		limits.NonNegative("WrongPasswordBurst", c.WrongPasswordBurst),
		limits.NonNegative("SessionRate", c.SessionRate),
		limits.NonNegative("SessionBurst", c.SessionBurst),
		limits.NonNegative("SessionAddressRate", c.SessionAddressRate),
		limits.NonNegative("SessionAddressBurst", c.SessionAddressBurst),
		limits.NonNegative("CreatorGoneTimeout", c.CreatorGoneTimeout),
		limits.NonNegative("ListLimit", c.ListLimit),
		limits.NonNegative("MaxRoomWatches", c.MaxRoomWatches),
		limits.NonNegative("RoomWatchRate", c.RoomWatchRate),
		limits.NonNegative("RoomWatchBurst", c.RoomWatchBurst),
		limits.NonNegative("ListRoomsRate", c.ListRoomsRate),
		limits.NonNegative("ListRoomsBurst", c.ListRoomsBurst),
		limits.NonNegative("RoomListAddressRate", c.RoomListAddressRate),
		limits.NonNegative("RoomListAddressBurst", c.RoomListAddressBurst),
		limits.NonNegative("RoomWatchInterval", c.RoomWatchInterval),
		limits.NonNegative("WatchPassTTL", c.WatchPassTTL),
		limits.NonNegative("WatchPassRate", c.WatchPassRate),
		limits.NonNegative("WatchPassBurst", c.WatchPassBurst),
		limits.NonNegative("KickDuration", c.KickDuration),
		limits.NonNegative("BanDuration", c.BanDuration),
	)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// Hub serves tickroom.v1 on a WebSocket path. It implements
// server.Handler and game.Transport.
type Hub struct {
	cfg Config
	srv *server.Server
	rt  *game.Runtime
	log *slog.Logger
	// storeReadLogs spaces the lines of failed store reads.
	storeReadLogs logspace.Spacer

	reg       Registry
	dir       Directory
	fan       social.Fanout
	social    *social.Social
	quota     *roomQuota
	guesses   passwordGuesses
	opens     sessionOpens
	joins     joinRate // JoinRate buckets, per user
	revoked   Revocations
	lookups   *lookups
	cluster   Cluster       // nil on a single node
	offLoop   chan struct{} // bounds the cluster requests in flight (clusterlobby.go)
	offWG     sync.WaitGroup
	releases  seatReleases // seats given back to the cluster, in flight (releaseSeat)
	watches   *roomWatches
	passes    connLimits        // GetWatchPass buckets, per connection
	watchLim  connLimits        // WatchRooms buckets, per connection
	listLim   connLimits        // ListRooms buckets, per connection
	roomLists *clientip.Limiter // ListRooms and WatchRooms, per address (takeRoomList)
	expiries  *expiries         // closes sessions whose token expired
	gone      *creatorGone      // closes empty rooms whose creator left
	// retryMatch, set by tests before Start, runs on the goroutine of a
	// quick-match's retry (Session.joined) in its place, to order it.
	retryMatch func(s *Session, retry func())
	// entering, set by tests before Start, runs on a room's tick worker
	// between the seat the game gave a join and its Joined
	// (Session.joined), to order a request there.
	entering func(s *Session)

	mu        sync.Mutex
	held      map[string][]heldSeat // seats kept for dropped users
	userRooms map[string][]roomRefs // user → the rooms it is a member of here (held.go)
	moved     map[string][]*Session // room id → sessions whose seat moved with it (migrate.go)
	shutting  bool

	draining atomic.Bool // Drain was called: no new rooms

	// tokenFeeds are the spectator feeds open with a session token, which
	// the revocations of the token end (WatchToken).
	tokenFeeds tokenFeeds

	stats Stats
}

var (
	_ server.Handler = (*Hub)(nil)
	_ game.Transport = (*Hub)(nil)
	_ game.Client    = (*Session)(nil)
)

// New returns a hub and the room runtime it drives; call Start to start
// the runtime's tick workers.
func New(cfg Config) (*Hub, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Server == nil || cfg.Auth == nil {
		return nil, fmt.Errorf("%w: Server and Auth are required", ErrConfig)
	}
	h := &Hub{
		cfg:       cfg,
		srv:       cfg.Server,
		log:       cfg.Logger,
		reg:       cfg.Registry,
		fan:       cfg.Fanout,
		held:      make(map[string][]heldSeat),
		userRooms: make(map[string][]roomRefs),
		moved:     make(map[string][]*Session),
		lookups:   newLookups(cfg.IPQuotaExempt),
		expiries:  newExpiries(),
	}
	if h.reg == nil {
		h.reg = NewMemoryRegistry()
	}
	if h.fan == nil {
		h.fan = NewLocalFanout(h.srv, h.reg, &h.stats)
	}
	if cfg.Social.AddressExempt == nil {
		cfg.Social.AddressExempt = cfg.IPQuotaExempt
	}
	// With several sockets a user may be connected on several nodes.
	cfg.Social.SharedUsers = cfg.Social.SharedUsers || cfg.MultipleSockets
	so, err := social.New(cfg.Social, socialHost{Fanout: h.fan, now: cfg.Now}, &h.stats.Stats)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	h.social = so
	h.quota = newRoomQuota(h)
	h.gone = newCreatorGone(h)
	h.guesses = newPasswordGuesses(h.cfg)
	h.opens = newSessionOpens(h.cfg)
	h.roomLists = clientip.NewLimiter(rate.Limit(h.cfg.RoomListAddressRate), h.cfg.RoomListAddressBurst, sessionKeys)
	h.joins = newJoinRate(h.cfg)
	h.watches = newRoomWatches(h)
	h.revoked = cfg.Revocations
	rc := cfg.Runtime
	rc.Registry = cfg.Games
	rc.Transport = h
	rc.OnRemoved = h.onRemoved
	rt, err := game.NewRuntime(rc)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	h.rt = rt
	h.cluster = cfg.Cluster
	h.offLoop = make(chan struct{}, maxClusterInFlight)
	h.dir = cfg.Directory
	if h.dir == nil {
		h.dir = NewMemoryDirectory(rt)
	}
	return h, nil
}

// SetCluster makes the hub a node of a cluster (see Config.Cluster), for
// a Cluster that needs the hub's runtime to be made. Call it before
// Start.
func (h *Hub) SetCluster(c Cluster) { h.cluster = c }

// Runtime returns the room runtime the hub drives.
func (h *Hub) Runtime() *game.Runtime { return h.rt }

// Start starts the room runtime's tick workers.
func (h *Hub) Start() {
	h.lookups.start()
	h.rt.Start()
}

// Shutdown closes every session with CLOSE_CODE_SERVER_SHUTDOWN (a
// resumable code: clients reconnect to the next server), then shuts the
// room runtime down. Call it before the transport's Shutdown, which then
// drains what is left.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shutting = true
	all := h.reg.All()
	h.mu.Unlock()
	for _, s := range all {
		s.close(protocol.CloseServerShutdown, "")
	}
	h.offWG.Wait() // cluster requests end within their deadline
	h.watches.shutdown()
	h.expiries.shutdown()
	h.gone.shutdown()
	return errors.Join(h.lookups.shutdown(ctx), h.rt.Shutdown(ctx))
}

// CloseSession closes userID's session on connection connID with code
// (in a cluster, a login on another node replaced it); it reports
// whether there was one. Its seats are held for the resume window, as
// after any drop. Safe from any goroutine.
func (h *Hub) CloseSession(userID string, connID uint64, code protocol.CloseCode) bool {
	for _, s := range h.reg.Sessions(userID) {
		if s.conn.ID() == connID {
			s.moved.Store(true)
			s.close(code, "")
			return true
		}
	}
	return false
}

// Social returns the hub's chat, presence and contact layer.
func (h *Hub) Social() *social.Social { return h.social }

// Online reports whether userID has a live session. Safe from any
// goroutine.
func (h *Hub) Online(userID string) bool { return len(h.reg.Sessions(userID)) > 0 }

// Accept authenticates the upgrade request with its session token (query
// parameter "token" or an Authorization bearer header): a missing, forged
// or expired token is refused with 401 before the 101, a kicked or banned
// user's with 403, and one whose user (or client address) opens sessions
// faster than Config.SessionRate (SessionAddressRate) with 429 and
// Retry-After. A verified client that declares a protocol version the server does not serve (query
// parameter protocol.VersionParam; protocol.CheckVersion) is upgraded and
// closed at once with CloseUnsupportedVersion, which a browser can read.
// It runs on the connection's loop.
func (h *Hub) Accept(c *server.Conn, r *server.Request) error {
	tok := r.Query("token")
	if tok == "" {
		tok = auth.BearerToken(r.Header("Authorization"))
	}
	if tok == "" {
		h.stats.AuthRefused.Add(1)
		return &server.HTTPError{Status: 401, Message: "missing session token"}
	}
	now := h.cfg.Now()
	claims, err := h.cfg.Auth.Verify(tok, now)
	if err != nil {
		h.stats.AuthRefused.Add(1)
		return &server.HTTPError{Status: 401, Message: auth.Refusal(err)}
	}
	s := newSession(h, c, claims)
	h.mu.Lock()
	if h.shutting {
		h.mu.Unlock()
		return &server.HTTPError{Status: 503, Message: "server shutting down"}
	}
	if r, revoked := h.revoked.Check(claims.UserID, claims.IssuedAt, now); revoked {
		h.mu.Unlock()
		h.stats.AuthRefused.Add(1)
		return &server.HTTPError{Status: r.status(), Message: r.message()}
	}
	if err := h.opens.allow(claims.UserID, c.ClientIP(), now, &h.stats); err != nil {
		h.mu.Unlock()
		return err
	}
	if reason, ok := protocol.CheckVersion(r.LookupQuery(protocol.VersionParam)); !ok {
		// After the token: a client without one is refused before the
		// upgrade, as any. This one costs a 101 and a close frame, and
		// takes no session: its user's other connection stays open.
		h.mu.Unlock()
		c.Close(server.StatusCode(protocol.CloseUnsupportedVersion), reason)
		return nil
	}
	replaced := h.reg.Add(s, !h.cfg.MultipleSockets)
	h.mu.Unlock()
	// Before the replaced sessions close, so that the user stays online
	// and keeps its lists.
	s.member = h.social.ConnectAs(claims.UserID, claims.Name, claims.Guest, c)
	for _, old := range replaced {
		// The replaced connection's seats are held for this one to resume.
		old.replaced.Store(true)
		for _, m := range old.memberships() {
			h.holdSeat(claims.UserID, heldSeat{
				roomID: m.id, game: m.room.Game(), seat: m.seat, spectator: m.spectator,
				expires: now.Add(h.cfg.Runtime.DropGrace),
			})
		}
		old.close(protocol.CloseDuplicateLogin, "")
	}
	c.SetValue(s)
	s.startExpiry(now)
	h.stats.Sessions.Add(1)
	h.sendWelcome(s)
	h.social.Welcomed(s.member)
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("session open", "conn", c.ID(), "ip", c.ClientIP(), "user", claims.UserID)
	}
	return nil
}

// OnMessage decodes one client message and serves it. It runs on the
// connection's loop.
func (h *Hub) OnMessage(c *server.Conn, op server.OpCode, payload []byte) {
	s, _ := c.Value().(*Session)
	if s == nil {
		return
	}
	if s.replaced.Load() {
		return // a newer login took over; this connection is closing
	}
	if op != server.OpBinary {
		s.close(protocol.CloseProtocolError, "tickroom.v1 messages are binary")
		return
	}
	s.handle(payload, c.OverRate())
}

// Revoked returns why the upgrade refuses a verified token with claims at
// now, a kick or a ban (HTTP 403, with this message), or false when it
// does not. The public HTTP side's session check (web.Config.Revoked)
// asks it, since browsers cannot read the upgrade's status.
func (h *Hub) Revoked(claims auth.Claims, now time.Time) (string, bool) {
	r, revoked := h.revoked.Check(claims.UserID, claims.IssuedAt, now)
	if !revoked {
		return "", false
	}
	return r.message(), true
}

// OnClose gives up the session: its seats are held for the resume window
// (or freed at once after a kick). It runs on the connection's loop.
func (h *Hub) OnClose(c *server.Conn, code server.StatusCode, _ string) {
	s, _ := c.Value().(*Session)
	if s == nil {
		return
	}
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("session closed", "conn", c.ID(), "user", s.claims.UserID, "code", int(code))
	}
	h.reg.Remove(s)
	// gone marks the session closed before its watches are dropped, so a
	// watch being added off the loop is refused or dropped here.
	s.gone()
	h.watches.drop(s)
	h.passes.drop(s)
	h.watchLim.drop(s)
	h.listLim.drop(s)
	if s.moved.Load() {
		h.social.Moved(s.member)
	}
	h.social.Disconnect(s.member)
}

// onRemoved runs on a tick worker when a member's seat is released. The
// session that held it (if it still counts the seat as its own) learns why
// with an unsolicited Left; a seat held for a dropped user is reported to
// the user's live connections.
func (h *Hub) onRemoved(rm game.Removal) {
	if fs, ok := rm.Client.(FrameSink); ok {
		fs.Removed(rm.Reason)
		return
	}
	if rm.Reason == game.RemovedMoved {
		h.movedOut(rm)
		return
	}
	defer h.endChatIfEmpty(rm.RoomID)
	wasHeld := h.dropHeld(rm.UserID, rm.RoomID)
	reason, msg := h.leaveReason(rm.Reason)
	s, _ := rm.Client.(*Session)
	if s == nil || s.owns(rm.RoomID, rm.Seat) {
		// Not a seat its session gave up itself (leaveRoom saw to that).
		if rm.Reason != game.RemovedRoomClosed && rm.Reason != game.RemovedRefused {
			h.leftRoom(rm.UserID, rm.RoomID)
		}
	}
	// A seat held for the user's next connection is reported to its live
	// ones, which a Welcome told of it. The room names the connection that
	// held the seat last: none once it applied the drop, but a closed one
	// when it ended before it applied it (a game's panic at an earlier
	// change of the same tick), and a replaced one while a newer login's
	// replacement has not closed it yet. A seat a resume took back
	// (RemovedReplaced) is not the user's loss.
	if wasHeld && reason != tickroomv1.LeaveReason_LEAVE_REASON_UNSPECIFIED && rm.Reason != game.RemovedReplaced &&
		(s == nil || s.closed.Load() || s.replaced.Load()) {
		for _, live := range h.reg.Sessions(rm.UserID) {
			if live != s {
				live.sendLeft(0, rm.RoomID, reason, msg)
			}
		}
	}
	if s == nil || !s.forget(rm.RoomID, rm.Seat) {
		return // no session, or it already gave the seat up itself
	}
	h.social.ExitRoom(s.member, rm.RoomID)
	if reason != tickroomv1.LeaveReason_LEAVE_REASON_UNSPECIFIED && !s.closed.Load() {
		s.sendLeft(0, rm.RoomID, reason, msg)
	}
}

// endChatIfEmpty drops the chat of roomID once the room holds no seat (its
// last seat was released, or it closed): the chat outlives a moment with
// no member connected, while their seats are held for a resume, but not
// the room. It runs on the room's tick worker, after the member left the
// chat.
func (h *Hub) endChatIfEmpty(roomID string) {
	if r, ok := h.rt.Room(roomID); !ok || r.Seated() == 0 {
		h.social.EndRoom(roomID)
	}
}

// leaveReason maps a runtime removal to the Left a client is told;
// UNSPECIFIED means no Left is due (the join was refused, and the refusal
// answered the request).
func (h *Hub) leaveReason(r game.RemoveReason) (tickroomv1.LeaveReason, string) {
	switch r {
	case game.RemovedRefused:
		return tickroomv1.LeaveReason_LEAVE_REASON_UNSPECIFIED, ""
	case game.RemovedLeft:
		return tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, "left from another connection"
	case game.RemovedReplaced:
		return tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, "seat taken back by another connection of this user"
	case game.RemovedGraceExpired:
		return tickroomv1.LeaveReason_LEAVE_REASON_SEAT_EXPIRED, ""
	case game.RemovedRoomClosed:
		if h.isShutting() || h.draining.Load() {
			return tickroomv1.LeaveReason_LEAVE_REASON_SERVER_SHUTDOWN, ""
		}
		return tickroomv1.LeaveReason_LEAVE_REASON_ROOM_CLOSED, ""
	}
	return tickroomv1.LeaveReason_LEAVE_REASON_KICKED, ""
}

func (h *Hub) isShutting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shutting
}
