// Command tickroom runs the tickroom server: the WebSocket port (tickroom.v1
// on /v1/ws; with -conformance-endpoints also /echo and /broadcast, under
// the same limits), the public HTTP port
// (login, client config and the demo page) and the admin HTTP port (health,
// readiness, Prometheus metrics, pprof, the admin API and the monitor page;
// everything but the probes, metrics and the page itself needs the admin
// token).
//
// Every flag can also be set with an environment variable: TICKROOM_ and the
// flag's name in upper case with '-' as '_' (TICKROOM_HTTP, TICKROOM_DROP_GRACE).
// A line break at the end of a variable's value is cut, as from a -file
// flag's file. A flag on the command line wins over the environment.
//
// It is a thin wrapper over package tickroom: flags become tickroom.Options,
// and the built-in games (arena, gomoku, lobbychat) and the demo page are
// added. A studio's own main does the same with its games.
//
// Secrets (the admin token, the session-token key, the identity key) are
// best read from a file (-admin-token-file, -token-key-file,
// -identity-key-file) or the environment, not given as flags, which any
// local user sees in ps. A generated admin token is written to a private
// file, never printed; the start summary shows its fingerprint.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/store"
)

func main() {
	if err := run(); err != nil {
		// The library's errors name it already (tickroom.ErrOptions):
		// the command's name, the same word, is not said twice.
		fmt.Fprintln(os.Stderr, "tickroom: "+strings.TrimPrefix(err.Error(), "tickroom: "))
		os.Exit(1)
	}
}

type flags struct {
	addr, httpAddr, logFormat, tokenKey, identityKey, origins    string
	trustedProxies, publicWSURL                                  string
	adminAddr, adminToken, identityJWKS                          string
	identityIssuer, identityAudience                             string
	adminSet                                                     bool // -admin given
	adminTokenFile, tokenKeyFile, identityKeyFile                string
	iceURLs, turnSecret, turnSecretFile                          string
	secretFlags                                                  []string // secret flags given on the command line
	openSecretFiles                                              []openSecretFile
	loops, maxConns, maxConnsPerIP, maxFrame, maxMessage         int
	shards, msgRate, maxOutbound                                 int
	inBytesPerIP, inFramesPerIP, inBytes, inFrames               int
	roomCreateBurst, maxRoomCost, maxRoomsPerUser                int
	roomCreateRate                                               float64
	kickDuration, banDuration, watchPassTTL                      time.Duration
	maxStreams, maxStreamsPerIP, spectatorOpenBurst              int
	spectatorOpenRate                                            float64
	maxHTTPConns, maxHTTPConnsPerIP                              int
	httpIdleTimeout, maxStateLag                                 time.Duration
	dropGrace, tokenTTL, guestTTL, shutdownTimeout, drainTimeout time.Duration
	multiSockets, debug, conformance, proxyProtocol              bool
	ignoreFileLimit                                              bool
	guestLoginRate                                               float64
	sessionRate, sessionRatePerIP                                float64
	roomListRatePerIP                                            float64
	guestLoginBurst                                              int
	dataDir, database                                            string
	storeQueue, chatHistory                                      int
	gcPercent                                                    int
	redis, nodeID, publicHTTPURL, nodeWSURL                      string
}

// The defaults of -drop-grace and -token-ttl, which 0 also means
// (tickroom.Options.DropGrace, TokenTTL).
const (
	defaultDropGrace = 30 * time.Second
	defaultTokenTTL  = 24 * time.Hour
)

