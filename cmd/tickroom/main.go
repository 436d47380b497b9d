// Command tickroom runs the tickroom server: the WebSocket port (tickroom.v1
// on /v1/ws, plus the /echo and /broadcast endpoints), the public HTTP port
// (login, client config and the demo page) and the admin HTTP port (health,
// readiness, Prometheus metrics, pprof, the admin API and the monitor page;
// everything but the probes, metrics and the page itself needs the admin
// token).
//
// Every flag can also be set with an environment variable: TICKROOM_ and the
// flag's name in upper case with '-' as '_' (TICKROOM_HTTP, TICKROOM_DROP_GRACE).
// A flag on the command line wins over the environment.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/admin"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/web"
)

// heartbeatInterval is how often clients are told to ping when idle.
const heartbeatInterval = 10 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tickroom:", err)
		os.Exit(1)
	}
}

type flags struct {
	addr, httpAddr, logFormat, tokenKey, identityKey, origins string
	trustedProxies, publicWSURL                               string
	adminAddr, adminToken, identityJWKS                       string
	adminSet, adminTokenRandom                                bool // -admin given; token generated
	loops, maxConns, maxFrame, maxMessage, shards, msgRate    int
	dropGrace, tokenTTL, shutdownTimeout                      time.Duration
	multiSockets, debug                                       bool
}

func parseFlags() (*flags, error) {
	f := &flags{}
	fs := flag.CommandLine
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8081", "WebSocket listen address host:port")
	fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "public HTTP listen address (login, demo); empty to disable")
	fs.StringVar(&f.adminAddr, "admin", "127.0.0.1:9090", "admin HTTP listen address (health, metrics, pprof, admin API, monitor); empty to disable")
	fs.StringVar(&f.adminToken, "admin-token", "", "admin API and pprof bearer token (empty: a random one, printed at start)")
	fs.IntVar(&f.loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&f.shards, "shards", 0, "tick workers (0: one per CPU)")
	fs.IntVar(&f.maxConns, "max-conns", 0, "maximum open connections (0: 10000)")
	fs.IntVar(&f.maxFrame, "max-frame", 64<<10, "largest frame payload a client may send, bytes (raise it for echo conformance suites)")
	fs.IntVar(&f.maxMessage, "max-message", 64<<10, "largest reassembled message a client may send, bytes (raise it for echo conformance suites)")
	fs.IntVar(&f.msgRate, "message-rate", 0, "messages a connection may send per second (0: 120)")
	fs.DurationVar(&f.dropGrace, "drop-grace", 30*time.Second, "how long a dropped player's seat is held for a resume")
	fs.DurationVar(&f.tokenTTL, "token-ttl", 24*time.Hour, "session token lifetime")
	fs.StringVar(&f.tokenKey, "token-key", "", "session token signing key, at least 32 bytes (empty: random, tokens die with the process)")
	fs.StringVar(&f.identityKey, "identity-key", "", "HMAC key that external identity tokens (JWT HS256) are signed with (empty: guests only)")
	fs.StringVar(&f.identityJWKS, "identity-jwks", "", "JSON Web Key Set file of an identity provider whose RS256/ES256 tokens log users in (empty: none)")
	fs.StringVar(&f.origins, "origins", "", "comma-separated Origin allowlist for WebSocket upgrades (empty: any)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated proxy addresses or CIDR prefixes whose X-Forwarded-For names the client (empty: none; the header is ignored)")
	fs.StringVar(&f.publicWSURL, "public-ws-url", "", "WebSocket URL the demo and /v1/config give clients, a path on the page's origin (/v1/ws) or a full wss:// URL (empty: the -addr port on the page's host)")
	fs.BoolVar(&f.multiSockets, "multi-sockets", false, "let a user hold several connections (default: a new login closes the old one)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown waits for clients to close")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&f.debug, "debug", false, "log at debug level (connection events)")
	fs.Parse(os.Args[1:])
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "TICKROOM_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[fl.Name] && err == nil {
			set[fl.Name] = true
			if e := fl.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	f.adminSet = set["admin"]
	return f, err
}

