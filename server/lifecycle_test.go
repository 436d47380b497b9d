package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"
)

func TestConnectionLimits(t *testing.T) {
	t.Run("slowloris handshake timeout", func(t *testing.T) {
		s := startServer(t, Config{HandshakeTimeout: 200 * time.Millisecond, SweepInterval: 20 * time.Millisecond, CloseTimeout: time.Minute})
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		rc.write([]byte("GET /echo HTTP/1.1\r\nHost: x\r\n")) // and never the rest
		if resp := rc.response(); resp.StatusCode != 408 {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
		rc.expectEOF("after the timeout response")
	})
	t.Run("handshakes per IP", func(t *testing.T) {
		s := startServer(t, Config{MaxHandshakesPerIP: 2})
		for i := 0; i < 2; i++ {
			nc := dialRaw(t, s)
			_, _ = nc.Write([]byte("GET /echo HTTP/1.1\r\n")) // unfinished
		}
		waitFor(t, func() bool { return s.Conns() == 2 })
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		rc.write([]byte(upgradeRequest("/echo", "")))
		if resp := rc.response(); resp.StatusCode != 429 {
			t.Fatalf("third concurrent handshake: status %d, want 429", resp.StatusCode)
		}
	})
	t.Run("max conns", func(t *testing.T) {
		s := startServer(t, Config{MaxConns: 3})
		for i := 0; i < 3; i++ {
			dialWS(t, s, "/echo")
		}
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		if resp := rc.response(); resp.StatusCode != 503 {
			t.Fatalf("fourth connection: status %d, want 503", resp.StatusCode)
		}
	})
}

func TestIdlePingAndTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		code ws.StatusCode // configured IdleCloseCode
		want ws.StatusCode
	}{
		{"default code", 0, ws.StatusGoingAway},
		{"configured code", 4003, 4003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{
				PingInterval: 100 * time.Millisecond, IdleTimeout: 600 * time.Millisecond, CloseTimeout: 200 * time.Millisecond,
				SweepInterval: 20 * time.Millisecond, IdleCloseCode: tc.code,
			})
			rc := dialWS(t, s, "/rec")
			c := s.rec.waitOpened(t)
			h, _, err := rc.readFrame()
			if err != nil || h.OpCode != ws.OpPing {
				t.Fatalf("first frame of a quiet connection: %v %v, want a ping", h.OpCode, err)
			}
			// Never answer: the server gives up.
			if code := rc.readClose(); code != tc.want {
				t.Fatalf("close code %d, want %d", code, tc.want)
			}
			if e := s.rec.waitClose(t); e.id != c.ID() || e.code != tc.want {
				t.Fatalf("OnClose %+v, want conn %d code %d", e, c.ID(), tc.want)
			}
		})
	}
}

func TestSlowClient(t *testing.T) {
	s := startServer(t, Config{
		HighWater: 32 << 10, ReliableBudget: 64 << 10, HardCap: 1 << 30,
		SlowDeadline: 100 * time.Millisecond, SlowCloseCode: 4008, SweepInterval: 20 * time.Millisecond,
	})
	rc := dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)
	_ = rc // never reads
	payload := make([]byte, 16<<10)
	f := frame.New(len(payload))
	f.Append(payload...)
	PrepareFrame(f, ws.OpBinary)
	defer f.Release()
	// Fill the kernel buffers and then the server's budget.
	sawCongested, sawDropped := false, false
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c.Congested() {
			sawCongested = true
			if err := c.SendFrame(f, Droppable); errors.Is(err, ErrDropped) {
				sawDropped = true
			}
		}
		if err := c.SendFrame(f, Reliable); errors.Is(err, ErrConnClosed) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	e := s.rec.waitClose(t)
	if e.code != 4008 {
		t.Fatalf("slow client closed with %d, want 4008", e.code)
	}
	if !sawCongested || !sawDropped || c.Dropped() == 0 {
		t.Fatalf("congested %v, dropped %v (%d), want both", sawCongested, sawDropped, c.Dropped())
	}
	if f.Refs() != 1 {
		t.Fatalf("frame refs %d after close, want only ours", f.Refs())
	}
}

func TestHardCapClosesAtOnce(t *testing.T) {
	s := startServer(t, Config{ReliableBudget: 8 << 10, MaxFrameSize: 4 << 10, MaxMessageSize: 4 << 10, SlowDeadline: time.Hour, SlowCloseCode: 4009})
	dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = c.Send(ws.OpBinary, make([]byte, 4<<10))
	}
	if !errors.Is(err, ErrConnClosed) {
		t.Fatalf("Send past the hard cap: %v, want ErrConnClosed", err)
	}
	if e := s.rec.waitClose(t); e.code != 4009 {
		t.Fatalf("closed with %d, want 4009", e.code)
	}
}

