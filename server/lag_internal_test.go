package server

import (
	"net"
	"testing"
	"time"
)

// BenchmarkUnacked is the lag probe's syscall on a loopback socket that
// owes some bytes: what each sweep pays for each connection written to
// since the sweep before (lag.go).
func BenchmarkUnacked(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	peer, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = peer.Close() }()
	// The peer never reads: what is written past its window stays owed,
	// and the write ends at its deadline.
	_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	_, _ = c.Write(make([]byte, 16<<20))
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var n int
	var ok bool
	if err := raw.Control(func(fd uintptr) {
		for b.Loop() {
			n, ok = unacked(int(fd))
		}
	}); err != nil {
		b.Fatal(err)
	}
	if !ok {
		b.Skip("no SIOCOUTQ here")
	}
	b.ReportMetric(float64(n), "owed-B")
}
