package main

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relay is a TCP relay on loopback between the slow player and what it
// connects to (nginx's TLS port, or tickroom's WebSocket port): its
// downlink (toward the player) is read at most rate bytes a second, so
// what the sender has not got through waits in the sender's own socket, as
// behind a real bottleneck (the relay's receive buffer is kept small for
// that). The uplink is not throttled.
type relay struct {
	ln     net.Listener
	target string

	rate      atomic.Int64 // bytes a second toward the player; 0 means unthrottled
	forwarded atomic.Int64 // bytes written toward the player

	mu       sync.Mutex
	conns    []net.Conn
	upstream []net.Addr // local address of each connection to target
}

func startRelay(target string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target}
	go r.accept()
	return r, nil
}

func (r *relay) addr() string { return r.ln.Addr().String() }

// upstreamPorts returns the local ports of the relay's connections to its
// target: the far ends of the sockets whose queues the report reads.
func (r *relay) upstreamPorts() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ps []int
	for _, a := range r.upstream {
		ps = append(ps, a.(*net.TCPAddr).Port)
	}
	return ps
}

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, s)
		r.upstream = append(r.upstream, s.LocalAddr())
		r.mu.Unlock()
		go r.pump(c, s, nil)
		go r.pump(s, c, &r.rate)
	}
}

// pump copies src to dst, reading at most *rate bytes a second when rate
// is set and not 0. The rate is kept against the clock from when it was
// set, so sleeps that overshoot do not slow the link below it.
func (r *relay) pump(src, dst net.Conn, rate *atomic.Int64) {
	defer func() { _ = dst.Close() }()
	if rate != nil {
		_ = src.(*net.TCPConn).SetReadBuffer(8 << 10)
	}
	buf := make([]byte, 4096)
	var bps, sent int64
	var since time.Time
	for {
		n := len(buf)
		if rate != nil {
			if b := rate.Load(); b != bps {
				bps, sent, since = b, 0, time.Now()
			}
		}
		if bps > 0 {
			allowed := int64(time.Since(since))*bps/int64(time.Second) - sent
			if allowed < 1 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			n = min(n, int(allowed), max(int(bps/50), 1))
		}
		n, err := src.Read(buf[:n])
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
			if rate != nil {
				r.forwarded.Add(int64(n))
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		_ = c.Close()
	}
}
