package server

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// gnetBound is the most gnet may hold for one connection: what the kernel
// refused of one write chunk (which ends with at most one frame past
// writeChunk) plus a close frame.
func gnetBound(maxFrame int) int64 {
	return int64(writeChunk + maxFrame + maxHeaderLen + 2 + maxControlPayload)
}

// TestNonReadersHoldNoCopies runs the /broadcast attack: members that
// never read while a sender broadcasts and a bystander reads. gnet copies
// into a connection's own buffer only what the kernel refused of one write
// chunk; past that the frames stay shared in the connection's queue, so the
// bystander gets every message in order, each non-reader is closed with
// 4001 once over its hard cap, and no connection ever has more than a
// chunk copied.
func TestNonReadersHoldNoCopies(t *testing.T) {
	const (
		members = 40
		msgSize = 16 << 10
		sent    = 400
	)
	s := startServer(t, Config{
		HighWater: 64 << 10, ReliableBudget: 256 << 10, HardCap: 1 << 20, MaxOutboundBytes: 1 << 30,
		MaxFrameSize: msgSize, MaxMessageSize: msgSize, SlowDeadline: time.Hour, SlowCloseCode: 4001,
		MessageRate: 1 << 20, SweepInterval: 20 * time.Millisecond,
	}, unlimitedFanout)
	for i := 0; i < members; i++ {
		rc := dialWS(t, s, "/broadcast")
		_ = rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	}
	bystander := dialWS(t, s, "/broadcast")
	sender := dialWS(t, s, "/broadcast")
	waitFor(t, func() bool { return s.bcast.Len() == members+2 })

	var peak atomic.Int64 // the most gnet held for one connection
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			s.bcast.mu.RLock()
			for _, c := range s.bcast.list {
				if v := c.outBytes.Load(); v > peak.Load() {
					peak.Store(v)
				}
			}
			s.bcast.mu.RUnlock()
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	// The sender keeps at most window messages ahead of the bystander, so
	// the bystander stays far under its budgets however late the machine
	// runs its goroutine; a wall-clock pace let a busy box leave it a hard
	// cap behind, and close it as a non-reader.
	const window = 4 // 64 KiB, the high-water mark
	var read atomic.Int64
	got := make(chan int, 1)
	go func() {
		n := 0
		defer func() { read.Store(1 << 30) }() // the sender stops waiting
		_ = bystander.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		for n < sent {
			h, p, err := bystander.readFrame()
			if err != nil || h.OpCode == ws.OpClose {
				t.Logf("bystander: op %v err %v after %d", h.OpCode, err, n)
				break
			}
			if h.OpCode == ws.OpBinary && len(p) == msgSize && binary.BigEndian.Uint32(p) == uint32(n) {
				n++
				read.Store(int64(n))
			}
		}
		got <- n
	}()
	payload := make([]byte, msgSize)
	for i := 0; i < sent; i++ {
		binary.BigEndian.PutUint32(payload, uint32(i))
		sender.write(maskedFrame(0x82, payload))
		for read.Load() < int64(i+1-window) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	n := <-got
	st := waitStats(t, s.Server, func(st Stats) bool { return st.Closed[4001] >= members })
	close(stop)
	wg.Wait()
	if n != sent {
		t.Fatalf("the reading bystander got %d of %d messages in order", n, sent)
	}
	if st.Closed[4001] != members || st.ClosedFor[ReasonSlowBytes] != members {
		t.Fatalf("closes by code %v by reason %v, want %d non-readers closed with 4001 over the hard cap", st.Closed, st.ClosedFor, members)
	}
	if p, bound := peak.Load(), gnetBound(msgSize); p > bound {
		t.Fatalf("gnet held %d bytes for one connection, over one write chunk's bound %d", p, bound)
	}
	t.Logf("gnet held at most %d B for one connection (bound %d; hard cap %d)", peak.Load(), gnetBound(msgSize), 1<<20)
}

// TestHeldFramesFollowWhenTheReaderResumes checks the other side: a client
// that stops reading while frames are sent to it, with gnet holding bytes
// and the rest kept back, gets all of them in order once it reads again,
// the last ones with nothing sent after them and nothing read from the
// client. With a sweep far in the future, only the loop's drain recheck
// can notice that gnet has drained.
func TestHeldFramesFollowWhenTheReaderResumes(t *testing.T) {
	for _, sweep := range []time.Duration{20 * time.Millisecond, time.Hour} {
		t.Run("sweep="+sweep.String(), func(t *testing.T) { testHeldFramesFollow(t, sweep) })
	}
}

func testHeldFramesFollow(t *testing.T, sweep time.Duration) {
	const size = 4 << 10
	s := startServer(t, Config{HardCap: 256 << 20, ReliableBudget: 128 << 20, MaxOutboundBytes: 256 << 20, SlowDeadline: time.Hour, SweepInterval: sweep})
	rc := dialWS(t, s, "/rec")
	c := s.rec.waitOpened(t)
	payload := make([]byte, size)
	// Send until the kernel refuses, gnet holds bytes and frames wait in
	// the queue, then some more.
	frames, extra := 0, -1
	for extra != 0 {
		binary.BigEndian.PutUint32(payload, uint32(frames))
		if err := c.Send(ws.OpBinary, payload); err != nil {
			t.Fatalf("Send %d: %v", frames, err)
		}
		frames++
		switch {
		case extra > 0:
			extra--
		case frames%64 == 0:
			time.Sleep(time.Millisecond) // let the loop flush
			if c.outBytes.Load() > 0 && c.queued.Load() > 0 {
				extra = 256
			}
		}
		if frames > 1<<15 {
			t.Fatalf("%d frames sent, gnet holds %d, queued %d", frames, c.outBytes.Load(), c.queued.Load())
		}
	}
	if out := c.outBytes.Load(); out > gnetBound(size) {
		t.Fatalf("gnet holds %d bytes, over one write chunk's bound %d", out, gnetBound(size))
	}
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < frames; i++ {
		h, p, err := rc.readFrame()
		if err != nil || h.OpCode != ws.OpBinary || len(p) != size || binary.BigEndian.Uint32(p) != uint32(i) {
			t.Fatalf("frame %d of %d: op %v, %d bytes, err %v; gnet holds %d, queued %d", i, frames, h.OpCode, len(p), err, c.outBytes.Load(), c.queued.Load())
		}
	}
	if err := c.Send(ws.OpText, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if h, p, err := rc.readFrame(); err != nil || h.OpCode != ws.OpText || string(p) != "after" {
		t.Fatalf("frame after the backlog: op %v %q %v", h.OpCode, p, err)
	}
	waitFor(t, func() bool { return s.OutboundBytes() == 0 })
}