func parseFlags() (*flags, error) {
	f := &flags{}
	fs := flag.CommandLine
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8081", "WebSocket listen address host:port")
	fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "public HTTP listen address (login, demo); empty to disable")
	fs.StringVar(&f.adminAddr, "admin", "127.0.0.1:9090", "admin HTTP listen address (health, metrics, pprof, admin API, monitor); empty to disable")
	fs.StringVar(&f.adminToken, "admin-token", "", "admin API and pprof bearer token (empty: one generated on the first start and kept in the data directory's admin-token.key, or without a store a random one in a private temporary file; the start summary names the file, never the token); prefer -admin-token-file or TICKROOM_ADMIN_TOKEN")
	fs.IntVar(&f.loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&f.shards, "shards", 0, "tick workers (0: one per CPU)")
	fs.IntVar(&f.maxConns, "max-conns", 0, "maximum open connections (0: 10000)")
	fs.IntVar(&f.maxConnsPerIP, "max-conns-per-ip", 0, "maximum WebSocket connections from one client address (0: 256)")
	fs.Float64Var(&f.sessionRate, "session-rate", 0, "sessions per second one user may open, sustained, after a burst of 20; past it the upgrade answers 429 (0: 2; inf: no limit)")
	fs.Float64Var(&f.sessionRatePerIP, "session-rate-per-ip", 0, "sessions per second the users of one client address may open together, sustained, after a burst of -max-conns-per-ip; loopback has no such limit (0: 32; inf: no limit, e.g. for a load test from another host)")
	fs.Float64Var(&f.roomListRatePerIP, "room-list-rate-per-ip", 0, "room lists (ListRooms, WatchRooms first lists) per second the connections of one client address may ask for together, sustained, after a burst of 5 × -max-conns-per-ip; past it either is refused RATE_LIMITED; each node of a cluster has its own; loopback has no such limit (0: 64; inf: no limit)")
	fs.IntVar(&f.maxOutbound, "max-outbound-bytes", 0, "process-wide budget of outbound bytes held for slow clients; past it the largest holders are closed with 4001 (0: 64 MiB)")
	fs.DurationVar(&f.maxStateLag, "max-state-lag", 0, "how far behind a player's link may fall before its room skips its states and sends the latest once it catches up; players with a longer round trip get fewer states (0: 500ms; a long one, such as 1h, leaves only the byte bounds)")
	fs.BoolVar(&f.conformance, "conformance-endpoints", false, "serve /echo and /broadcast on the WebSocket port, under the same limits (for conformance suites and transport benchmarks)")
	fs.IntVar(&f.maxFrame, "max-frame", 64<<10, "largest frame payload a client may send, bytes (raise it for echo conformance suites)")
	fs.IntVar(&f.maxMessage, "max-message", 64<<10, "largest reassembled message a client may send, bytes (raise it for echo conformance suites)")
	fs.IntVar(&f.maxStreams, "max-spectator-streams", 0, "open spectator event streams in all (0: 1000)")
	fs.IntVar(&f.maxStreamsPerIP, "max-spectator-streams-per-ip", 0, "open spectator event streams per client address (0: 4)")
	fs.Float64Var(&f.spectatorOpenRate, "spectator-open-rate", 0, "spectator event streams one client address may open per second, sustained, after a burst of -spectator-open-burst; past it a stream is refused with 429 (0: 1; inf: no limit)")
	fs.IntVar(&f.spectatorOpenBurst, "spectator-open-burst", 0, "spectator event streams one client address may open at once (0: 4 × max-spectator-streams-per-ip, 16 at least)")
	fs.IntVar(&f.maxHTTPConns, "max-http-conns", 0, "TCP connections the public HTTP port holds at once; idle ones are closed first for a new one (0: 4096)")
	fs.IntVar(&f.maxHTTPConnsPerIP, "max-http-conns-per-ip", 0, "the same per client address (0: 64)")
	fs.BoolVar(&f.ignoreFileLimit, "ignore-file-limit", false, "start even when -max-conns and -max-http-conns, set, do not fit the open-file limit (which must also hold the listen backlog and a few dozen files), with a warning; by default the start fails, and those left at 0 are lowered to fit")
	fs.DurationVar(&f.httpIdleTimeout, "http-idle-timeout", 0, "close an HTTP keep-alive connection idle this long (0: 60s)")
	fs.IntVar(&f.msgRate, "message-rate", 0, "messages (and control frames) a connection may send per second (0: 120)")
	fs.IntVar(&f.inBytesPerIP, "input-bytes-per-ip", 0, "bytes per second the connections of one client address may send together; while over it, those over their share are closed with 4002 (0: 32 KiB × max-conns-per-ip, or message-rate × max-message when larger)")
	fs.IntVar(&f.inFramesPerIP, "input-frames-per-ip", 0, "messages and control frames per second the connections of one client address may send together (0: message-rate × max-conns-per-ip / 2)")
	fs.IntVar(&f.inBytes, "input-bytes", 0, "bytes per second all connections may send together (0: 16 × input-bytes-per-ip)")
	fs.IntVar(&f.inFrames, "input-frames", 0, "messages and control frames per second all connections may send together (0: 16 × input-frames-per-ip)")
	fs.DurationVar(&f.dropGrace, "drop-grace", defaultDropGrace, "how long a dropped player's seat is held for a resume (0: 30s)")
	fs.Float64Var(&f.roomCreateRate, "room-create-rate", 0, "room cost units a user's creation budget refills per second (a 20 Hz room of up to 8 players costs 1; an address gets 4 times a user's) (0: 0.5)")
	fs.IntVar(&f.roomCreateBurst, "room-create-burst", 0, "room cost units a user may spend on creations at once (0: 32)")
	fs.IntVar(&f.maxRoomCost, "max-room-cost-per-user", 0, "cost units of the live rooms one user created, in them or not (0: 32)")
	fs.IntVar(&f.maxRoomsPerUser, "max-rooms-per-user", 0, "rooms one user is in at once, and in a cluster the seats it holds reserved on other nodes (0: 4)")
	fs.DurationVar(&f.kickDuration, "kick-duration", 0, "how long the tokens a kicked user held are refused (0: 5m)")
	fs.DurationVar(&f.watchPassTTL, "watch-pass-ttl", 0, "how long a watch pass (GetWatchPass: a link that opens one private room's spectator feed) lasts (0: 1h)")
	fs.DurationVar(&f.banDuration, "ban-duration", 0, "length of a ban the admin API gives without seconds (0: until unbanned)")
	fs.DurationVar(&f.tokenTTL, "token-ttl", defaultTokenTTL, "session token lifetime (0: 24h)")
	fs.DurationVar(&f.guestTTL, "guest-ttl", 0, "how long the store keeps a guest account after its last login; more than -token-ttl (0: 720h, 30 days)")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin token")
	fs.StringVar(&f.dataDir, "data-dir", ".tickroom", "directory of the SQLite store (accounts, results, history, the session key and admin token); empty: nothing outlives the process")
	fs.StringVar(&f.database, "database", "", "PostgreSQL URL (postgres://user@host/db) of the store, instead of -data-dir; prefer TICKROOM_DATABASE when it holds a password")
	fs.StringVar(&f.redis, "redis", "", "Redis URL (redis://host:port/db) shared by the nodes of a cluster (empty: a single node, everything in memory); prefer TICKROOM_REDIS when it holds a password")
	fs.StringVar(&f.nodeID, "node-id", "", "this node's id in the cluster (empty: a random one at each start)")
	fs.StringVar(&f.nodeWSURL, "node-ws-url", "", "WebSocket URL (ws:// or wss://) that reaches this node alone, which other nodes redirect clients to; behind a load balancer, its route to this node (empty: -public-ws-url when it is a full URL, else ws:// and the -addr address)")
	fs.StringVar(&f.publicHTTPURL, "public-http-url", "", "public HTTP base URL this node is reached at, advertised to the cluster (empty: http:// and the -http address)")
	fs.IntVar(&f.storeQueue, "store-queue", 0, "results, chat lines and friend and block changes waiting for the store before new ones are dropped, chat lines past three quarters of it (0: 10000)")
	fs.IntVar(&f.chatHistory, "chat-history-lines", 0, "recent lines a room or lobby channel replays to members who join, and a lobby channel reads back from the store when it opens again (0: 50; at most 500)")
	fs.StringVar(&f.tokenKey, "token-key", "", "session token signing key, at least 32 bytes (empty: one generated on the first start and kept in the store, the data directory's token-key.key or the database's secrets table, so tokens outlive a restart; without a store a random one, and tokens die with the process); prefer -token-key-file or TICKROOM_TOKEN_KEY")
	fs.StringVar(&f.tokenKeyFile, "token-key-file", "", "file holding the session token signing key")
	fs.StringVar(&f.identityKey, "identity-key", "", "HMAC key that external identity tokens (JWT HS256) are signed with (empty: guests only); prefer -identity-key-file or TICKROOM_IDENTITY_KEY")
	fs.StringVar(&f.identityKeyFile, "identity-key-file", "", "file holding the identity token HMAC key")
	fs.StringVar(&f.iceURLs, "ice-urls", "", "comma-separated STUN/TURN URLs GET /v1/ice-servers gives players for voice calls (stun:host:3478,turn:host:3478)")
	fs.StringVar(&f.turnSecret, "turn-secret", "", "secret shared with the TURN server (coturn use-auth-secret) for time-limited credentials; prefer -turn-secret-file or TICKROOM_TURN_SECRET")
	fs.StringVar(&f.turnSecretFile, "turn-secret-file", "", "file holding the TURN shared secret")
	fs.Float64Var(&f.guestLoginRate, "guest-login-rate", float64(auth.DefaultGuestLoginRate), "guest logins per second one client address may make, sustained (inf: no limit, e.g. for load tests); past it POST /v1/login answers 429")
	fs.IntVar(&f.guestLoginBurst, "guest-login-burst", auth.DefaultGuestLoginBurst, "guest logins one client address may make at once")
	fs.StringVar(&f.identityJWKS, "identity-jwks", "", "JSON Web Key Set file of an identity provider whose RS256/ES256 tokens log users in (empty: none)")
	fs.StringVar(&f.identityIssuer, "identity-issuer", "", "the \"iss\" identity tokens must carry, the provider's issuer URL (empty: any)")
	fs.StringVar(&f.identityAudience, "identity-audience", "", "the \"aud\" identity tokens must name, this game's client id at the provider (empty: any, so a token a user got for another app logs them in here; warned about at start)")
	fs.StringVar(&f.origins, "origins", "", "comma-separated Origin allowlist for WebSocket upgrades, and the pages on other origins that may call the HTTP API (CORS) (empty: any)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated proxy addresses or CIDR prefixes whose X-Forwarded-For names the client (empty: none; the header is ignored)")
	fs.StringVar(&f.publicWSURL, "public-ws-url", "", "WebSocket URL the demo and /v1/config give clients, a path on the page's origin (/v1/ws) or a full wss:// URL (empty: the -addr port on the page's host)")
	fs.BoolVar(&f.proxyProtocol, "proxy-protocol", false, "accept a PROXY protocol header (v1 or v2) from -trusted-proxies on the WebSocket and public HTTP ports; from any other address it is refused")
	fs.BoolVar(&f.multiSockets, "multi-sockets", false, "let a user hold several connections (default: a new login closes the old one)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown waits for clients to close")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 0, "on SIGTERM or SIGINT, drain first for at most this long: no new rooms, running matches finish (0: shut down at once)")
	fs.IntVar(&f.gcPercent, "gc-percent", defaultGCPercent, "how far the Go heap grows past its live bytes before the next collection, percent (Go's GOGC, whose default is 100; 0: this flag's default); lower keeps the resident set nearer the live heap for more collector CPU; GOGC in the environment overrides it")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&f.debug, "debug", false, "log at debug level (connection events)")
	fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		// The flag package stops at the first word that is not a flag and
		// leaves the rest unread: every flag after it would be dropped.
		return f, fmt.Errorf("unexpected argument %q: every setting is a -flag, and a value holding spaces (a list written with spaces after its commas) must be quoted as one argument", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "TICKROOM_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[fl.Name] && err == nil {
			set[fl.Name] = true
			// A line break at the end is cut, as from a -file flag's file:
			// a secret mounted from a file into the environment keeps the
			// file's last newline, which no flag value means.
			v = strings.TrimRight(v, "\r\n")
			if e := fl.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	if err == nil {
		err = negativeFlag(fs)
	}
	if err == nil && f.logFormat != "text" && f.logFormat != "json" {
		err = fmt.Errorf("-log-format %q: text or json", f.logFormat)
	}
	f.adminSet = set["admin"]
	fs.Visit(func(fl *flag.Flag) {
		if secretFlag[fl.Name] {
			f.secretFlags = append(f.secretFlags, fl.Name)
		}
	})
	if err == nil {
		err = f.readSecretFiles()
	}
	return f, err
}

