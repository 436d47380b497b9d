package server

import (
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// TestBroadcastToNonReadersIsBounded runs the /broadcast attack with a
// sender far over the room's fan-out rate: members that never read, one
// that reads, and a sender of large messages back to back. What the room
// fans out stays within FanoutRate (the rest is dropped and counted), the
// reader gets what went out in order, and the kernel holds at most
// SendBuffer for each member, however long it does not read.
func TestBroadcastToNonReadersIsBounded(t *testing.T) {
	const (
		members = 20
		msgSize = 16 << 10
		sent    = 300
		rate    = 2 << 20 // fan-out bytes a second
		sndbuf  = 32 << 10
	)
	s := startServer(t, Config{
		SendBuffer: sndbuf, HighWater: 64 << 10, ReliableBudget: 256 << 10, HardCap: 1 << 20,
		MaxFrameSize: msgSize, MaxMessageSize: msgSize, SlowDeadline: time.Hour, SlowCloseCode: 4001,
		MessageRate: 1 << 20, SweepInterval: 20 * time.Millisecond,
	}, func(ts *testServer) { ts.bcast.FanoutRate = rate })
	for i := 0; i < members; i++ {
		rc := dialWS(t, s, "/broadcast")
		_ = rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	}
	reader := dialWS(t, s, "/broadcast")
	sender := dialWS(t, s, "/broadcast")
	waitFor(t, func() bool { return s.bcast.Len() == members+2 })

	start := time.Now()
	go func() {
		payload := make([]byte, msgSize)
		for i := 0; i < sent; i++ {
			binary.BigEndian.PutUint32(payload, uint32(i))
			if _, err := sender.nc.Write(maskedFrame(0x82, payload)); err != nil {
				return
			}
		}
	}()
	got, last := 0, -1
	for {
		// The sender is done when nothing has come for a second.
		_ = reader.nc.SetReadDeadline(time.Now().Add(time.Second))
		h, p, err := reader.readFrame()
		if err != nil {
			break
		}
		if h.OpCode != ws.OpBinary || len(p) != msgSize {
			t.Fatalf("reader got op %v, %d bytes", h.OpCode, len(p))
		}
		seq := int(binary.BigEndian.Uint32(p))
		if seq <= last {
			t.Fatalf("message %d after %d", seq, last)
		}
		got, last = got+1, seq
	}
	elapsed := time.Since(start)
	// The burst, what refilled meanwhile, and the one message that may
	// go out on credit.
	perMsg := float64((msgSize + maxHeaderLen) * (members + 1))
	bound := int((rate/64+rate*elapsed.Seconds())/perMsg) + 1
	dropped := int(s.bcast.Dropped())
	if got == 0 || got > bound || got+dropped != sent {
		t.Fatalf("the reader got %d messages and %d were dropped of %d sent in %v; at most %d fit the fan-out rate",
			got, dropped, sent, elapsed, bound)
	}
	// The kernel's buffer of every member, the non-readers included, is
	// the configured size (Linux reports it doubled), and it holds no
	// more than that and the one segment (64 KiB on loopback) it may take
	// past it; left to itself it grows to 4 MiB for a peer that does not
	// read.
	s.bcast.mu.RLock()
	defer s.bcast.mu.RUnlock()
	for _, c := range s.bcast.list {
		fd := c.gc.Fd()
		size, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF)
		if err != nil {
			continue // closed meanwhile
		}
		queued, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
		if err != nil {
			continue
		}
		if size > 2*sndbuf || queued > size+64<<10 {
			t.Fatalf("member %d: send buffer %d B holding %d B, want at most %d", c.ID(), size, queued, 2*sndbuf+64<<10)
		}
	}
	t.Logf("%d of %d messages fanned out in %v (bound %d)", got, sent, elapsed, bound)
}
