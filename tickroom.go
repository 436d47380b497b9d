// Package tickroom assembles a complete tickroom server from Options: the
// WebSocket port that speaks tickroom.v1, the public HTTP port (login,
// client configuration, your pages) and the admin port (health, metrics,
// monitor, admin API). A studio's own main registers its games and runs it:
//
//	srv, err := tickroom.New(tickroom.Options{Games: []game.Definition{mygame.Definition()}})
//	if err != nil { ... }
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	err = srv.Run(ctx)
//
// cmd/tickroom is such a main: it maps flags and TICKROOM_* environment
// variables onto Options and registers the built-in games.
//
// What a game implements and may rely on lives in package game: the Game
// interface and its threading contract (every call on the room's tick
// worker, one at a time), Snapshot for encoding state as entities and
// globals, Viewer for per-client views, Setup for room options, and
// Context.End for results, which reach Options.OnResult as a game.Result.
// Package game/gametest runs a game on a manual clock in unit tests.
// docs/games.md is the guide.
package tickroom

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/account"
	"github.com/tickroom/tickroom/server/admin"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/httpconns"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
	"github.com/tickroom/tickroom/server/spectate"
	"github.com/tickroom/tickroom/server/web"
	"github.com/tickroom/tickroom/store"
)

var (
	// ErrOptions wraps Options that New refuses.
	ErrOptions = errors.New("tickroom: invalid options")
	// ErrStarted is returned by Register and Start once the server started.
	ErrStarted = errors.New("tickroom: server already started")
	// ErrServerClosed is returned by Start after Shutdown.
	ErrServerClosed = errors.New("tickroom: server closed")
)

// Server is a tickroom server built from Options. Its methods are safe
// from any goroutine.
type Server struct {
	opts  Options
	log   *slog.Logger
	games *game.Registry
	auth  *auth.Authority
	ws    *server.Server
	hub   *hub.Hub
	feeds *spectate.Feeds
	// trusted are the proxies whose X-Forwarded-For and PROXY headers
	// name clients.
	trusted clientip.Trusted
	// httpConns caps the public HTTP port's connections.
	httpConns *httpconns.Limiter

	mu         sync.Mutex
	started    bool
	closed     bool
	public     *http.Server
	publicAddr net.Addr
	admin      *http.Server
	adminAddr  net.Addr
	adminToken string

	db               *store.DB         // nil without a store
	queue            *store.WriteQueue // nil without a store
	adminTokenStored bool              // adminToken came from the store
	accounts         *account.Service  // nil without a store
	revocations      *storeRevocations // nil without a store
	channels         *storeChannels    // nil without a store
	queuedBlocks     *queuedBlocks     // blocks on the write queue (graph.go); nil without a store

	node     *cluster.Node      // nil without Options.Redis
	dir      *cluster.Directory // nil without Options.Redis
	xnode    *clusterUsers      // nil without Options.Redis
	migrator *cluster.Migrator  // nil without Options.Redis

	drainReq     chan struct{} // closed by RequestDrain
	drainCut     chan struct{} // closed by CutDrain
	cutOnce      sync.Once
	drainAsked   bool          // guarded by mu
	drainTimeout time.Duration // guarded by mu
}

// New builds a server from opts and registers opts.Games. It listens on
// nothing until Start or Run. With a DataDir or DatabaseURL it opens the
// store and applies its migrations first, and fails with a store error
// when that cannot be done (there is no fallback to memory).
func New(opts Options) (*Server, error) {
	return NewContext(context.Background(), opts)
}

