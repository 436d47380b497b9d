package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// The attacks of a guest on the transport, each against a real server on
// loopback, each asserting the bound that answers it.

// readUntilClose reads frames until the close frame and returns how many
// of each opcode came before it and the close code.
func (rc *rawClient) readUntilClose() (map[ws.OpCode]int, ws.StatusCode) {
	rc.t.Helper()
	seen := map[ws.OpCode]int{}
	for {
		h, p, err := rc.readFrame()
		if err != nil {
			rc.t.Fatalf("after %v: %v, want a close frame", seen, err)
		}
		if h.OpCode == ws.OpClose {
			if len(p) < 2 {
				return seen, ws.StatusNoStatusRcvd
			}
			return seen, ws.StatusCode(binary.BigEndian.Uint16(p))
		}
		seen[h.OpCode]++
	}
}

func TestPingFloodIsRateLimited(t *testing.T) {
	const rate = 50
	s := startServer(t, Config{MessageRate: rate, RateCloseCode: 4002})
	for _, tc := range []struct {
		name, path string
		frame      func(i int) []byte
	}{
		{"pings", "/rec", func(int) []byte { return maskedFrame(0x89, []byte("x")) }},
		{"echo messages", "/echo", func(int) []byte { return maskedFrame(0x81, []byte("x")) }},
		{"tiny fragments", "/echo", func(i int) []byte {
			if i == 0 {
				return maskedFrame(0x01, []byte("x"))
			}
			return maskedFrame(0x00, []byte("x"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialWS(t, s, tc.path)
			start := time.Now()
			var flood bytes.Buffer
			for i := 0; i < 20000; i++ {
				flood.Write(tc.frame(i))
			}
			go func() { _, _ = rc.nc.Write(flood.Bytes()) }()
			seen, code := rc.readUntilClose()
			elapsed := time.Since(start)
			if code != 4002 {
				t.Fatalf("close code %d, want 4002", code)
			}
			// The burst, plus what the rate refilled while the flood ran.
			bound := 2*rate + int(elapsed.Seconds()*rate) + 1
			if got := seen[ws.OpPong] + seen[ws.OpText]; got > bound {
				t.Fatalf("%d answers to 20,000 frames in %v, want at most %d", got, elapsed, bound)
			}
		})
	}
	st := waitStats(t, s.Server, func(st Stats) bool { return st.Open == 0 })
	if st.ClosedFor[ReasonRate] != 3 {
		t.Fatalf("closes by reason %v, want 3 for rate", st.ClosedFor)
	}
}

// TestSlowDripIsClosed: a frame that does not arrive whole within
// FrameTimeout, or a fragmented message that does not end, closes the
// connection with IdleCloseCode, the silent link's code: it was 1008,
// which clients take as final, so a player whose link stalled mid-frame
// and came back lost its seats instead of resuming them.
func TestSlowDripIsClosed(t *testing.T) {
	const idle = ws.StatusCode(4003)
	s := startServer(t, Config{FrameTimeout: 300 * time.Millisecond, SweepInterval: 20 * time.Millisecond, IdleCloseCode: idle})
	for _, tc := range []struct {
		name  string
		first []byte // sent once
		drip  func(i int) []byte
	}{
		{
			// A header that claims 60 KB, then one byte at a time.
			name:  "frame",
			first: frameWithLen(0x82, nil, 60000, true), // header and mask key only
			drip:  func(int) []byte { return []byte{0} },
		},
		{
			// A first fragment, then pings (activity) but never the rest.
			name:  "fragmented message",
			first: maskedFrame(0x02, []byte("part one")),
			drip:  func(int) []byte { return maskedFrame(0x89, nil) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialWS(t, s, "/rec")
			c := s.rec.waitOpened(t)
			rc.write(tc.first)
			done := make(chan struct{})
			defer close(done)
			go func() {
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := rc.nc.Write(tc.drip(i)); err != nil {
						return
					}
				}
			}()
			if _, code := rc.readUntilClose(); code != idle {
				t.Fatalf("close code %d, want %d", code, idle)
			}
			rc.nc.Close()
			if e := s.rec.waitClose(t); e.id != c.ID() || e.code != idle {
				t.Fatalf("OnClose %+v, want %d", e, idle)
			}
		})
	}
	st := waitStats(t, s.Server, func(st Stats) bool { return st.ClosedFor[ReasonFrameTimeout] == 2 })
	if st.ClosedFor[ReasonIdle] != 0 {
		t.Fatalf("closes by reason %v", st.ClosedFor)
	}
}

func TestConnectionsPerIP(t *testing.T) {
	s := startServer(t, Config{MaxConnsPerIP: 3})
	var open []*rawClient
	for i := 0; i < 3; i++ {
		open = append(open, dialWS(t, s, "/echo"))
	}
	refused := func() int {
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		rc.write([]byte(upgradeRequest("/echo", "")))
		return rc.response().StatusCode
	}
	if st := refused(); st != 429 {
		t.Fatalf("fourth connection from one address: status %d, want 429", st)
	}
	// The upgraded connections still work, and a closed one frees its place.
	open[0].write(maskedFrame(0x81, []byte("still here")))
	if _, p, err := open[0].readFrame(); err != nil || string(p) != "still here" {
		t.Fatalf("echo on an open connection: %q %v", p, err)
	}
	open[1].nc.Close()
	waitFor(t, func() bool { return s.Conns() == 2 })
	dialWS(t, s, "/echo")
}

func TestEchoOfTheLargestMessage(t *testing.T) {
	// The hard cap derives from the largest message: with 16 MiB messages
	// and the default 1 MiB reliable budget, a 4 MiB echo is not a slow
	// client.
	s := startServer(t, Config{MaxFrameSize: 16 << 20, MaxMessageSize: 16 << 20, FrameTimeout: time.Minute})
	rc := dialWS(t, s, "/echo")
	_ = rc.nc.SetDeadline(time.Now().Add(30 * time.Second))
	msg := make([]byte, 4<<20)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go func() { _, _ = rc.nc.Write(maskedFrame(0x82, msg)) }()
	h, p, err := rc.readFrame()
	if err != nil || h.OpCode != ws.OpBinary || !bytes.Equal(p, msg) {
		t.Fatalf("echo of 4 MiB: op %v, %d bytes, equal %v, err %v", h.OpCode, len(p), bytes.Equal(p, msg), err)
	}
}

func TestOutboundBudgetClosesTheLargestHolders(t *testing.T) {
	const (
		budget    = 8 << 20
		highWater = 256 << 10
		reliable  = 512 << 10
		hardCap   = 8 << 20
		members   = 40
		msgSize   = 16 << 10
	)
	s := startServer(t, Config{
		MaxOutboundBytes: budget, HighWater: highWater, ReliableBudget: reliable,
		MaxFrameSize: msgSize, MaxMessageSize: msgSize, SlowDeadline: time.Hour, HardCap: hardCap,
		SlowCloseCode: 4001, MessageRate: 1 << 20, SweepInterval: 20 * time.Millisecond,
	}, unlimitedFanout)
	// Members of /broadcast that never read.
	for i := 0; i < members; i++ {
		rc := dialWS(t, s, "/broadcast")
		_ = rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	}
	bystander := dialWS(t, s, "/broadcast")
	sender := dialWS(t, s, "/broadcast")
	waitFor(t, func() bool { return s.bcast.Len() == members+2 })

	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v := s.OutboundBytes(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	const sent = 1000
	got := make(chan int, 1)
	go func() {
		n := 0
		_ = bystander.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		for n < sent {
			h, p, err := bystander.readFrame()
			if err != nil {
				t.Logf("bystander: %v after %d", err, n)
				break
			}
			if h.OpCode == ws.OpClose {
				t.Logf("bystander closed with %d after %d", binary.BigEndian.Uint16(p), n)
				break
			}
			if h.OpCode == ws.OpBinary && len(p) == msgSize && binary.BigEndian.Uint32(p) == uint32(n) {
				n++
			}
		}
		got <- n
	}()
	payload := make([]byte, msgSize)
	for i := 0; i < sent; i++ {
		binary.BigEndian.PutUint32(payload, uint32(i))
		sender.write(maskedFrame(0x82, payload))
		// At most ~16 MB/s: a pace a reader keeps up with, so the
		// bystander stands for a client that reads.
		time.Sleep(time.Millisecond)
	}
	n := <-got
	close(stop)
	wg.Wait()
	if n != sent {
		t.Fatalf("the reading bystander got %d of %d messages in order", n, sent)
	}
	// Past the budget, a connection that keeps up still gets its frames:
	// it holds what the kernel refused (under HighWater) and what its loop
	// has yet to flush, which a busy loop lets grow; allow twice the
	// ReliableBudget for it. Without the budget each member could hold up
	// to its hard cap, 8 MiB: 320 MiB in all.
	bound := int64(budget + (members+2)*2*reliable)
	if p := peak.Load(); p > bound {
		t.Fatalf("outbound bytes peaked at %d, over the bound %d", p, bound)
	}
	st := waitStats(t, s.Server, func(st Stats) bool { return st.ClosedFor[ReasonBudget] > 0 })
	if st.Closed[4001] != st.ClosedFor[ReasonBudget] {
		t.Fatalf("closes by code %v by reason %v", st.Closed, st.ClosedFor)
	}
	t.Logf("peak %d B of a %d B budget; %d members closed", peak.Load(), budget, st.ClosedFor[ReasonBudget])
}

func TestFloodAfterTheCloseIsCut(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute})
	rc := dialWS(t, s, "/rec")
	s.rec.waitOpened(t)
	rc.write(frameWithLen(0x82, []byte("x"), 1, false)) // unmasked: close 1002
	if _, code := rc.readUntilClose(); code != ws.StatusProtocolError {
		t.Fatalf("close code %d, want 1002", code)
	}
	// The client goes on sending; the server stops reading it within
	// maxDrain rather than for the whole close timeout.
	chunk := make([]byte, 64<<10)
	sent := 0
	for sent < 64<<20 {
		n, err := rc.nc.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	if e := s.rec.waitClose(t); e.code != ws.StatusProtocolError {
		t.Fatalf("OnClose %+v", e)
	}
	if in := s.Stats().BytesIn; in > 2<<20 {
		t.Fatalf("the server read %d bytes of a %d-byte flood after its close", in, sent)
	}
}

// rateVerdicts hands out the OverRate of every message it gets.
type rateVerdicts struct {
	BaseHandler
	over chan bool
}

func (h rateVerdicts) OnMessage(c *Conn, _ ws.OpCode, _ []byte) { h.over <- c.OverRate() }

// TestFragmentedMessagesOverTheRateAreFlagged: a message whose first
// fragment is over the rate reaches the Handler with OverRate set however
// large its last fragment; it was the last fragment's verdict, and one of
// 1 KiB or more is not counted, so a client that ended each message with
// one had all its messages served at up to twice the rate.
func TestFragmentedMessagesOverTheRateAreFlagged(t *testing.T) {
	const rate = 50
	h := rateVerdicts{over: make(chan bool, 1024)}
	s := startServer(t, Config{MessageRate: rate, RateCloseCode: 4002}, func(ts *testServer) { ts.Handle("/verdicts", h) })
	rc := dialWS(t, s, "/verdicts")
	tail := bytes.Repeat([]byte("y"), 1024)
	var msgs bytes.Buffer
	const n = 3 * rate // a burst (2 × rate) and a rate's worth over it: not yet a flood
	for range n {
		msgs.Write(maskedFrame(0x01, []byte("x")))
		msgs.Write(maskedFrame(0x80, tail))
	}
	start := time.Now()
	rc.write(msgs.Bytes())
	served := 0
	for i := range n {
		select {
		case over := <-h.over:
			if !over {
				served++
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d messages reached the handler", i, n)
		}
	}
	elapsed := time.Since(start)
	if bound := 2*rate + int(elapsed.Seconds()*rate) + 1; served > bound {
		t.Fatalf("%d of %d messages served within the rate in %v at %d/s, want at most %d", served, n, elapsed, rate, bound)
	}
}
