package tickroom

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/store"
)

// Off, as an address in Options, turns that listener off.
const Off = "off"

// Default listen addresses, used when the Options field is empty.
const (
	DefaultAddr      = "127.0.0.1:8081"
	DefaultHTTPAddr  = "127.0.0.1:8080"
	DefaultAdminAddr = "127.0.0.1:9090"
)

// WebSocketPath is where tickroom.v1 is served on the WebSocket address.
const WebSocketPath = "/v1/ws"

// HeartbeatInterval is how often clients are told to ping when idle; a
// connection silent for three intervals is closed with the resumable
// heartbeat code.
const HeartbeatInterval = 10 * time.Second

// Options configure a Server. Every field works at its zero value: a zero
// Options serves on the default loopback addresses with no games.
type Options struct {
	// Addr is the WebSocket listen address, host:port (port 0 picks a free
	// one; see Server.Addr). Zero value means DefaultAddr.
	Addr string
	// HTTPAddr is the public HTTP listen address: POST /v1/login, GET
	// /v1/config and Pages at /. Zero value means DefaultHTTPAddr; Off turns
	// it off (clients then need tokens made elsewhere).
	HTTPAddr string
	// AdminAddr is the admin HTTP listen address: /healthz, /readyz,
	// /metrics, /monitor/, and with the admin token /v1/admin/ and
	// /debug/pprof/. Zero value means DefaultAdminAddr, and when that address
	// is taken the server runs without the admin listener and logs a
	// warning; an address given here must be free. Off turns it off.
	AdminAddr string
	// AdminToken is the bearer token of the admin API and pprof; one that
	// begins or ends with white space, which no Authorization header
	// carries, makes New fail with ErrOptions. Zero value means a random
	// token, readable with Server.AdminToken.
	AdminToken string

	// Games are registered before the server starts; Server.Register adds
	// more. Zero value means none yet.
	Games []game.Definition
	// Pages are served at / on HTTPAddr (index.html at its root), with
	// headers that forbid inline script and framing. Zero value means no
	// pages: / answers 404.
	Pages fs.FS
	// OnResult is called on the room's tick worker when a running match
	// ends; it must be quick and must not block (queue the Result, write it
	// elsewhere). See game.Result. A panic in it is logged with its stack
	// and goes no further (the store, when there is one, has the result
	// already). Zero value means results are not kept.
	OnResult func(game.Result)

	// TokenKey signs and verifies session tokens, at least 32 bytes. Zero
	// value means a random key: tokens die with the process.
	TokenKey []byte
	// TokenTTL is a session token's lifetime. Zero value means 24 hours.
	TokenTTL time.Duration
	// WatchPassTTL is how long a watch pass lasts: the token a member of
	// a room asks for (tickroom.v1 GetWatchPass) to share a private room's
	// spectator feed, GET /v1/rooms/{id}/events?pass=, instead of its
	// session token. Zero value means 1 hour.
	WatchPassTTL time.Duration
	// GuestTTL is how long the store keeps a guest account (no claimed
	// name, no linked identity) after its last login: new guests delete
	// older ones, with their friends, blocks, mail, standings and the
	// results no one else played in, so stored guests grow with the guest
	// login rate over GuestTTL, not for ever (store.Config.GuestTTL). With
	// a store it must exceed TokenTTL, since a session is not a login.
	// Zero value means 30 days.
	GuestTTL time.Duration
	// IdentityKey is the HMAC key external identity tokens (JWT HS256) are
	// signed with; logins that present one get its subject as user id.
	// Zero value means guest logins only.
	IdentityKey []byte
	// IdentityJWKSFile is a JSON Web Key Set file of an identity provider
	// whose RS256/ES256 tokens log users in. Zero value means none.
	IdentityJWKSFile string
	// IdentityIssuer is the "iss" an identity token must carry (the
	// provider's issuer URL). Zero value means any issuer.
	IdentityIssuer string
	// IdentityAudience is the "aud" an identity token must name: this
	// game's client id at the provider. A provider signs the tokens of
	// every app it serves with the same keys, so without it a token a user
	// got for another app (anyone's) logs that user in here. Zero value
	// means any audience, which New warns about when identity logins are
	// on.
	IdentityAudience string
	// GuestLoginRate is how many guest logins one client address may make
	// per second, sustained; past it POST /v1/login answers 429 with
	// Retry-After. Zero value means auth.DefaultGuestLoginRate; +Inf turns
	// the limit off (load tests, where every bot logs in from loopback).
	GuestLoginRate float64
	// GuestLoginBurst is how many guest logins one client address may make
	// at once. Zero value means auth.DefaultGuestLoginBurst.
	GuestLoginBurst int
	// TrustedProxies are proxy addresses or CIDR prefixes whose
	// X-Forwarded-For names the client, for per-IP limits and logs. Zero
	// value trusts nobody: the header is ignored.
	TrustedProxies []string
	// ProxyProtocol accepts a PROXY protocol header (v1 or v2) from
	// TrustedProxies on the WebSocket port and the public HTTP port: the
	// client it names is the one per-IP limits and logs see. A PROXY header
	// from any other address is refused (400, connection closed). Zero
	// value means off: for a proxy that speaks HTTP and sends
	// X-Forwarded-For.
	ProxyProtocol bool
	// PublicWebSocketURL is the WebSocket URL /v1/config gives clients when
	// it is not Addr's port on the page's host: behind a TLS proxy, a path
	// on the page's origin ("/v1/ws") or a full "wss://" URL (ws://,
	// http:// and https:// are taken too); New refuses anything else. Zero
	// value means Addr's port and WebSocketPath.
	PublicWebSocketURL string
	// ICEURLs are the STUN and TURN servers GET /v1/ice-servers gives a
	// logged-in player for voice calls. Zero value means none.
	ICEURLs []string
	// TURNSecret is shared with the TURN server, which checks the
	// time-limited credentials made with it (TURN REST convention). Zero
	// value means TURN URLs come without credentials.
	TURNSecret []byte
	// MaxSpectatorStreams caps open spectator event streams (GET
	// /v1/rooms/{id}/events) in all. Zero value means 1,000.
	MaxSpectatorStreams int
	// MaxSpectatorStreamsPerIP caps them per client address. Zero value
	// means 4.
	MaxSpectatorStreamsPerIP int
	// SpectatorOpenRate and SpectatorOpenBurst bound how fast one client
	// address opens spectator streams, refused with 429 and Retry-After
	// past them: each stream starts with a keyframe, the whole room. Zero
	// values mean 1 a second after a burst of 4 for each stream
	// MaxSpectatorStreamsPerIP lets an address hold, 16 at least (16 with
	// the default cap of 4): raising the cap for many viewers behind one
	// address raises the burst with it. A SpectatorOpenRate of +Inf turns
	// the bound off.
	SpectatorOpenRate  float64
	SpectatorOpenBurst int
	// MaxHTTPConns caps the TCP connections the public HTTP port holds at
	// once (logins, spectator streams, pages). At the cap, the one idle
	// the longest is closed for a new one; with none idle, the new one
	// gets HTTP 503. Zero value means 4,096, or less when the open-file
	// limit leaves no room for it (IgnoreFileLimit).
	MaxHTTPConns int
	// IgnoreFileLimit starts the server whatever room the process's
	// open-file limit leaves for MaxConns and MaxHTTPConns. Zero value
	// means New checks them against it (docs/limits.md): one left at zero
	// is lowered to fit, with a warning, and one set that does not fit
	// makes New fail with ErrOptions. When it is set, nothing is lowered
	// or refused, only the warning is logged; a client that opens more
	// sockets than the limit allows then stops the WebSocket transport
	// (accept(2) fails with EMFILE) and Run returns.
	IgnoreFileLimit bool
	// MaxHTTPConnsPerIP caps them per client address (the TCP peer; a
	// TrustedProxies peer is exempt), the same way, with HTTP 429. Zero
	// value means 64.
	MaxHTTPConnsPerIP int
	// HTTPIdleTimeout closes a keep-alive connection of the public and
	// admin HTTP ports that has sent no request for this long. Zero
	// value means 60 s.
	HTTPIdleTimeout time.Duration
	// Origins is the Origin allowlist for WebSocket upgrades, and the
	// origins whose pages may read the public HTTP API's answers (CORS:
	// login, config, session check, ICE servers, account); a browser's
	// login from a page off the list is refused with 403. Zero value
	// means any origin.
	Origins []string
	// MultipleSockets lets a user hold several connections at once. Zero
	// value means a new login closes the user's old connection.
	MultipleSockets bool

	// Loops is the number of event loops. Zero value means one per CPU.
	Loops int
	// Shards is the number of tick workers. Zero value means one per CPU.
	Shards int
	// MaxConns caps open connections. Zero value means 10,000, or less
	// when the open-file limit leaves no room for it (IgnoreFileLimit).
	MaxConns int
	// MaxConnsPerIP caps the WebSocket connections of one client address
	// (429 past it). Zero value means 256.
	MaxConnsPerIP int
	// SessionRate is how many sessions one user may open on a node per
	// second, sustained, after a burst of 20: past it the WebSocket
	// upgrade answers 429 with Retry-After (client-js retries with its
	// backoff). Zero value means 2; +Inf turns the limit off.
	SessionRate float64
	// SessionRatePerIP is how many sessions the users of one client
	// address may open together per second, sustained, after a burst of
	// MaxConnsPerIP (every player behind one NAT reconnecting at once);
	// loopback, a load test's or a proxy's on the same host, has no such
	// limit. Zero value means 32; +Inf turns the limit off (a load test
	// from another host).
	SessionRatePerIP float64
	// RoomListRatePerIP is how many room lists (each ListRooms, and each
	// WatchRooms's first list, the latter looking at every room of the
	// node) the connections of one client address may ask for together
	// per second, sustained, after a burst of 5 × MaxConnsPerIP (every
	// player behind one NAT reconnecting at once, each watching its 4
	// lists again and listing once); past it either is refused with
	// ERROR_CODE_RATE_LIMITED and a retry hint. Each node of a cluster
	// has its own budget. Loopback, a load test's or a proxy's on the
	// same host, has no such limit. Zero value means 64; +Inf turns the
	// limit off.
	RoomListRatePerIP float64
	// MaxOutboundBytes is the process-wide budget of bytes held for slow
	// clients; past it the largest holders are closed with 4001
	// (CLOSE_CODE_SLOW_CLIENT). Zero value means 64 MiB.
	MaxOutboundBytes int
	// MaxStateLag is how far behind, in time, a player's connection may
	// fall before its room skips its states: each sweep (every 250 ms)
	// measures how fast the player's link drains what it is sent, and a
	// connection whose backlog would take longer than MaxStateLag to drain
	// gets only the latest state once it has caught up (latest wins). The
	// byte bounds alone let a room of small states, as the arena's, fall
	// tens of seconds behind on a slow link. A player whose round trip is
	// longer than MaxStateLag gets fewer states too. Zero value means
	// 500 ms; negative turns it off. Linux only.
	MaxStateLag time.Duration
	// MaxFrameSize and MaxMessageSize cap a client's frame payload and
	// reassembled message, in bytes (close 1009 over them), at most 1 GiB.
	// Zero value means 64 KiB each.
	MaxFrameSize, MaxMessageSize int
	// MessageRate is the number of messages, control frames included, a
	// connection may send per second (a flood is closed with 4002,
	// CLOSE_CODE_RATE_LIMITED), at most 1,048,576. Zero value means 120.
	MessageRate int
	// InputBytesPerIP and InputFramesPerIP are what the WebSocket
	// connections of one client address may send together, in bytes and
	// in messages and control frames a second (burst twice that); while an
	// address is over one, its connections over their share of it are
	// closed with 4002 (CLOSE_CODE_RATE_LIMITED). InputBytes and
	// InputFrames are the same for all connections together. Zero values
	// mean server.Config's defaults: 32 KiB/s and MessageRate / 2 for each
	// of MaxConnsPerIP connections per address (8 MiB/s and 15,360
	// frames/s; the bytes at least MessageRate × MaxMessageSize, what one
	// connection may send at its full rate), 16 times that in all.
	InputBytesPerIP, InputFramesPerIP, InputBytes, InputFrames int
	// DropGrace is how long a dropped player's seat is held for a resume.
	// Zero value means 30 seconds.
	DropGrace time.Duration
	// RoomCreateRate and RoomCreateBurst are each user's room creation
	// budget, a token bucket in cost units: a room costs ⌈tick rate / 20
	// Hz⌉ × ⌈max players / 8⌉ + ⌊option entries / 4⌋ (a 20 Hz room of up to
	// 8 players costs 1); past it CreateRoom gets ERROR_CODE_RATE_LIMITED
	// with a retry hint. A client address gets four times a user's. Zero
	// values mean 0.5 units a second and a burst of 32.
	RoomCreateRate  float64
	RoomCreateBurst int
	// MaxRoomCostPerUser caps the cost units of the live rooms one user
	// created, in them or not (ERROR_CODE_ROOM_LIMIT past it); a client
	// address gets four times as much. Zero value means 32.
	MaxRoomCostPerUser int
	// MaxRoomsPerUser caps the rooms one user is a member of at once (as a
	// player or a spectator) on a node, through all of its connections
	// there and the seats held for its dropped ones; a join past it is
	// refused with
	// ERROR_CODE_ALREADY_IN_ROOM. In a cluster it also caps the seats a
	// user holds reserved on other nodes and has not taken yet
	// (cluster.DirectoryConfig.MaxUserSeats), so the two never differ.
	// Zero value means 4.
	MaxRoomsPerUser int
	// KickDuration is how long the tokens a kicked user held are refused
	// (a new login is not). Zero value means 5 minutes.
	KickDuration time.Duration
	// BanDuration is the length of a ban given without one (the admin
	// API's ban without "seconds", Hub.Ban with zero). Zero value means
	// until unbanned.
	BanDuration time.Duration
	// ShutdownTimeout bounds Run's shutdown once its context ends. Zero
	// value means 10 seconds.
	ShutdownTimeout time.Duration
	// DrainTimeout makes Run drain before it shuts down when its context
	// ends (SIGTERM in a command): no new rooms, running matches finish,
	// for at most this long (Server.Drain). Zero value means no drain: Run
	// shuts down at once, ending running matches with reason "closed".
	DrainTimeout time.Duration
	// EchoEndpoints serves /echo (every message back as it came) and
	// /broadcast (each message to every other connection) on Addr, for
	// conformance suites and transport benchmarks, under the same rate,
	// size, Origin and connection limits as tickroom.v1. Zero value means
	// off.
	EchoEndpoints bool

	// DataDir keeps what outlives the process in a SQLite database in this
	// directory (made with mode 0700 when missing): accounts, results,
	// history, and the session key and admin token when TokenKey and
	// AdminToken are not given, so sessions stay valid across a restart.
	// Ignored when DatabaseURL is set. Zero value (and no DatabaseURL)
	// means no store: nothing outlives the process.
	DataDir string
	// DatabaseURL keeps the same in PostgreSQL (postgres://user@host/db),
	// shared by every node that names it. Zero value means DataDir.
	DatabaseURL string
	// Redis joins this server to a cluster of nodes sharing that Redis
	// (redis://[user:password@]host:port/db, or rediss:// for TLS): the
	// node registers itself there and the room directory, seat
	// reservations and routing become cluster-wide (docs/cluster.md).
	// Nodes of one cluster should share DatabaseURL too, which gives them
	// one session key and admin token. Zero value means a single node
	// with everything in memory.
	Redis string
	// NodeID names this node in the cluster. Zero value means a random id
	// at each start.
	NodeID string
	// PublicHTTPURL is the public HTTP base URL (https://host) this node
	// is reached at, advertised in its cluster registration. Zero value
	// means http:// and the HTTPAddr it listens on.
	PublicHTTPURL string
	// NodeWebSocketURL is the WebSocket URL, ws:// or wss://, that leads
	// clients to this node and no other: the URL other nodes put in a
	// Redirect. Behind a load balancer it is a route of the balancer to
	// this node alone (docs/cluster.md), while PublicWebSocketURL stays
	// the balancer's shared one. Zero value means PublicWebSocketURL when
	// that is a full ws:// or wss:// URL, else ws:// and the address Addr
	// listens on, and WebSocketPath.
	NodeWebSocketURL string

	// StoreQueue bounds the results, chat lines and social graph changes
	// waiting to be written to the store; past it they are dropped and
	// counted (tickroom_store_dropped_total), chat lines past three
	// quarters of it. Zero value means 10,000.
	StoreQueue int
	// ChatHistoryLines is how many recent lines a room or lobby channel
	// keeps for members who join; with a store, a lobby channel that opens
	// again reads this many back. At most 500. Zero value means 50.
	ChatHistoryLines int
	// SocialListSize caps, for each user, its friend list (friends and
	// the requests it made together), its block list, and the friend
	// requests standing for it (with a store, counted in the store, of
	// which guests' may be half and one client address's 20); the excess
	// is refused with ERROR_CODE_LIST_FULL. Zero value means 500.
	SocialListSize int

	// Logger receives the server's logs with the fixed keys conn, user,
	// room and code. Zero value means slog.Default().
	Logger *slog.Logger

	// joinRate, when not zero, is hub.Config.JoinRate, the rate of one
	// user's joins on a node: the tests of joins refused past the burst
	// set a tiny one (export_test.go), so that no token comes back while
	// they run.
	joinRate float64
	// storeReadRate, when not zero, is hub.SocialConfig.StoreReadRate,
	// the rate of one user's store reads on a node: a test that asks for
	// more pages than its burst while the database is down sets +Inf
	// (export_test.go), since a read that fails keeps its token.
	storeReadRate float64
	// directorySync, when not zero, is how often a node of a cluster
	// writes its changed rooms to Redis (cluster.DirectoryConfig.
	// SyncInterval): a test that looks at a seat reserved in Redis
	// before the room's node writes it as taken sets a long one.
	directorySync time.Duration
}