// NewContext is New under ctx, which bounds opening the store: its end (a
// signal during the start) cancels a migration under way on the database
// server too, whose transaction rolls back and whose PostgreSQL migration
// lock is let go at once, and NewContext fails with ctx's error. Once
// NewContext has returned, ctx no longer matters.
func NewContext(ctx context.Context, opts Options) (_ *Server, err error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if o.Addr == Off {
		return nil, fmt.Errorf("%w: the WebSocket address cannot be off", ErrOptions)
	}
	s := &Server{opts: o, log: o.Logger, games: game.NewRegistry(), adminToken: o.AdminToken, drainReq: make(chan struct{}), drainCut: make(chan struct{})}
	if err := s.openStore(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.xnode.close(context.Background())
			_ = s.closeStore(context.Background())
			if s.node != nil {
				_ = s.node.Client().Close()
			}
		}
	}()
	o = s.opts
	if err := s.newNode(); err != nil {
		return nil, err
	}
	if err := s.fitConns(opts); err != nil {
		return nil, err
	}
	o.MaxConns, o.MaxHTTPConns = s.opts.MaxConns, s.opts.MaxHTTPConns
	if s.node != nil && opts.DatabaseURL == "" && len(opts.TokenKey) == 0 {
		// Its key is generated into its own data directory, or random:
		// every other node refuses the tokens it issues, so each client
		// redirected from it is refused with 401.
		s.log.Warn("cluster: this node's session key is its own, so the other nodes refuse its tokens and every client redirected to another node gets 401; give every node the same -database, or the same -token-key-file",
			"node", s.node.ID())
	}
	if err := s.newClusterUsers(s.hubRevocations()); err != nil {
		return nil, err
	}
	if s.adminToken == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		s.adminToken = hex.EncodeToString(b[:])
	}
	if err := s.Register(o.Games...); err != nil {
		return nil, err
	}
	acfg := auth.Config{TTL: o.TokenTTL, Logger: o.Logger, SignedOut: s.signedOut}
	if len(o.TokenKey) > 0 {
		acfg.Keys = []auth.Key{{ID: "k1", Secret: o.TokenKey}}
	}
	if len(o.IdentityKey) > 0 {
		acfg.Identity.HMACKey = o.IdentityKey
	}
	if o.IdentityJWKSFile != "" {
		if acfg.Identity.PublicKeys, err = auth.LoadJWKS(o.IdentityJWKSFile); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOptions, err)
		}
	}
	acfg.Identity.Issuer, acfg.Identity.Audience = o.IdentityIssuer, o.IdentityAudience
	if (len(o.IdentityKey) > 0 || o.IdentityJWKSFile != "") && o.IdentityAudience == "" {
		o.Logger.Warn("tickroom: identity tokens for any audience log users in: set IdentityAudience (-identity-audience) to this game's client id at the provider, or a token a user got for another app logs them in here")
	}
	trusted, err := clientip.Parse(strings.Join(o.TrustedProxies, ","))
	if err != nil {
		return nil, fmt.Errorf("%w: trusted proxies: %w", ErrOptions, err)
	}
	acfg.GuestLoginRate, acfg.GuestLoginBurst, acfg.TrustedProxies = rate.Limit(o.GuestLoginRate), o.GuestLoginBurst, trusted
	acfg.Logins = s.loginBuckets()
	s.trusted = trusted
	if s.db != nil {
		if s.accounts, err = account.New(account.Config{Users: s.db, Logger: o.Logger, TrustedProxies: trusted, Guesses: s.accountGuesses(), Revoked: s.revoked, SignOut: s.signOut, SignedOut: s.signedOut}); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOptions, err)
		}
		acfg.Accounts = s.accounts
	}
	if s.auth, err = auth.New(acfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	s.ws, err = server.New(server.Config{
		Addr: o.Addr, Loops: o.Loops, MaxConns: o.MaxConns, MaxConnsPerIP: o.MaxConnsPerIP,
		Origins: o.Origins, TrustedProxies: trusted, ProxyProtocol: o.ProxyProtocol,
		MaxFrameSize: o.MaxFrameSize, MaxMessageSize: o.MaxMessageSize, MaxOutboundBytes: o.MaxOutboundBytes,
		MaxStateLag: o.MaxStateLag, MessageRate: o.MessageRate, RateCloseCode: ws.StatusCode(protocol.CloseRateLimited),
		InputBytesPerIP: o.InputBytesPerIP, InputFramesPerIP: o.InputFramesPerIP,
		InputBytes: o.InputBytes, InputFrames: o.InputFrames,
		SlowCloseCode: ws.StatusCode(protocol.CloseSlowClient), Logger: o.Logger,
		// Clients ping every HeartbeatInterval; three silent intervals
		// close with the resumable heartbeat code.
		PingInterval: HeartbeatInterval, IdleTimeout: 3 * HeartbeatInterval,
		IdleCloseCode: ws.StatusCode(protocol.CloseHeartbeatTimeout),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	hcfg := hub.Config{
		Server: s.ws, Auth: s.auth, Games: s.games,
		Runtime:         game.Config{Shards: o.Shards, DropGrace: o.DropGrace, Logger: o.Logger, OnResult: s.onResult()},
		Revocations:     s.hubRevocations(),
		Buckets:         s.hubBuckets(),
		Records:         s.hubRecords(),
		ChannelLog:      s.hubChannelLog(),
		Social:          hub.SocialConfig{Graph: s.socialGraph(), Inbox: s.socialInbox(), Channels: s.socialChannels(), HistoryLines: o.ChatHistoryLines, MaxListSize: o.SocialListSize, StoreReadRate: o.storeReadRate},
		MultipleSockets: o.MultipleSockets,
		RoomCreateRate:  o.RoomCreateRate, RoomCreateBurst: o.RoomCreateBurst, MaxRoomCostPerUser: o.MaxRoomCostPerUser,
		MaxRoomsPerUser: o.MaxRoomsPerUser,
		JoinRate:        o.joinRate,
		SessionRate:     o.SessionRate, SessionAddressRate: o.SessionRatePerIP, SessionAddressBurst: o.MaxConnsPerIP,
		// A NAT's connections reconnecting at once each watch their 4 lists
		// (hub.Config.MaxRoomWatches) again and list once.
		RoomListAddressRate: o.RoomListRatePerIP, RoomListAddressBurst: o.MaxConnsPerIP * 5, KickDuration: o.KickDuration, BanDuration: o.BanDuration, WatchPassTTL: o.WatchPassTTL,
		Logger: o.Logger, HeartbeatInterval: HeartbeatInterval,
	}
	s.xnode.hubConfig(&hcfg)
	s.hub, err = hub.New(hcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if err := s.newDirectory(); err != nil {
		return nil, err
	}
	s.xnode.bind(s.hub)
	if err := s.newMigrator(); err != nil {
		return nil, err
	}
	s.feeds, err = spectate.New(spectate.Config{
		Rooms: s.hub.Runtime(), Members: s.hub, Guesses: s.hub, Passes: s.hub, Auth: s.auth, Games: s.games, TrustedProxies: trusted,
		MaxStreams: o.MaxSpectatorStreams, MaxStreamsPerIP: o.MaxSpectatorStreamsPerIP,
		OpenRate: o.SpectatorOpenRate, OpenBurst: o.SpectatorOpenBurst, Logger: o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	s.ws.Handle(WebSocketPath, s.hub)
	if o.EchoEndpoints {
		s.ws.Handle("/echo", &server.EchoHandler{})
		s.ws.Handle("/broadcast", server.NewBroadcastHandler())
	}
	return s, nil
}

// Register adds games. It fails with ErrStarted once the server started,
// and with game.ErrDuplicateGame or game.ErrInvalidDefinition for a bad
// definition (the ones before it stay registered).
func (s *Server) Register(defs ...game.Definition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	for _, d := range defs {
		if err := s.games.Register(d); err != nil {
			return err
		}
	}
	return nil
}

// Games returns the registered game names, sorted.
func (s *Server) Games() []string { return s.games.Names() }

// Start listens on every configured address and starts the tick workers,
// then returns. A listener that cannot start stops the others and returns
// its error; the Server cannot be started again.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.started {
		return ErrStarted
	}
	s.started = true
	s.xnode.start()
	s.hub.Start()
	if err := s.ws.Start(); err != nil {
		s.stopLocked(context.Background())
		return err
	}
	if err := s.startPublic(); err != nil {
		s.stopLocked(context.Background())
		return err
	}
	if err := s.startAdmin(); err != nil {
		s.stopLocked(context.Background())
		return err
	}
	if err := s.startNode(); err != nil {
		s.stopLocked(context.Background())
		return err
	}
	return nil
}

// startPublic serves the login, the client config, the spectator feeds
// and Pages.
func (s *Server) startPublic() error {
	if s.opts.HTTPAddr == Off {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.HTTPAddr)
	if err != nil {
		return fmt.Errorf("tickroom: public http listener: %w", err)
	}
	// The connection caps count TCP peers (a trusted proxy is exempt from
	// the per-address one), so they wrap the listener under the PROXY
	// protocol's.
	s.httpConns = httpconns.New(httpconns.Config{Max: s.opts.MaxHTTPConns, PerAddr: s.opts.MaxHTTPConnsPerIP, Exempt: s.trusted.Contains})
	ln = s.httpConns.Listener(ln)
	if s.opts.ProxyProtocol {
		ln = s.trusted.ProxyListener(ln, 5*time.Second)
	}
	_, wsPort, _ := net.SplitHostPort(s.ws.Addr().String())
	port, _ := strconv.Atoi(wsPort)
	mux := http.NewServeMux()
	mux.Handle("/", web.New(web.Config{
		Auth: s.auth, WebSocketPort: port, WebSocketPath: WebSocketPath, WebSocketURL: s.opts.PublicWebSocketURL,
		Demo: s.opts.Pages, Games: s.games.Names(), Origins: s.opts.Origins, Revoked: s.revoked,
	}))
	s.feeds.Register(mux)
	ice := social.ICEConfig{URLs: s.opts.ICEURLs, TURNSecret: s.opts.TURNSecret}
	mux.Handle("GET "+social.ICEPath, ice.ICEHandler(func(tok string) (string, error) {
		now := time.Now()
		c, err := s.auth.Verify(tok, now)
		if err != nil {
			return "", err
		}
		if msg, revoked := s.revoked(c, now); revoked {
			return "", errors.New(msg)
		}
		return c.UserID, nil
	}))
	if s.accounts != nil {
		ah := s.accounts.Handler(s.auth)
		mux.Handle(account.Path, ah)
		mux.Handle(account.Path+"/", ah)
	}
	// A spectator stream bounds its own writes (spectate.Config.WriteTimeout)
	// and runs for as long as its room does: it is served outside TimeBound.
	outer := http.NewServeMux()
	s.feeds.Register(outer)
	outer.Handle("/", httpconns.TimeBoundBody(web.CORS(s.opts.Origins, mux), httpBodyTimeout))
	s.public = &http.Server{
		Handler: outer, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: maxHTTPHeader,
		IdleTimeout: s.opts.HTTPIdleTimeout, ConnState: s.httpConns.ConnState, ErrorLog: s.httpErrorLog(),
	}
	s.publicAddr = ln.Addr()
	go serve(s.public, ln, s.log, "public http server")
	return nil
}

// maxHTTPHeader caps a request's head (its line and headers) on the public
// HTTP port (admin.Handler.Server caps the admin port's alike), as
// server.Config.MaxRequestSize caps an upgrade request's: net/http's own
// default, a megabyte, let every connection still sending its head hold
// that much for the header timeout. net/http allows 4 KiB more; past it
// the answer is 431 and the connection closes.
const maxHTTPHeader = 8 << 10

// httpBodyTimeout bounds the read of a request's body on the public and
// admin HTTP ports (408 past it): httpconns.BodyTimeout, which the tests
// of a stalled body shorten.
var httpBodyTimeout = httpconns.BodyTimeout

// revoked reports why the WebSocket upgrade refuses a verified session
// token (a kick or a ban, hub.Hub's Revoked); the public HTTP endpoints
// that take a session token (the session check, the account endpoints,
// the ICE servers) refuse it too.
func (s *Server) revoked(c auth.Claims, now time.Time) (string, bool) {
	return s.hub.Revoked(c, now)
}

// signOut ends the sessions of an account's tokens issued up to now:
// a claim set its new password (account.Config.SignOut, hub.Hub's
// SignOut); the sessions of kept's second, the claimer's, stay open.
func (s *Server) signOut(userID string, now, kept time.Time) time.Time {
	return s.hub.SignOut(userID, now, kept)
}

// signedOut reports the sign-out that would refuse a token of userID
// issued at now (auth.Config.SignedOut, hub.Hub's SignedOut).
func (s *Server) signedOut(userID string, now time.Time) (time.Time, bool) {
	return s.hub.SignedOut(userID, now)
}

// startAdmin serves the admin handler. The default address, when taken
// (another tickroom on the machine), turns the admin listener off with a
// warning; an address asked for explicitly must be free.
func (s *Server) startAdmin() error {
	addr, fallback := s.opts.AdminAddr, false
	switch addr {
	case Off:
		return nil
	case "":
		addr, fallback = DefaultAdminAddr, true
	}
	acfg := admin.Config{Hub: s.hub, Server: s.ws, Token: s.adminToken, Logger: s.log, Games: s.games, Drain: s.RequestDrain, IdleTimeout: s.opts.HTTPIdleTimeout, BodyTimeout: httpBodyTimeout}
	if s.node != nil {
		acfg.Ready = append(acfg.Ready, s.node.Ready)
		acfg.Collectors = append(acfg.Collectors, s.dir, s.migrator, s.xnode.peers)
	}
	acfg.Collectors = append(acfg.Collectors, s.feeds)
	if s.httpConns != nil {
		acfg.Collectors = append(acfg.Collectors, s.httpConns)
	}
	if s.queue != nil {
		acfg.Ready = append(acfg.Ready, s.queue.Ready)
		acfg.Collectors = append(acfg.Collectors, s.queue)
		acfg.Results = s.db
	}
	if s.revocations != nil {
		acfg.Collectors = append(acfg.Collectors, s.revocations)
	}
	s.adminConfig(&acfg)
	ah, err := admin.New(acfg)
	if err != nil {
		return err
	}
	if s.xnode != nil {
		s.xnode.ops.Bind(ah.ServePeer)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if !fallback {
			return fmt.Errorf("tickroom: admin listener: %w", err)
		}
		s.log.Warn("admin server off: default address unavailable", "addr", addr, "err", err)
		return nil
	}
	s.admin, ln = ah.Server(ln)
	s.adminAddr = ln.Addr()
	go serve(s.admin, ln, s.log, "admin http server")
	return nil
}

// httpErrorLog is the HTTP servers' ErrorLog: net/http's own lines
// (accept errors, which it retries, as when the process is at its
// open-file limit; a handler's panic) go through Options.Logger as
// warnings, in its format, where the standard library would print them
// to standard error as plain text among -log-format json's lines.
func (s *Server) httpErrorLog() *log.Logger {
	return slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
}

func serve(hs *http.Server, ln net.Listener, log *slog.Logger, what string) {
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Error(what, "err", err)
	}
}

// Run starts the server (unless Start already did), serves until ctx ends,
// a drain is requested (RequestDrain) or the WebSocket transport stops on
// its own (accept(2) failing with EMFILE, the process at its open-file
// limit, stops it: Run then shuts the rest down and returns why), drains for Options.DrainTimeout
// (or the requested deadline) when that is not zero, then shuts down within
// Options.ShutdownTimeout. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil && !errors.Is(err, ErrStarted) {
		return err
	}
	s.drainBeforeShutdown(ctx, s.waitStop(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx)
	if ferr := s.ws.Err(); ferr != nil {
		// The WebSocket transport stopped on its own (the process at its
		// open-file limit): a process that serves logins and pages but no
		// game is worse than one that exits for its supervisor to restart.
		return ferr
	}
	return err
}

// Shutdown stops the server: new connections are refused, every client
// gets close 4000 (CLOSE_CODE_SERVER_SHUTDOWN, resumable on another
// server), rooms end (running matches report Reason "closed"), and every
// goroutine is joined. The admin listener stops last, so /readyz answers
// 503 while the rest drains. It returns ctx's error if ctx ended first,
// one wrapping game.ErrWorkerStuck when it gave up on a tick worker stuck
// in a game's call (game.Runtime.Shutdown: the rest was done without it),
// and nil otherwise, also when called again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.stopLocked(ctx)
}

