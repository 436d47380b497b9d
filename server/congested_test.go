package server

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tickroom/tickroom/internal/frame"
)

// Congested is what a room runtime asks before it sends a connection a
// state delta: it keeps the connection's base when the frame would be
// skipped, and a connection that was told "not congested" and then had
// its delta skipped holds a state that no later delta applies to until
// it reconnects. So Congested must be true whenever a Droppable frame
// would be skipped, when the process as a whole is over
// MaxOutboundBytes too, not only when the connection is over HighWater.
func TestCongestedWhenTheProcessIsOverItsBudget(t *testing.T) {
	const budget = 4 << 20
	s := startServer(t, Config{MaxOutboundBytes: budget, HardCap: budget})
	dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)

	send := func() error {
		f := frame.New(16)
		f.Append([]byte("state delta")...)
		PrepareFrame(f, ws.OpBinary)
		defer f.Release()
		return c.SendFrame(f, Droppable)
	}
	if c.Congested() {
		t.Fatal("an idle connection is congested")
	}
	if err := send(); err != nil {
		t.Fatalf("a droppable frame to an idle connection: %v", err)
	}

	// Other connections hold the process's whole budget (readers that are
	// behind, each under HighWater, so none is evicted); this one holds
	// nothing.
	s.held.Add(budget + 1)
	defer s.held.Add(-budget - 1)
	congested := c.Congested()
	err := send()
	if errors.Is(err, ErrDropped) && !congested {
		t.Fatal("a droppable frame was skipped while Congested reported false")
	}
	if !congested {
		t.Fatal("Congested is false while the process is over its outbound budget")
	}
}

// TestCongestionEndsWhenGnetDrains: a connection whose last write left
// gnet holding more than HighWater (a client that stopped reading for a
// moment while one large frame went out, its kernel taking no more than
// NotSentLowat) is congested, and stops being so once the client has read
// it all, without another frame sent to it: a room that sees it congested
// skips its states and sends it nothing, so nothing but the loop can
// notice that gnet drained. With the sweep an hour away, only the loop's
// drain recheck can.
func TestCongestionEndsWhenGnetDrains(t *testing.T) {
	const size = 256 << 10
	s := startServer(t, Config{SweepInterval: time.Hour, SlowDeadline: time.Hour, IdleTimeout: time.Hour, PingInterval: time.Hour})
	rc := dialWS(t, s, "/rec")
	_ = rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	c := s.rec.waitOpened(t)
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	if err := c.Send(ws.OpBinary, payload); err != nil {
		t.Fatal(err)
	}
	// The one frame goes to gnet whole; the kernel takes part of it.
	waitFor(t, func() bool { return c.queued.Load() == 0 && c.outBytes.Load() > int64(s.cfg.HighWater) })
	if !c.Congested() {
		t.Fatalf("gnet holds %d bytes, over HighWater %d, and the connection is not congested", c.outBytes.Load(), s.cfg.HighWater)
	}
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, p, err := rc.readFrame()
	if err != nil || h.OpCode != ws.OpBinary || !bytes.Equal(p, payload) {
		t.Fatalf("frame: op %v, %d bytes, err %v", h.OpCode, len(p), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Congested() {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the client read the whole frame the connection is still congested (gnet holds %d by its count)", c.outBytes.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
