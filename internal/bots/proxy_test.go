package bots_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/bots"
	"github.com/tickroom/tickroom/server/web"
)

// front is a reverse proxy on one origin, as docs/deploy.md lays it out:
// GET /v1/ws to the WebSocket port, anything else to the public HTTP port.
// It counts the connections it carried to the WebSocket port.
type front struct {
	addr     string
	ws       atomic.Int64
	versions atomic.Int64 // WebSocket requests that declared protocol_version=2
}

func startFront(t *testing.T, httpAddr, wsAddr string) *front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &front{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				to := httpAddr
				if strings.HasPrefix(line, "GET /v1/ws") {
					to = wsAddr
					f.ws.Add(1)
					if strings.Contains(line, "&protocol_version=2 ") {
						f.versions.Add(1)
					}
				}
				up, err := net.DialTimeout("tcp", to, 5*time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				if _, err := io.WriteString(up, line); err != nil {
					return
				}
				go func() { _, _ = io.Copy(up, br); up.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return f
}

// TestBotsConnectWhereTheConfigSays: behind a proxy the server gives
// clients its WebSocket as a path on the page's origin (-public-ws-url
// /v1/ws: GET /v1/config's ws_url), and the bots, like client-js,
// connect there, through the proxy, not to the node's own ws_port
// beside the HTTP host (which a deployment does not expose).
func TestBotsConnectWhereTheConfigSays(t *testing.T) {
	t.Parallel()
	s := startServerWeb(t, nil, func(c *web.Config) { c.WebSocketURL = "/v1/ws" })
	_, httpAddr, _ := strings.Cut(s.httpURL, "://")
	f := startFront(t, httpAddr, s.wsAddr)
	rep := runBots(t, bots.Config{
		HTTPURL: "http://" + f.addr, Bots: 4, Game: "gomoku", RoomSize: 2,
		Duration: time.Second, InputHz: 5, Loops: 1,
	})
	if rep.LoggedIn != 4 || rep.InRoomAtEnd != 4 {
		t.Fatalf("logged in %d, in a room %d; want 4 each", rep.LoggedIn, rep.InRoomAtEnd)
	}
	if n := f.ws.Load(); n != 4 {
		t.Fatalf("the proxy carried %d WebSocket connections, want the 4 bots'", n)
	}
	if n := f.versions.Load(); n != 4 {
		t.Fatalf("%d of the bots' upgrades declared protocol_version=2, want 4", n)
	}
}
