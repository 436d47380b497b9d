// Package freeport picks loopback TCP ports for the servers tests start
// and may stop and start again on the same port (redis-server, PostgreSQL,
// nginx).
//
// A port the kernel gives for port 0 is in its ephemeral range
// (net.ipv4.ip_local_port_range, 32768–60999 by default), the range it
// also takes the local port of every outgoing connection from. While such
// a server is down between a stop and a restart, a connection any test
// opens meanwhile may be given its port, and the restart then cannot bind
// it for as long as that connection lasts. Below the range the kernel
// puts no connection of its own, so the ports here are drawn there, at
// random, and probed free; only another test's draw can take one, and it
// probes as well.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"testing"
)

// floor is the lowest port drawn: above the well-known and most
// registered services' ports.
const floor = 10_000

// rangeFile holds the kernel's ephemeral range, "low high".
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Listen returns a listener on a free loopback port below the ephemeral
// range, held until the caller closes it; when the range leaves no room
// below it (or cannot be read), a port the kernel picks.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	if low := ephemeralLow(); low-floor >= 1_000 {
		for range 100 {
			p := floor + rand.IntN(low-floor)
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
				return ln
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Port returns a loopback port below the ephemeral range that was free a
// moment ago (see Listen).
func Port(t testing.TB) int {
	t.Helper()
	ln := Listen(t)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the low end of the kernel's ephemeral range; 0 when it
// cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile(rangeFile)
	if err != nil {
		return 0
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil {
		return 0
	}
	return low
}