// negativeFlag refuses a negative number in any numeric flag, naming it:
// every one is a size, a count, a rate or a duration, which the library
// refuses too (tickroom.ErrOptions) with the option's name.
func negativeFlag(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		g, ok := fl.Value.(flag.Getter)
		if !ok || err != nil {
			return
		}
		neg := false
		switch v := g.Get().(type) {
		case int:
			neg = v < 0
		case int64:
			neg = v < 0
		case float64:
			if math.IsNaN(v) {
				err = fmt.Errorf("-%s %s: not a number", fl.Name, fl.Value)
				return
			}
			neg = v < 0
		case time.Duration:
			neg = v < 0
		}
		if neg {
			err = fmt.Errorf("-%s %s: a limit cannot be negative (0 means the default)", fl.Name, fl.Value)
		}
	})
	return err
}

// startStopWait bounds how long a signal during the start waits for the
// start to end (a migration's statement to be cancelled on the database
// server, which takes the store up to 5 s when the server does not answer)
// before the process stops regardless.
const startStopWait = 10 * time.Second

func run() error {
	f, err := parseFlags()
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// The first signal ends ctx (Run drains, then shuts down); a second
	// one cuts the drain short (CutDrain, below). ctx is ended by the
	// goroutine that reads the signal, once it has logged it: ended by the
	// signal itself, the start could fail of the cancel before that
	// goroutine had read the signal, and the process ended without a word
	// of it.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	log := newLogger(f)
	// What logs through slog's default logger or the log package (a
	// panic in a game's Cost) writes in the server's format too.
	slog.SetDefault(log)
	// The Redis client logs on its own (a failed dial, a dropped
	// subscription), by default as plain text lines on standard error:
	// they go through the server's logger, in its format, instead.
	redis.SetLogger(redisLogger{log})
	setGCPercent(f.gcPercent)
	for _, name := range f.secretFlags {
		log.Warn("a secret given on the command line is visible to every local user (ps); use the -file flag or the environment",
			"flag", "-"+name, "instead", "-"+name+"-file or TICKROOM_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	for _, o := range f.openSecretFiles {
		log.Warn("a secret file is open to other users of the machine; make it readable by the server's user alone (chmod 600)",
			"flag", "-"+o.flag+"-file", "path", o.path, "mode", fmt.Sprintf("%#o", o.mode))
	}
	// NewContext opens the store and runs its migrations, which take as
	// long as they take (or wait for another node's): a signal meanwhile
	// ends ctx, which cancels them (a statement under way is cancelled on
	// the database server, its migration rolls back and the PostgreSQL
	// migration lock is let go at once), and the start fails. Nothing
	// serves yet. Should the start not end within startStopWait of the
	// signal, or a second signal come, the process stops there.
	starting := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			log.Warn("signal during the start: stopping; a migration under way is cancelled and rolled back", "signal", sig.String())
			stop()
		case <-starting:
			return
		}
		t := time.NewTimer(startStopWait)
		defer t.Stop()
		select {
		case sig := <-sigs:
			log.Warn("second signal during the start: stopping now", "signal", sig.String())
		case <-t.C:
			log.Warn("the start did not end within its wait after the signal: stopping now", "waited", startStopWait)
		case <-starting:
			return
		}
		os.Exit(1)
	}()
	srv, err := tickroom.NewContext(ctx, options(f, log))
	close(starting)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	tokenPath := ""
	if srv.AdminTokenStored() && srv.Store().Backend() == store.BackendSQLite {
		tokenPath = store.SecretFile(f.dataDir, "admin-token")
	} else if f.adminToken == "" && srv.AdminAddr() != nil {
		if tokenPath, err = writeSecretFile("admin-token", srv.AdminToken()); err != nil {
			_ = srv.Shutdown(context.Background())
			return fmt.Errorf("admin token: %w", err)
		}
		defer os.RemoveAll(filepath.Dir(tokenPath))
	}
	printSummary(f, srv, tokenPath)
	go func() {
		<-sigs
		stop()
		<-sigs
		log.Warn("second signal: cutting the drain short")
		srv.CutDrain()
	}()
	return srv.Run(ctx)
}

