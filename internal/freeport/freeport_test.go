package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestPortsAreBelowTheEphemeralRange: the ports drawn are ones the kernel
// never gives an outgoing connection, and free: a server can listen on
// each, and they are not all one.
func TestPortsAreBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	if low-floor < 1_000 {
		t.Skipf("the ephemeral range starts at %d: no room below it", low)
	}
	seen := map[int]bool{}
	for range 20 {
		p := Port(t)
		if p < floor || p >= low {
			t.Fatalf("port %d outside [%d, %d)", p, floor, low)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
		seen[p] = true
	}
	if len(seen) < 10 {
		t.Fatalf("20 draws gave %d ports", len(seen))
	}
	// An outgoing connection takes its local port from the ephemeral range.
	ln := Listen(t)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.LocalAddr().(*net.TCPAddr).Port; p < low {
		t.Fatalf("an outgoing connection's port %d is below the range's %d: the range was misread", p, low)
	}
}