func TestSendFromManyGoroutinesKeepsOrder(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute})
	rc := dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)
	const writers, each = 4, 250
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < each; i++ {
				_ = c.Send(ws.OpText, []byte(fmt.Sprintf("%d:%d", w, i)))
			}
		}()
	}
	for w := 0; w < writers; w++ {
		<-done
	}
	c.Close(4000, "done")
	next := make([]int, writers)
	for n := 0; n < writers*each; n++ {
		h, p, err := rc.readFrame()
		if err != nil || h.OpCode != ws.OpText {
			t.Fatalf("frame %d: %v %v", n, h.OpCode, err)
		}
		var w, i int
		if _, err := fmt.Sscanf(string(p), "%d:%d", &w, &i); err != nil {
			t.Fatalf("payload %q", p)
		}
		if i != next[w] {
			t.Fatalf("writer %d: got %d, want %d (order broken)", w, i, next[w])
		}
		next[w]++
	}
	if code := rc.readClose(); code != 4000 {
		t.Fatalf("close after the queued frames: %d, want 4000", code)
	}
	rc.write(maskedFrame(0x80|byte(ws.OpClose), closePayload(4000, "")))
	rc.expectEOF("after both close frames")
	if e := s.rec.waitClose(t); e.code != 4000 || e.reason != "done" {
		t.Fatalf("OnClose %+v", e)
	}
}

func TestShutdownClosesEveryConnection(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	s, err := New(Config{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s.Handle("/rec", rec)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s}
	const n = 6
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = dialWS(t, ts, "/rec")
		rec.waitOpened(t)
	}
	result := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		result <- s.Shutdown(ctx)
	}()
	for i, rc := range clients {
		if code := rc.readClose(); code != ws.StatusGoingAway {
			t.Fatalf("client %d: close %d, want 1001", i, code)
		}
		if i%2 == 0 { // half answer the close, half just hang up
			rc.write(maskedFrame(0x80|byte(ws.OpClose), closePayload(1001, "")))
		} else {
			rc.nc.Close()
		}
	}
	if err := <-result; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Shutdown: %v", err)
	}
	for i := 0; i < n; i++ {
		if e := rec.waitClose(t); e.code != ws.StatusGoingAway {
			t.Fatalf("OnClose code %d, want 1001", e.code)
		}
	}
	if err := s.Start(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
	if _, err := io.ReadAll(clients[0].br); err != nil {
		t.Fatalf("after shutdown: %v", err)
	}
	// Every goroutine the server started has been joined.
	waitFor(t, func() bool { return runtime.NumGoroutine() <= goroutines })
}

// greeter sends a welcome from Accept and closes connections that ask.
type greeter struct{ BaseHandler }

func (greeter) Accept(c *Conn, r *Request) error {
	_ = c.Send(ws.OpText, []byte("welcome "+r.Query("name")))
	if r.Query("kick") != "" {
		c.Close(4003, "kicked")
	}
	return nil
}

func TestSendDuringAccept(t *testing.T) {
	s := startServer(t, Config{})
	t.Run("welcome follows the 101", func(t *testing.T) {
		rc := dialWS(t, s, "/greet?name=ada")
		h, p, err := rc.readFrame()
		if err != nil || h.OpCode != ws.OpText || string(p) != "welcome ada" {
			t.Fatalf("first frame %v %q %v", h.OpCode, p, err)
		}
	})
	t.Run("close from Accept follows the welcome", func(t *testing.T) {
		rc := dialWS(t, s, "/greet?name=bob&kick=1")
		if _, p, err := rc.readFrame(); err != nil || string(p) != "welcome bob" {
			t.Fatalf("first frame %q %v", p, err)
		}
		if code := rc.readClose(); code != 4003 {
			t.Fatalf("close %d, want 4003", code)
		}
	})
}

// TestHandshakeCapBoundsSocketsPerIP: MaxHandshakesPerIP bounds the
// sockets one address holds before upgrading, whatever they do. A
// connection over the cap is refused with 429 at once, not held until
// its first byte (a silent one was held for HandshakeTimeout); and a
// connection whose request was refused counts until its socket closes
// (one that sent a bad request and kept its socket open was held for
// CloseTimeout, uncounted, so an address that kept doing so filled
// MaxConns for everyone).
func TestHandshakeCapBoundsSocketsPerIP(t *testing.T) {
	const capPerIP, tries = 3, 20
	for _, tc := range []struct {
		name string
		send string
	}{
		{"silent", ""},
		{"bad request, socket kept open", "BAD REQUEST\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{MaxHandshakesPerIP: capPerIP, HandshakeTimeout: 5 * time.Second, CloseTimeout: 5 * time.Second})
			refused := 0
			for i := 0; i < tries; i++ {
				nc := dialRaw(t, s)
				if tc.send != "" {
					_, _ = nc.Write([]byte(tc.send))
				}
				if i == capPerIP-1 {
					waitFor(t, func() bool { return s.Conns() == capPerIP })
				}
				if i >= capPerIP && tc.send == "" {
					// Over the cap: answered without sending anything.
					rc := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
					_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
					resp, err := http.ReadResponse(rc.br, nil)
					if err == nil && resp.StatusCode == 429 {
						refused++
					}
				}
			}
			// Well within HandshakeTimeout and CloseTimeout, the address
			// holds no more sockets than its cap.
			deadline := time.Now().Add(time.Second)
			for s.Conns() > capPerIP && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := s.Conns(); n > capPerIP {
				t.Fatalf("one address holds %d sockets before upgrading, cap %d", n, capPerIP)
			}
			if tc.send == "" && refused != tries-capPerIP {
				t.Fatalf("%d silent connections over the cap answered 429, want %d", refused, tries-capPerIP)
			}
			// Another address is served.
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
			nc, err := d.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			rc := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
			rc.write([]byte(upgradeRequest("/echo", "")))
			if resp := rc.response(); resp.StatusCode != 101 {
				t.Fatalf("upgrade from another address: status %d", resp.StatusCode)
			}
		})
	}
}