// options maps the flags onto the library's options; the built-in games and
// the demo page are what this command adds.
func options(f *flags, log *slog.Logger) tickroom.Options {
	o := tickroom.Options{
		Addr: f.addr, HTTPAddr: f.httpAddr, AdminAddr: f.adminAddr, AdminToken: f.adminToken,
		Games: builtinGames(),
		Loops: f.loops, Shards: f.shards, MaxConns: f.maxConns, MaxConnsPerIP: f.maxConnsPerIP,
		SessionRate: f.sessionRate, SessionRatePerIP: f.sessionRatePerIP, RoomListRatePerIP: f.roomListRatePerIP,
		MaxFrameSize: f.maxFrame, MaxMessageSize: f.maxMessage, MessageRate: f.msgRate,
		MaxOutboundBytes: f.maxOutbound, MaxStateLag: f.maxStateLag,
		InputBytesPerIP: f.inBytesPerIP, InputFramesPerIP: f.inFramesPerIP, InputBytes: f.inBytes, InputFrames: f.inFrames,
		DropGrace: f.dropGrace, TokenTTL: f.tokenTTL, GuestTTL: f.guestTTL, ShutdownTimeout: f.shutdownTimeout, DrainTimeout: f.drainTimeout,
		RoomCreateRate: f.roomCreateRate, RoomCreateBurst: f.roomCreateBurst, MaxRoomCostPerUser: f.maxRoomCost,
		MaxRoomsPerUser: f.maxRoomsPerUser,
		KickDuration:    f.kickDuration, BanDuration: f.banDuration, WatchPassTTL: f.watchPassTTL,
		MultipleSockets: f.multiSockets, EchoEndpoints: f.conformance, Logger: log, ProxyProtocol: f.proxyProtocol,
		IdentityJWKSFile: f.identityJWKS, IdentityIssuer: f.identityIssuer, IdentityAudience: f.identityAudience,
		PublicWebSocketURL: f.publicWSURL,
		GuestLoginRate:     f.guestLoginRate, GuestLoginBurst: f.guestLoginBurst,
		DataDir: f.dataDir, DatabaseURL: f.database, StoreQueue: f.storeQueue, ChatHistoryLines: f.chatHistory,
		Redis: f.redis, NodeID: f.nodeID, PublicHTTPURL: f.publicHTTPURL, NodeWebSocketURL: f.nodeWSURL,
		MaxSpectatorStreams: f.maxStreams, MaxSpectatorStreamsPerIP: f.maxStreamsPerIP,
		SpectatorOpenRate: f.spectatorOpenRate, SpectatorOpenBurst: f.spectatorOpenBurst,
		MaxHTTPConns: f.maxHTTPConns, MaxHTTPConnsPerIP: f.maxHTTPConnsPerIP, IgnoreFileLimit: f.ignoreFileLimit, HTTPIdleTimeout: f.httpIdleTimeout,
	}
	o.TrustedProxies = splitList(f.trustedProxies)
	if f.addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if f.httpAddr == "" {
		o.HTTPAddr = tickroom.Off
	}
	switch {
	case f.adminAddr == "":
		o.AdminAddr = tickroom.Off
	case !f.adminSet:
		// The default: the library falls back to no admin listener when
		// its default address is taken.
		o.AdminAddr = ""
	}
	if f.tokenKey != "" {
		o.TokenKey = []byte(f.tokenKey)
	}
	if f.identityKey != "" {
		o.IdentityKey = []byte(f.identityKey)
	}
	o.ICEURLs = splitList(f.iceURLs)
	if f.turnSecret != "" {
		o.TURNSecret = []byte(f.turnSecret)
	}
	o.Origins = splitList(f.origins)
	if d, err := demoFiles(); err == nil {
		o.Pages = d
	}
	return o
}