func run() error {
	f, err := parseFlags()
	if err != nil {
		return err
	}
	log := newLogger(f)

	acfg := auth.Config{TTL: f.tokenTTL, Logger: log}
	if f.tokenKey != "" {
		acfg.Keys = []auth.Key{{ID: "k1", Secret: []byte(f.tokenKey)}}
	}
	if f.identityKey != "" {
		acfg.Identity.HMACKey = []byte(f.identityKey)
	}
	if f.identityJWKS != "" {
		if acfg.Identity.PublicKeys, err = auth.LoadJWKS(f.identityJWKS); err != nil {
			return err
		}
	}
	authority, err := auth.New(acfg)
	if err != nil {
		return err
	}
	trusted, err := clientip.Parse(f.trustedProxies)
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	var origins []string
	if f.origins != "" {
		origins = strings.Split(f.origins, ",")
	}
	srv, err := server.New(server.Config{
		Addr: f.addr, Loops: f.loops, MaxConns: f.maxConns, Origins: origins, TrustedProxies: trusted,
		MaxFrameSize: f.maxFrame, MaxMessageSize: f.maxMessage,
		SlowCloseCode: ws.StatusCode(protocol.CloseSlowClient), Logger: log,
		// Clients ping every heartbeatInterval; three silent intervals close
		// with the resumable heartbeat code.
		PingInterval: heartbeatInterval, IdleTimeout: 3 * heartbeatInterval,
		IdleCloseCode: ws.StatusCode(protocol.CloseHeartbeatTimeout),
	})
	if err != nil {
		return err
	}
	games, err := registerGames()
	if err != nil {
		return err
	}
	h, err := hub.New(hub.Config{
		Server: srv, Auth: authority, Games: games,
		Runtime:         game.Config{Shards: f.shards, DropGrace: f.dropGrace, Logger: log},
		MultipleSockets: f.multiSockets, MessageRate: f.msgRate, MaxMessageBytes: f.maxMessage, Logger: log,
		HeartbeatInterval: heartbeatInterval,
	})
	if err != nil {
		return err
	}
	srv.Handle(hub.Path, h)
	srv.Handle("/echo", &server.EchoHandler{})
	srv.Handle("/broadcast", server.NewBroadcastHandler())
	h.Start()
	if err := srv.Start(); err != nil {
		return err
	}

	var public *http.Server
	publicAddr := "off"
	if f.httpAddr != "" {
		ln, err := net.Listen("tcp", f.httpAddr)
		if err != nil {
			return err
		}
		publicAddr = ln.Addr().String()
		_, wsPort, _ := net.SplitHostPort(srv.Addr().String())
		port, _ := strconv.Atoi(wsPort)
		var demo fs.FS
		if d, err := demoFiles(); err == nil {
			demo = d
		}
		public = &http.Server{
			Handler: web.New(web.Config{
				Auth: authority, WebSocketPort: port, WebSocketPath: hub.Path, WebSocketURL: f.publicWSURL,
				Demo: demo, Games: games.Names(),
			}),
			ReadHeaderTimeout: 5 * time.Second,
		}
		go func() {
			if err := public.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("public http server", "err", err)
			}
		}()
	}
	adminSrv, adminAddr, err := startAdmin(f, h, srv, log)
	if err != nil {
		return err
	}
	printSummary(f, srv.Addr().String(), publicAddr, games.Names())
	printAdminSummary(f, adminAddr)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	log.Info("shutting down: clients get a resumable close", "code", int(protocol.CloseServerShutdown))
	ctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if public != nil {
		_ = public.Shutdown(ctx)
	}
	herr := h.Shutdown(ctx)
	if err := srv.Shutdown(ctx); !errors.Is(err, server.ErrServerClosed) {
		return err
	}
	if adminSrv != nil {
		// Last, so /readyz answers 503 while the rest drains.
		_ = adminSrv.Shutdown(ctx)
	}
	return herr
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
func printSummary(f *flags, wsAddr, httpAddr string, games []string) {
	fmt.Printf("tickroom listening ws=%s http=%s\n", wsAddr, httpAddr)
	fmt.Printf("  play        http://%s/\n", httpAddr)
	fmt.Printf("  websocket   ws://%s%s (tickroom.v1), /echo, /broadcast\n", wsAddr, hub.Path)
	fmt.Printf("  login       POST http://%s/v1/login\n", httpAddr)
	fmt.Printf("  games       %s\n", strings.Join(games, ", "))
	fmt.Printf("  resume      seats held %s; tokens live %s\n", f.dropGrace, f.tokenTTL)
	fmt.Printf("  limits      max-conns %d (0 = 10000), message %d B, %d msg/s (0 = 120)\n", f.maxConns, f.maxMessage, f.msgRate)
}

// startAdmin serves the admin handler on f.adminAddr. A default address
// that is taken (another tickroom on the machine) turns the admin server
// off with a warning; an address asked for explicitly must be free.
func startAdmin(f *flags, h *hub.Hub, srv *server.Server, log *slog.Logger) (*http.Server, string, error) {
	if f.adminAddr == "" {
		return nil, "off", nil
	}
	if f.adminToken == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		f.adminToken = hex.EncodeToString(b[:])
		f.adminTokenRandom = true
	}
	ah, err := admin.New(admin.Config{Hub: h, Server: srv, Token: f.adminToken, Logger: log})
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", f.adminAddr)
	if err != nil {
		if f.adminSet {
			return nil, "", fmt.Errorf("admin listener: %w", err)
		}
		log.Warn("admin server off: default address unavailable", "addr", f.adminAddr, "err", err)
		return nil, "off", nil
	}
	as := &http.Server{Handler: ah, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := as.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin http server", "err", err)
		}
	}()
	return as, ln.Addr().String(), nil
}

// printAdminSummary adds the admin lines to the start summary.
func printAdminSummary(f *flags, addr string) {
	if addr == "off" {
		fmt.Printf("  admin       off\n")
		return
	}
	fmt.Printf("  admin       http://%s/monitor/ (monitor), /metrics, /healthz, /readyz, /debug/pprof/, /v1/admin/\n", addr)
	if f.adminTokenRandom {
		fmt.Printf("  admin token %s (random; set -admin-token to choose one)\n", f.adminToken)
	} else {
		fmt.Printf("  admin token from -admin-token\n")
	}
}
