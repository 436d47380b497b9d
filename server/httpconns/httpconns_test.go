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
		time.Sleep(10 * time.Millisecond) // refuse's linger goroutine closes it
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
