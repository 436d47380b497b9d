// Command tickroom runs the tickroom server: the WebSocket port (tickroom.v1
// on /v1/ws, plus the /echo and /broadcast endpoints) and the public HTTP
// port (login, client config and the demo page).
//
// Every flag can also be set with an environment variable: TICKROOM_ and the
// flag's name in upper case with '-' as '_' (TICKROOM_HTTP, TICKROOM_DROP_GRACE).
// A flag on the command line wins over the environment.
package main

import (
	"context"
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
	"github.com/tickroom/tickroom/server/auth"
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
	loops, maxConns, maxFrame, maxMessage, shards, msgRate    int
	dropGrace, tokenTTL, shutdownTimeout                      time.Duration
	multiSockets, debug                                       bool
}

func parseFlags() (*flags, error) {
	f := &flags{}
	fs := flag.CommandLine
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8081", "WebSocket listen address host:port")
	fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "public HTTP listen address (login, demo); empty to disable")
	fs.IntVar(&f.loops, "loops", 0, "event loops (0: one per CPU)")
	fs.IntVar(&f.shards, "shards", 0, "tick workers (0: one per CPU)")
	fs.IntVar(&f.maxConns, "max-conns", 0, "maximum open connections (0: 10000)")
	fs.IntVar(&f.maxFrame, "max-frame", 1<<20, "largest frame payload a client may send, bytes")
	fs.IntVar(&f.maxMessage, "max-message", 1<<20, "largest reassembled message a client may send, bytes")
	fs.IntVar(&f.msgRate, "message-rate", 0, "messages a connection may send per second (0: 120)")
	fs.DurationVar(&f.dropGrace, "drop-grace", 30*time.Second, "how long a dropped player's seat is held for a resume")
	fs.DurationVar(&f.tokenTTL, "token-ttl", 24*time.Hour, "session token lifetime")
	fs.StringVar(&f.tokenKey, "token-key", "", "session token signing key, at least 32 bytes (empty: random, tokens die with the process)")
	fs.StringVar(&f.identityKey, "identity-key", "", "HMAC key that external identity tokens (JWT HS256) are signed with (empty: guests only)")
	fs.StringVar(&f.origins, "origins", "", "comma-separated Origin allowlist for WebSocket upgrades (empty: any)")
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
			if e := fl.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
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
	authority, err := auth.New(acfg)
	if err != nil {
		return err
	}
	var origins []string
	if f.origins != "" {
		origins = strings.Split(f.origins, ",")
	}
	srv, err := server.New(server.Config{
		Addr: f.addr, Loops: f.loops, MaxConns: f.maxConns, Origins: origins,
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
			Handler:           web.New(web.Config{Auth: authority, WebSocketPort: port, WebSocketPath: hub.Path, Demo: demo, Games: games.Names()}),
			ReadHeaderTimeout: 5 * time.Second,
		}
		go func() {
			if err := public.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("public http server", "err", err)
			}
		}()
	}
	printSummary(f, srv.Addr().String(), publicAddr, games.Names())

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
