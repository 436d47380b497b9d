package hub_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// netPath is a userspace TCP relay between test clients and a server that
// plays a bad network: each direction can be delayed, throttled to a byte
// rate, or stalled (bytes are no longer read from the sender, so its
// socket's window closes as when the far side's packets are lost), without
// either side seeing a FIN or a reset.
type netPath struct {
	t      *testing.T
	ln     net.Listener
	target string

	up, down direction // up: client → server; down: server → client

	mu    sync.Mutex
	conns []net.Conn
}

// direction is one way of the path, shared by all its connections.
type direction struct {
	delay     atomic.Int64 // ns each chunk is held before it is written on
	rate      atomic.Int64 // bytes a second; 0 means unthrottled
	stalled   atomic.Bool  // no byte read while set
	forwarded atomic.Int64 // bytes written on
}

// startNetPath listens on loopback and relays each connection to target.
func startNetPath(t *testing.T, target string) *netPath {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &netPath{t: t, ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// url is the WebSocket URL of path (hub.Path) through the relay.
func (p *netPath) url(path string) string { return "ws://" + p.ln.Addr().String() + path }

// connect logs in with tok through the path and reads the Welcome.
func (p *netPath) connect(t *testing.T, tok string) *client {
	t.Helper()
	c, _, err := dial(t, p.url(hub.Path), tok)
	if err != nil {
		t.Fatal(err)
	}
	c.Next(isKind[*tickroomv1.ServerMessage_Welcome])
	return c
}

func (p *netPath) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pump(&p.up, c, s)
		go p.pump(&p.down, s, c)
	}
}

// pump copies from src to dst under d's rules. A stalled direction stops
// reading; a delayed one holds each chunk for the delay (chunks keep their
// order); a throttled one reads at most rate bytes a second, so what the
// sender has not got through waits in its own socket, as it does behind a
// real bottleneck (the relay's own receive buffer is kept small for that).
func (p *netPath) pump(d *direction, src, dst net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	if tc, ok := src.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(8 << 10)
	}
	q := make(chan chunk, 64)
	go func() {
		defer func() { _ = dst.Close() }()
		for ch := range q {
			if wait := time.Until(ch.at); wait > 0 {
				time.Sleep(wait)
			}
			if _, err := dst.Write(ch.b); err != nil {
				return
			}
			d.forwarded.Add(int64(len(ch.b)))
		}
	}()
	defer close(q)
	buf := make([]byte, 4096)
	for {
		for d.stalled.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		n := len(buf)
		r := d.rate.Load()
		if r > 0 {
			n = min(n, max(int(r/50), 1))
		}
		n, err := src.Read(buf[:n])
		if n > 0 {
			q <- chunk{b: append([]byte(nil), buf[:n]...), at: time.Now().Add(time.Duration(d.delay.Load()))}
			if r > 0 {
				time.Sleep(time.Duration(int64(n) * int64(time.Second) / r))
			}
		}
		if err != nil {
			return
		}
	}
}

// vanish stalls both directions: the peer is gone without a FIN or a
// reset, as when a phone loses its signal or a NAT forgets the mapping.
func (p *netPath) vanish() {
	p.up.stalled.Store(true)
	p.down.stalled.Store(true)
}

func (p *netPath) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}