func (s *Server) stopLocked(ctx context.Context) error {
	s.closed = true
	if !s.started {
		s.leaveCluster(ctx)
		return s.closeStore(ctx)
	}
	s.log.Info("shutting down: clients get a resumable close", "code", int(protocol.CloseServerShutdown))
	// Leave the cluster first, so that no node sends clients here.
	s.leaveCluster(ctx)
	if s.public != nil {
		_ = s.feeds.Close(ctx) // event streams never go idle by themselves
		_ = s.public.Shutdown(ctx)
	}
	err := s.hub.Shutdown(ctx)
	if werr := s.ws.Shutdown(ctx); !errors.Is(werr, server.ErrServerClosed) && err == nil {
		err = werr
	}
	// Results of the rooms that just ended are queued: write them before
	// the store closes.
	if qerr := s.closeStore(ctx); err == nil {
		err = qerr
	}
	if s.admin != nil {
		_ = s.admin.Shutdown(ctx)
	}
	return err
}

// Addr returns the WebSocket address; valid once Start returned nil.
func (s *Server) Addr() net.Addr { return s.ws.Addr() }

// HTTPAddr returns the public HTTP address, or nil when it is off or the
// server has not started.
func (s *Server) HTTPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publicAddr
}

// AdminAddr returns the admin address, or nil when it is off (or its
// default address was taken) or the server has not started.
func (s *Server) AdminAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminAddr
}

