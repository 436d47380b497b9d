package server

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/internal/frame"
)

// waitStats polls s.Stats until ok accepts it, or fails the test.
func waitStats(t *testing.T, s *Server, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never matched: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatsCountTraffic(t *testing.T) {
	s := startServer(t, Config{})
	before := s.Stats()
	if before.Opened != 0 || before.FramesIn != 0 || len(before.Closed) != 0 {
		t.Fatalf("fresh server stats %+v", before)
	}
	c, _, err := gorilla.DefaultDialer.Dial(s.url+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n, size = 5, 100
	for range n {
		if err := c.WriteMessage(gorilla.BinaryMessage, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	switch {
	case st.Opened != 1 || st.Upgraded != 1 || st.Open != 1:
		t.Fatalf("connections %+v", st)
	case st.FramesIn != n || st.FramesOut != n:
		t.Fatalf("frames in %d out %d, want %d each", st.FramesIn, st.FramesOut, n)
	case st.BytesOut != n*(size+2):
		t.Fatalf("bytes out %d, want %d", st.BytesOut, n*(size+2))
	case st.BytesIn < n*(size+6):
		t.Fatalf("bytes in %d, want at least %d", st.BytesIn, n*(size+6))
	}
	// A code the peer chose in 3000–4999 counts under 0, not as itself.
	_ = c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(4321, "bye"))
	c.Close()
	waitStats(t, s.Server, func(st Stats) bool { return st.Closed[0] == 1 && len(st.Closed) == 1 && st.Open == 0 })

	for _, tc := range []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"unknown path", "/nope", nil, 404},
		{"not an upgrade", "/echo", http.Header{"Sec-WebSocket-Version": {"12"}}, 426},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := gorilla.DefaultDialer.Dial(s.url+tc.path, tc.header)
			if err == nil || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("dial %s: %v %v", tc.path, resp, err)
			}
			waitStats(t, s.Server, func(st Stats) bool { return st.Refused[tc.status] == 1 })
		})
	}
}

func TestStatsCountDroppedFrames(t *testing.T) {
	s, fl, l := newFakeServer(Config{HighWater: 10})
	c, _ := newFakeConn(s, fl, l, BaseHandler{})
	f := frame.New(64)
	f.Append(make([]byte, 64)...)
	PrepareFrame(f, ws.OpBinary)
	defer f.Release()
	if err := c.SendFrame(f, Droppable); err != nil {
		t.Fatal(err)
	}
	if err := c.SendFrame(f, Droppable); err != ErrDropped {
		t.Fatalf("second droppable frame over HighWater: %v", err)
	}
	if got := l.stats.dropped.Load(); got != 1 {
		t.Fatalf("dropped %d, want 1", got)
	}
}

// closeGate is a Handler whose OnClose tells entered it runs, then waits
// for gate.
type closeGate struct {
	BaseHandler
	entered chan struct{}
	gate    chan struct{}
}

func (h closeGate) OnClose(*Conn, ws.StatusCode, string) {
	h.entered <- struct{}{}
	<-h.gate
}

// A close is counted (Stats.Closed, ClosedFor, and the open connections)
// once the handler's OnClose has run: one who sees the count sees what
// the handler did, as a session the hub marked closed. It was counted
// before OnClose was called.
func TestCloseCountedAfterTheHandlersOnClose(t *testing.T) {
	h := closeGate{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	s := startServer(t, Config{}, func(ts *testServer) { ts.Handle("/gate", h) })
	open := sync.OnceFunc(func() { close(h.gate) })
	t.Cleanup(open) // before the server's shutdown
	c, _, err := gorilla.DefaultDialer.Dial(s.url+"/gate", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(1000, "bye"))
	c.Close()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's OnClose never ran")
	}
	if st := s.Stats(); len(st.Closed) != 0 || len(st.ClosedFor) != 0 || st.Open != 1 {
		t.Fatalf("while the handler's OnClose runs: closes by code %v, by reason %v, %d open; want none counted, and the connection open", st.Closed, st.ClosedFor, st.Open)
	}
	open()
	waitStats(t, s.Server, func(st Stats) bool { return st.Closed[1000] == 1 && st.ClosedFor[ReasonPeer] == 1 && st.Open == 0 })
}
