package server

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// testServer is a running server on a loopback port.
type testServer struct {
	*Server
	url   string // ws://host:port
	bcast *BroadcastHandler
	rec   *recorder
}

// startServer starts a server on 127.0.0.1:0 with /echo, /broadcast, /rec
// (a recorder) and /greet (a greeter) and stops it when the test ends;
// each of opts may change the handlers before the server starts.
func startServer(t testing.TB, cfg Config, opts ...func(*testServer)) *testServer {
	t.Helper()
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := &testServer{Server: s, bcast: NewBroadcastHandler(), rec: newRecorder()}
	s.Handle("/echo", &EchoHandler{})
	s.Handle("/broadcast", ts.bcast)
	s.Handle("/rec", ts.rec)
	s.Handle("/greet", greeter{})
	for _, o := range opts {
		o(ts)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ts.url = "ws://" + s.Addr().String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return ts
}

// unlimitedFanout lifts /broadcast's fan-out rate, for tests of the
// transport's own outbound limits.
func unlimitedFanout(ts *testServer) { ts.bcast.FanoutRate = 1 << 50 }

// closeEvent is one Handler.OnClose call.
type closeEvent struct {
	id     uint64
	code   ws.StatusCode
	reason string
}

// recorder is a Handler that records what happens and can refuse.
type recorder struct {
	mu     sync.Mutex
	refuse error
	conns  map[uint64]*Conn
	reqs   []recordedRequest
	msgs   chan []byte
	closes chan closeEvent
	opened chan *Conn
}

type recordedRequest struct {
	path, query, token, header, subprotocol string
	host                                    string     // Request.Host
	clientIP                                netip.Addr // Request.ClientIP
	connIP                                  netip.Addr // Conn.ClientIP during Accept
}

func newRecorder() *recorder {
	return &recorder{
		conns:  make(map[uint64]*Conn),
		msgs:   make(chan []byte, 1024),
		closes: make(chan closeEvent, 1024),
		opened: make(chan *Conn, 1024),
	}
}

func (r *recorder) Accept(c *Conn, req *Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, recordedRequest{
		path: req.Path, query: req.RawQuery, token: req.Query("token"),
		header: req.Header("X-Test"), subprotocol: req.Subprotocol, host: req.Host,
		clientIP: req.ClientIP, connIP: c.ClientIP(),
	})
	if r.refuse != nil {
		return r.refuse
	}
	r.conns[c.ID()] = c
	r.opened <- c
	return nil
}

func (r *recorder) OnMessage(_ *Conn, _ ws.OpCode, p []byte) {
	r.msgs <- append([]byte(nil), p...)
}

func (r *recorder) OnClose(c *Conn, code ws.StatusCode, reason string) {
	r.closes <- closeEvent{c.ID(), code, reason}
}

func (r *recorder) setRefuse(err error) {
	r.mu.Lock()
	r.refuse = err
	r.mu.Unlock()
}

func (r *recorder) lastRequest() recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[len(r.reqs)-1]
}

// waitOpened returns the next connection the recorder accepted.
func (r *recorder) waitOpened(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-r.opened:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

// waitClose returns the next OnClose event.
func (r *recorder) waitClose(t testing.TB) closeEvent {
	t.Helper()
	select {
	case e := <-r.closes:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose")
		return closeEvent{}
	}
}

// dialRaw opens a plain TCP connection to the server.
func dialRaw(t testing.TB, s *testServer) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc
}
