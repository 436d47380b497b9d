package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// upgradeReq is the upgrade request every client sends.
const upgradeReq = "GET /echo HTTP/1.1\r\nHost: connrss\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// dialers bounds concurrent handshakes; the server allows 64 per source IP.
const dialers = 32

// clientPool holds idle upgraded connections.
type clientPool struct {
	addr    string
	sources []*net.TCPAddr
	conns   []net.Conn
}

// newClientPool spreads clients over n source addresses 127.0.0.2 upward.
func newClientPool(addr string, n int) *clientPool {
	n = max(1, min(n, 200))
	p := &clientPool{addr: addr}
	for i := 0; i < n; i++ {
		p.sources = append(p.sources, &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))})
	}
	return p
}

// grow opens connections until the pool holds n.
func (p *clientPool) grow(ctx context.Context, n int) error {
	need := n - len(p.conns)
	if need <= 0 {
		return nil
	}
	jobs := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for w := 0; w < dialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c, err := openIdle(ctx, p.addr, p.sources[i%len(p.sources)])
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					p.conns = append(p.conns, c)
				}
				mu.Unlock()
			}
		}()
	}
	start := len(p.conns)
	for i := 0; i < need; i++ {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		jobs <- start + i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// openIdle dials from src, upgrades on /echo and returns the idle
// connection.
func openIdle(ctx context.Context, addr string, src *net.TCPAddr) (net.Conn, error) {
	d := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, upgradeReq); err != nil {
		c.Close()
		return nil, err
	}
	// Read the response head byte-wise-bounded: it is small and ends in a
	// blank line; nothing follows it until the server pings.
	var buf [512]byte
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			c.Close()
			return nil, errors.New("upgrade response too long")
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			c.Close()
			return nil, err
		}
		n += m
	}
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101 ")) {
		c.Close()
		return nil, fmt.Errorf("upgrade refused: %q", bytes.SplitN(buf[:n], []byte("\r\n"), 2)[0])
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// closeAll closes every connection.
func (p *clientPool) closeAll() {
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