// splitList splits a comma-separated flag value into its entries, each
// without the spaces around it; empty entries are dropped, and an empty
// value is nil.
func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// redisLogger passes the Redis client's messages to the server's logger,
// as warnings: they say that Redis is out of reach, which the node's own
// heartbeat does not log at start.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "), "from", "redis client")
}

func newLogger(f *flags) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if f.debug {
		opts.Level = slog.LevelDebug
	}
	if f.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// printSummary prints the one-screen start summary to standard output; its
// first line names the addresses, for scripts and tests that start the
// binary on port 0.
// A generated admin token is not printed: tokenPath names the private
// file it was written to, and the summary shows its fingerprint.
func printSummary(f *flags, srv *tickroom.Server, tokenPath string) {
	wsAddr, httpAddr := srv.Addr().String(), "off"
	if a := srv.HTTPAddr(); a != nil {
		httpAddr = a.String()
	}
	fmt.Printf("tickroom listening ws=%s http=%s\n", wsAddr, httpAddr)
	if srv.HTTPAddr() != nil {
		fmt.Printf("  play        http://%s/\n", httpAddr)
	} else {
		fmt.Printf("  play        off (-http is empty)\n")
	}
	extra := ""
	if f.conformance {
		extra = ", /echo, /broadcast"
	}
	fmt.Printf("  websocket   ws://%s%s (tickroom.v1)%s\n", wsAddr, tickroom.WebSocketPath, extra)
	if srv.HTTPAddr() != nil {
		fmt.Printf("  login       POST http://%s/v1/login\n", httpAddr)
	} else {
		fmt.Printf("  login       off: clients need session tokens made elsewhere\n")
	}
	fmt.Printf("  games       %s\n", strings.Join(srv.Games(), ", "))
	// Every value is the one in force, read back from the server: a flag
	// left at 0 shows its default.
	fmt.Printf("  resume      seats held %s; tokens live %s\n", srv.DropGrace(), srv.TokenTTL())
	if db := srv.Store(); db != nil {
		fmt.Printf("  store       %s %s (schema %d)\n", db.Backend(), db.Where(), db.SchemaVersion())
	} else {
		fmt.Printf("  store       none: accounts, results and history end with the process\n")
	}
	if n := srv.Cluster(); n != nil {
		fmt.Printf("  cluster     node %s at %s, registry on Redis (heartbeat TTL %s)\n", n.ID(), n.WebSocketURL(), n.TTL())
	} else {
		fmt.Printf("  cluster     none: a single node (set -redis to join a cluster)\n")
	}
	fmt.Printf("  limits      max-conns %d, max-http-conns %d, per IP %d, message %d B, %d msg/s\n", srv.MaxConns(), srv.MaxHTTPConns(), srv.MaxConnsPerIP(), srv.MaxMessageSize(), srv.MessageRate())
	a := srv.AdminAddr()
	if a == nil {
		fmt.Printf("  admin       off\n")
		return
	}
	fmt.Printf("  admin       http://%s/monitor/ (monitor), /metrics, /healthz, /readyz, /debug/pprof/, /v1/admin/\n", a)
	if srv.AdminTokenStored() {
		where := tokenPath
		if srv.Store().Backend() == store.BackendPostgres {
			where = "the database's secrets table, a copy in " + tokenPath
		}
		fmt.Printf("  admin token generated once, fingerprint %s, kept in %s (set -admin-token-file to choose one)\n", fingerprint(srv.AdminToken()), where)
	} else if tokenPath != "" {
		fmt.Printf("  admin token random, fingerprint %s, in %s (set -admin-token-file to choose one)\n", fingerprint(srv.AdminToken()), tokenPath)
	} else {
		fmt.Printf("  admin token given, fingerprint %s\n", fingerprint(srv.AdminToken()))
	}
}

// defaultGCPercent is -gc-percent's default. The server allocates little
// once its players are seated (0 allocations per delivered frame; what
// it allocates then is mostly metrics scrapes), so a collection costs
// about the same however often it runs, and the heap need not grow to
// twice the live bytes before one (Go's default): under 1,000 arena bots,
// 25 % made the resident set per player a quarter smaller for about two
// collections a second of a ~10 MB heap, and under 3,000, 10 % took
// another ~0.6 KB a player (mostly fewer free slots in spans and free
// pages kept) for collector work under 1.5 % of the server's CPU in a
// profile; 5 % took hardly more. BENCHMARKS.md ("Game path", "The
// collector's target at 10 %") has the figures.
const defaultGCPercent = 10

// setGCPercent sets the collector's target heap growth, unless GOGC in the
// environment already chose one (the Go runtime reads it at start). 0
// means the default, defaultGCPercent, as 0 does for the other limits.
func setGCPercent(p int) {
	if _, ok := os.LookupEnv("GOGC"); ok || p < 0 {
		return
	}
	if p == 0 {
		p = defaultGCPercent
	}
	debug.SetGCPercent(p)
}
