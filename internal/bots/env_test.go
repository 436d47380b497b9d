package bots_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/admin"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/web"
)

// testServer is a complete tickroom server: WebSocket transport with the
// hub, and the public HTTP handler for login and client config.
type testServer struct {
	httpURL    string
	wsAddr     string // the WebSocket listener, host:port
	metricsURL string
	hub        *hub.Hub
}

// startServer runs a server on 127.0.0.1:0 with arena and gomoku; it is
// shut down in t.Cleanup.
func startServer(t *testing.T, hubCfg func(*hub.Config)) *testServer {
	t.Helper()
	return startServerWeb(t, hubCfg, nil)
}

// startServerWeb is startServer with webCfg applied to the public HTTP
// handler's configuration (GET /v1/config's answer among it).
func startServerWeb(t *testing.T, hubCfg func(*hub.Config), webCfg func(*web.Config)) *testServer {
	t.Helper()
	// Every bot logs in as a guest from loopback, like a load test: the
	// per-address guest login limit is off, as scripts/bots/run.sh turns it off.
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "test", Secret: bytes.Repeat([]byte{9}, 32)}}, GuestLoginRate: rate.Inf})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	reg := game.NewRegistry()
	for _, d := range []game.Definition{arena.Definition(), gomoku.Definition()} {
		if err := reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	hcfg := hub.Config{Server: srv, Auth: a, Games: reg, Runtime: game.Config{Shards: 2}}
	if hubCfg != nil {
		hubCfg(&hcfg)
	}
	h, err := hub.New(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(hub.Path, h)
	h.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	_, portStr, _ := net.SplitHostPort(srv.Addr().String())
	port, _ := strconv.Atoi(portStr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wcfg := web.Config{Auth: a, WebSocketPort: port, WebSocketPath: hub.Path, Games: reg.Names()}
	if webCfg != nil {
		webCfg(&wcfg)
	}
	hs := &http.Server{Handler: web.New(wcfg)}
	go func() { _ = hs.Serve(ln) }()
	ah, err := admin.New(admin.Config{Hub: h, Server: srv})
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	as := &http.Server{Handler: ah}
	go func() { _ = as.Serve(aln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		_ = as.Shutdown(ctx)
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	return &testServer{httpURL: "http://" + ln.Addr().String(), wsAddr: srv.Addr().String(), metricsURL: "http://" + aln.Addr().String() + "/metrics", hub: h}
}