// defaultTokenTTL and defaultGuestTTL are TokenTTL's and GuestTTL's
// defaults.
const (
	defaultMaxHTTPConns = 4096
	defaultTokenTTL     = 24 * time.Hour
	defaultGuestTTL     = 30 * 24 * time.Hour
)

// validate refuses negative limits (wrapping ErrOptions); zero means
// their default.
func (o Options) validate() error {
	err := errors.Join(
		limits.NonNegative("TokenTTL", o.TokenTTL),
		limits.NonNegative("WatchPassTTL", o.WatchPassTTL),
		limits.NonNegative("GuestTTL", o.GuestTTL),
		limits.NonNegative("GuestLoginRate", o.GuestLoginRate),
		limits.NonNegative("GuestLoginBurst", o.GuestLoginBurst),
		limits.NonNegative("MaxSpectatorStreams", o.MaxSpectatorStreams),
		limits.NonNegative("MaxSpectatorStreamsPerIP", o.MaxSpectatorStreamsPerIP),
		limits.NonNegative("SpectatorOpenRate", o.SpectatorOpenRate),
		limits.NonNegative("SpectatorOpenBurst", o.SpectatorOpenBurst),
		limits.NonNegative("MaxHTTPConns", o.MaxHTTPConns),
		limits.NonNegative("MaxHTTPConnsPerIP", o.MaxHTTPConnsPerIP),
		limits.NonNegative("HTTPIdleTimeout", o.HTTPIdleTimeout),
		limits.NonNegative("Loops", o.Loops),
		limits.NonNegative("Shards", o.Shards),
		limits.NonNegative("MaxConns", o.MaxConns),
		limits.NonNegative("MaxConnsPerIP", o.MaxConnsPerIP),
		limits.NonNegative("SessionRate", o.SessionRate),
		limits.NonNegative("SessionRatePerIP", o.SessionRatePerIP),
		limits.NonNegative("RoomListRatePerIP", o.RoomListRatePerIP),
		limits.NonNegative("MaxOutboundBytes", o.MaxOutboundBytes),
		limits.NonNegative("MaxFrameSize", o.MaxFrameSize),
		limits.NonNegative("MaxMessageSize", o.MaxMessageSize),
		limits.NonNegative("MessageRate", o.MessageRate),
		limits.NonNegative("InputBytesPerIP", o.InputBytesPerIP),
		limits.NonNegative("InputFramesPerIP", o.InputFramesPerIP),
		limits.NonNegative("InputBytes", o.InputBytes),
		limits.NonNegative("InputFrames", o.InputFrames),
		limits.NonNegative("DropGrace", o.DropGrace),
		limits.NonNegative("RoomCreateRate", o.RoomCreateRate),
		limits.NonNegative("RoomCreateBurst", o.RoomCreateBurst),
		limits.NonNegative("MaxRoomCostPerUser", o.MaxRoomCostPerUser),
		limits.NonNegative("MaxRoomsPerUser", o.MaxRoomsPerUser),
		limits.NonNegative("KickDuration", o.KickDuration),
		limits.NonNegative("BanDuration", o.BanDuration),
		limits.NonNegative("ShutdownTimeout", o.ShutdownTimeout),
		limits.NonNegative("DrainTimeout", o.DrainTimeout),
		limits.NonNegative("StoreQueue", o.StoreQueue),
		limits.NonNegative("ChatHistoryLines", o.ChatHistoryLines),
		limits.NonNegative("SocialListSize", o.SocialListSize),
	)
	if o.AdminToken != strings.TrimSpace(o.AdminToken) {
		err = errors.Join(err, errors.New("AdminToken begins or ends with white space, which no Authorization header carries: no request could present it"))
	}
	if u := o.NodeWebSocketURL; u != "" && !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
		err = errors.Join(err, fmt.Errorf("NodeWebSocketURL %q is not a ws:// or wss:// URL", u))
	}
	if u := o.PublicWebSocketURL; u != "" && !strings.HasPrefix(u, "/") && !fullURL(u, "ws", "wss", "http", "https") {
		err = errors.Join(err, fmt.Errorf("PublicWebSocketURL %q is neither a path on the page's origin (/v1/ws) nor a full ws://, wss://, http:// or https:// URL with a host", u))
	}
	if tok, guest := cmp.Or(o.TokenTTL, defaultTokenTTL), cmp.Or(o.GuestTTL, defaultGuestTTL); o.GuestTTL >= 0 && guest <= tok && (o.DataDir != "" || o.DatabaseURL != "") {
		err = errors.Join(err, fmt.Errorf("GuestTTL %v must exceed the session token lifetime %v", guest, tok))
	}
	if o.ChatHistoryLines > store.MaxPage {
		err = errors.Join(err, fmt.Errorf("ChatHistoryLines %d is more than %d", o.ChatHistoryLines, store.MaxPage))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return nil
}

// fullURL reports whether u is an absolute URL of one of schemes, with a
// host.
func fullURL(u string, schemes ...string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host != "" && slices.Contains(schemes, strings.ToLower(p.Scheme))
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = DefaultHTTPAddr
	}
	limits.Default(&o.TokenTTL, defaultTokenTTL)
	limits.Default(&o.GuestTTL, defaultGuestTTL)
	limits.Default(&o.MaxFrameSize, 64<<10)
	limits.Default(&o.MaxMessageSize, 64<<10)
	limits.Default(&o.DropGrace, 30*time.Second)
	limits.Default(&o.ShutdownTimeout, 10*time.Second)
	limits.Default(&o.MaxHTTPConns, defaultMaxHTTPConns)
	limits.Default(&o.MaxHTTPConnsPerIP, 64)
	limits.Default(&o.HTTPIdleTimeout, 60*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
