// Package netpath is a userspace TCP relay on loopback that plays a bad
// network between clients and a server, for the tests and tools that
// measure what a player behind one gets: each direction can be delayed,
// throttled to a byte rate, or stalled (bytes are no longer read from the
// sender, so its socket's window closes as when the far side's packets
// are lost), without either side seeing a FIN or a reset.
package netpath

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Path relays each connection made to Addr to its target.
type Path struct {
	ln     net.Listener
	target string

	// Up is client → server; Down is server → client. Each is shared by
	// all the path's connections.
	Up, Down Direction

	mu       sync.Mutex
	conns    []net.Conn
	upstream []net.Addr // local address of each connection to target
}

// Direction is one way of a Path.
type Direction struct {
	Delay     atomic.Int64 // ns each chunk is held before it is written on
	Rate      atomic.Int64 // bytes a second; 0 means unthrottled
	Stalled   atomic.Bool  // no byte read while set
	Forwarded atomic.Int64 // bytes written on
	// ReadBuffer is the receive buffer asked of the socket this direction
	// reads from (SO_RCVBUF, which Linux doubles; at least ~2.3 KB) when
	// a connection starts; 0 means 8 KiB. A throttled direction's sender
	// sees what this buffer holds as delivered: a real bottleneck
	// acknowledges nothing it has not passed on.
	ReadBuffer atomic.Int64
}

// Start listens on a loopback port and relays each connection to target.
func Start(target string) (*Path, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Path{ln: ln, target: target}
	go p.accept()
	return p, nil
}

// Addr is the host:port clients connect to.
func (p *Path) Addr() string { return p.ln.Addr().String() }

// UpstreamPorts returns the local ports of the path's connections to its
// target: the far ends of the sockets whose queues a report reads.
func (p *Path) UpstreamPorts() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ps []int
	for _, a := range p.upstream {
		ps = append(ps, a.(*net.TCPAddr).Port)
	}
	return ps
}

// Vanish stalls both directions: the peer is gone without a FIN or a
// reset, as when a phone loses its signal or a NAT forgets the mapping.
func (p *Path) Vanish() {
	p.Up.Stalled.Store(true)
	p.Down.Stalled.Store(true)
}

// Close stops listening and closes every connection.
func (p *Path) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

func (p *Path) accept() {
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
		p.upstream = append(p.upstream, s.LocalAddr())
		p.mu.Unlock()
		go pump(&p.Up, c, s)
		go pump(&p.Down, s, c)
	}
}

// pump copies from src to dst under d's rules. A stalled direction stops
// reading; a delayed one holds each chunk for the delay (chunks keep their
// order); a throttled one reads at most Rate bytes a second, so what the
// sender has not got through waits in its own socket, as it does behind a
// real bottleneck (the relay's own receive buffer is kept small for that).
// The rate is kept against the clock from when it was set, so sleeps that
// overshoot do not slow the path below it.
func pump(d *Direction, src, dst net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	if tc, ok := src.(*net.TCPConn); ok {
		rb := int(d.ReadBuffer.Load())
		if rb <= 0 {
			rb = 8 << 10
		}
		_ = tc.SetReadBuffer(rb)
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
			d.Forwarded.Add(int64(len(ch.b)))
		}
	}()
	defer close(q)
	buf := make([]byte, 4096)
	var bps, sent int64
	var since time.Time
	for {
		if d.Stalled.Load() {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if b := d.Rate.Load(); b != bps {
			bps, sent, since = b, 0, time.Now()
		}
		n := len(buf)
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
			q <- chunk{b: append([]byte(nil), buf[:n]...), at: time.Now().Add(time.Duration(d.Delay.Load()))}
			sent += int64(n)
		}
		if err != nil {
			return
		}
	}
}