// MaxConns returns the cap on the WebSocket port's connections in force:
// Options.MaxConns, or its default as fitted to the open-file limit.
func (s *Server) MaxConns() int { return cmp.Or(s.opts.MaxConns, server.DefaultMaxConns) }

// MaxHTTPConns returns the cap on the public HTTP port's connections in
// force, likewise.
func (s *Server) MaxHTTPConns() int { return s.opts.MaxHTTPConns }

// MaxConnsPerIP returns the cap on one client address's WebSocket
// connections in force: Options.MaxConnsPerIP, or its default.
func (s *Server) MaxConnsPerIP() int { return s.ws.MaxConnsPerIP() }

// MaxMessageSize returns the largest message a client may send, in bytes:
// Options.MaxMessageSize, or its default.
func (s *Server) MaxMessageSize() int { return s.ws.MaxMessageSize() }

// MessageRate returns the messages a connection may send per second:
// Options.MessageRate, or its default.
func (s *Server) MessageRate() int { return s.ws.MessageRate() }

// DropGrace returns how long a dropped player's seat is held for a
// resume: Options.DropGrace, or its default.
func (s *Server) DropGrace() time.Duration { return s.opts.DropGrace }

// TokenTTL returns how long a session token lives: Options.TokenTTL, or
// its default.
func (s *Server) TokenTTL() time.Duration { return s.opts.TokenTTL }

// AdminToken returns the admin bearer token: Options.AdminToken, or the
// random one New made.
func (s *Server) AdminToken() string { return s.adminToken }

// Runtime returns the room runtime: create rooms from code, list them,
// read their tick statistics.
func (s *Server) Runtime() *game.Runtime { return s.hub.Runtime() }
