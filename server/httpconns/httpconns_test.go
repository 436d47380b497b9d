package httpconns

import (
	"bytes"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeConn is a connection from a given address whose writes are kept.
type fakeConn struct {
	net.Conn // nil: only the methods below are used
	from     netip.Addr
	out      bytes.Buffer
	closed   bool
}

func (f *fakeConn) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(f.from, 40000))
}
func (f *fakeConn) Write(p []byte) (int, error)      { return f.out.Write(p) }
func (f *fakeConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) Close() error                     { f.closed = true; return nil }

// busyFrom admits a connection from addr and marks it serving a request;
// it returns the refusal written when it is refused.
func busyFrom(l *Limiter, addr string) (admitted bool, refusal string) {
	f := &fakeConn{from: netip.MustParseAddr(addr)}
	c := l.admit(f)
	if c == nil {
		return false, f.out.String()
	}
	l.ConnState(c, http.StateActive)
	return true, ""
}

// TestIPv6Groups checks that an IPv6 client is counted by its /64, and a
// site by its /48 at V6SiteFactor times the cap, and that an exempt peer
// is counted only in the total.
func TestIPv6Groups(t *testing.T) {
	l := New(Config{Max: 100, PerAddr: 2, Exempt: func(a netip.Addr) bool { return a == netip.MustParseAddr("2001:db8:ffff::1") }})
	for _, a := range []string{"2001:db8:1:1::1", "2001:db8:1:1::2"} {
		if ok, _ := busyFrom(l, a); !ok {
			t.Fatalf("%s refused under the cap", a)
		}
	}
	if ok, refusal := busyFrom(l, "2001:db8:1:1::3"); ok || !strings.HasPrefix(refusal, "HTTP/1.1 429 ") {
		t.Fatalf("a third address of one /64: admitted %v, %q; want 429", ok, refusal)
	}
	// The rest of the /48's share: 32 in all, two of them taken.
	for i := 2; i <= 16; i++ {
		for j := 1; j <= 2; j++ {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(i), 15: byte(j)}).String()
			if ok, _ := busyFrom(l, a); !ok {
				t.Fatalf("%s refused under its /48's share", a)
			}
		}
	}
	if ok, _ := busyFrom(l, "2001:db8:1:99::1"); ok {
		t.Fatal("a /64 past its /48's share admitted")
	}
	if ok, _ := busyFrom(l, "2001:db8:2:1::1"); !ok {
		t.Fatal("another /48 refused")
	}
	for range 3 {
		if ok, _ := busyFrom(l, "2001:db8:ffff::1"); !ok {
			t.Fatal("an exempt peer refused under the total")
		}
	}
	if got := l.Held(); got != 32+1+3 {
		t.Fatalf("held %d, want 36", got)
	}
	if l.Stats.RefusedAddr.Load() != 2 {
		t.Fatalf("refused for the address: %d, want 2", l.Stats.RefusedAddr.Load())
	}
}

// proxied is a wrapper that names its inner connection with Raw, as the
// PROXY protocol listener's connections do.
type proxied struct{ net.Conn }

func (p proxied) Raw() net.Conn { return p.Conn }

// TestRoomAtTheTotal checks whom the total cap closes for a new
// connection: the connection idle the longest, then one open past the
// grace with no request yet, never one serving a request or just opened;
// and that every way a connection goes gives its place back once.
func TestRoomAtTheTotal(t *testing.T) {
	l := New(Config{Max: 3})
	open := func() (*conn, *fakeConn) {
		f := &fakeConn{from: netip.MustParseAddr("192.0.2.1")}
		c := l.admit(f)
		if c == nil {
			t.Fatalf("refused: %q", f.out.String())
		}
		return c, f
	}
	busy, fb := open()
	l.ConnState(proxied{busy}, http.StateActive) // through a wrapper
	idle1, f1 := open()
	idle2, f2 := open()
	l.ConnState(idle1, http.StateActive)
	l.ConnState(idle2, http.StateActive)
	l.ConnState(idle2, http.StateIdle) // idle first
	l.ConnState(idle1, http.StateIdle)

	fresh, ff := open() // closes idle2, idle the longest
	if !f2.closed || f1.closed || fb.closed {
		t.Fatalf("closed idle2 %v, idle1 %v, busy %v; want idle2 only", f2.closed, f1.closed, fb.closed)
	}
	_, f4 := open() // closes idle1: an idle one before one just opened
	if !f1.closed || ff.closed {
		t.Fatalf("closed idle1 %v, fresh %v; want idle1 only", f1.closed, ff.closed)
	}
	// Now busy, fresh and the last one (fresh too, under a second old): no room.
	f := &fakeConn{from: netip.MustParseAddr("192.0.2.9")}
	if l.admit(f) != nil || !strings.HasPrefix(f.out.String(), "HTTP/1.1 503 ") {
		t.Fatalf("at the cap with none to close: %q, want 503", f.out.String())
	}
	l.mu.Lock()
	fresh.since = time.Now().Add(-2 * newGrace) // open past the grace, no request
	l.mu.Unlock()
	open()
	if !ff.closed || f4.closed {
		t.Fatalf("closed the stale fresh one %v, the newer %v; want the stale one only", ff.closed, f4.closed)
	}
	if got := l.Stats.Evicted.Load(); got != 3 {
		t.Fatalf("evicted %d, want 3", got)
	}
	// Closing twice, or after the limiter closed it, gives one place back.
	busy.Close()
	busy.Close()
	fresh.Close()
	if got := l.Held(); got != 2 {
		t.Fatalf("held %d after closes, want 2", got)
	}
}
