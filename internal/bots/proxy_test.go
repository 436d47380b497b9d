package bots_test

import (
	"bufio"
	"bytes"
	encodingcsv "encoding/csv"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
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

// cuttable forwards connections to to until cut, then closes them all and
// closes every new one at once, as a node that went away behind a
// load balancer that still accepts. It forwards once to is set.
type cuttable struct {
	addr  string
	to    atomic.Pointer[string]
	cut   atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func startCuttable(t *testing.T) *cuttable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &cuttable{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.cut.Load() {
				c.Close()
				continue
			}
			to := p.to.Load()
			if to == nil {
				c.Close()
				continue
			}
			up, err := net.DialTimeout("tcp", *to, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cuttable) cutAll() {
	p.cut.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestBotsThatGiveUpCountAsFailed: a bot whose seat was lost and whose
// redials all fail (the node is gone) counts as a failed resume, so that
// resumed and failed add up to the seats lost, as the report says.
func TestBotsThatGiveUpCountAsFailed(t *testing.T) {
	t.Parallel()
	p := startCuttable(t)
	s := startServerWeb(t, nil, func(c *web.Config) { c.WebSocketURL = "ws://" + p.addr + "/v1/ws" })
	p.to.Store(&s.wsAddr)
	time.AfterFunc(1500*time.Millisecond, p.cutAll)
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, Bots: 4, Game: "gomoku", RoomSize: 2,
		Duration: 7 * time.Second, InputHz: 5, Loops: 1,
	})
	r := rep.Resume
	if r.Reconnects != 4 {
		t.Fatalf("reconnects %d, want the 4 seats the cut lost; report %+v", r.Reconnects, r)
	}
	if r.Resumed != 0 || r.Failed != 4 {
		t.Fatalf("resumed %d, failed %d; want 0 and 4: every lost seat gave up after its redials", r.Resumed, r.Failed)
	}
	// The report says the bots stopped before the run's end, not only
	// that their seats were lost.
	var text, js, csv bytes.Buffer
	_ = rep.WriteText(&text)
	_ = rep.WriteJSON(&js)
	_ = rep.WriteCSV(&csv)
	if n := rep.Counters["bots_ended_early"]; n != 4 || !strings.Contains(text.String(), "ended early 4") || !strings.Contains(js.String(), `"bots_ended_early": 4`) {
		t.Fatalf("%d bots ended early; want the 4 that gave up, in the text and JSON reports:\n%s", n, text.String())
	}
	rows, err := encodingcsv.NewReader(&csv).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("csv: %v, %d rows", err, len(rows))
	}
	if col := slices.Index(rows[0], "ended_early"); col < 0 || rows[len(rows)-1][col] != "4" {
		t.Fatalf("csv: want an ended_early column reading 4 at the end: %q, last row %q", rows[0], rows[len(rows)-1])
	}
}

// cutFirst forwards WebSocket connections to to, but cuts the first n right
// after the server's upgrade response has passed: those bots lose their
// connection before they have a room, as behind a load balancer that
// restarts.
type cutFirst struct {
	addr string
	cut  atomic.Int64 // connections cut so far
}

func startCutFirst(t *testing.T, to string, n int64) *cutFirst {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &cutFirst{addr: ln.Addr().String()}
	var seen atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", to, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			cut := seen.Add(1) <= n
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() {
				defer c.Close()
				defer up.Close()
				if !cut {
					_, _ = io.Copy(c, up)
					return
				}
				buf := make([]byte, 4096)
				k, err := up.Read(buf)
				if err != nil {
					return
				}
				_, _ = c.Write(buf[:k])
				p.cut.Add(1)
			}()
		}
	}()
	return p
}

// TestBotsCutBeforeARoomRedial: a bot whose connection drops after the
// upgrade but before it has a room connects again and plays, as client-js
// does, rather than stopping for good unseen by the report.
func TestBotsCutBeforeARoomRedial(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	p := startCutFirst(t, s.wsAddr, 2)
	rep := runBots(t, bots.Config{
		HTTPURL: s.httpURL, WSURL: "ws://" + p.addr + "/v1/ws", Bots: 4, Game: "gomoku", RoomSize: 2,
		Settle: 10 * time.Second, Duration: time.Second, InputHz: 5, Loops: 1,
	})
	if n := p.cut.Load(); n != 2 {
		t.Fatalf("the proxy cut %d connections, want 2", n)
	}
	if rep.InRoomAtEnd != 4 || rep.Counters["bots_ended_early"] != 0 {
		t.Fatalf("%d bots in a room at the end, %d ended early; want 4 and 0: the 2 bots cut before a room connect again",
			rep.InRoomAtEnd, rep.Counters["bots_ended_early"])
	}
}
