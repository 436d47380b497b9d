package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// The input budgets, against the attacks they answer: many connections
// from one address, each within its own message rate, that together send
// more than the address's budget, and each alone more than that budget
// too. Every attacker is closed with the rate close code; a bystander on
// the same address, within its share, gets every answer and stays open.
// (An attacker that alone sent less than the budget would be left open
// once the others are closed: the address would be back within it.)
func TestInputBudgetOfAnAddress(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		attackers int
		burst     []byte        // written by each attacker every
		every     time.Duration // under MessageRate
	}{
		{
			// 20 connections at 200 pings a second against a budget of 60
			// a second: a share of 3 each.
			name:      "ping flood",
			cfg:       Config{MessageRate: 1000, InputFramesPerIP: 60},
			attackers: 20,
			burst:     bytes.Repeat(maskedFrame(0x89, []byte("ping")), 5),
			every:     25 * time.Millisecond,
		},
		{
			// 10 connections each sending a 60 KB message every 20 ms: 30
			// MB/s against a budget of 1 MiB/s.
			name:      "large messages",
			cfg:       Config{MessageRate: 100, InputBytesPerIP: 1 << 20, MaxFrameSize: 64 << 10, MaxMessageSize: 64 << 10},
			attackers: 10,
			burst:     maskedFrame(0x82, make([]byte, 60000)),
			every:     20 * time.Millisecond,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.RateCloseCode = 4002
			s := startServer(t, tc.cfg)
			bystander := dialWS(t, s, "/echo")
			_ = bystander.nc.SetDeadline(time.Now().Add(60 * time.Second))

			stop := make(chan struct{})
			var wg sync.WaitGroup
			codes := make(chan ws.StatusCode, tc.attackers)
			for i := 0; i < tc.attackers; i++ {
				rc := dialWS(t, s, "/echo")
				_ = rc.nc.SetDeadline(time.Now().Add(60 * time.Second))
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						case <-time.After(tc.every):
						}
						if _, err := rc.nc.Write(tc.burst); err != nil {
							return
						}
					}
				}()
				go func() {
					for {
						h, p, err := rc.readFrame()
						switch {
						case err != nil:
							codes <- 0
							return
						case h.OpCode == ws.OpClose && len(p) >= 2:
							codes <- ws.StatusCode(binary.BigEndian.Uint16(p))
							return
						}
					}
				}()
			}

			// The bystander sends a message and a ping every second (under
			// its share of the frame budget), and reads every echo and
			// pong, until every attacker is closed.
			sent, echoes, pongs := 0, 0, 0
			closed := 0
			for closed < tc.attackers {
				sent++
				msg := binary.BigEndian.AppendUint32(nil, uint32(sent))
				bystander.write(append(maskedFrame(0x82, msg), maskedFrame(0x89, msg)...))
				for got := 0; got < 2; got++ {
					h, p, err := bystander.readFrame()
					if err != nil {
						t.Fatalf("bystander, after %d echoes and %d pongs: %v", echoes, pongs, err)
					}
					switch {
					case h.OpCode == ws.OpBinary && bytes.Equal(p, msg):
						echoes++
					case h.OpCode == ws.OpPong && bytes.Equal(p, msg):
						pongs++
					default:
						t.Fatalf("bystander got op %v %q, want the echo and pong of %x", h.OpCode, p, msg)
					}
				}
			drain:
				for {
					select {
					case code := <-codes:
						if code != 4002 {
							t.Fatalf("an attacker ended with close code %d, want 4002", code)
						}
						closed++
					default:
						break drain
					}
				}
				time.Sleep(time.Second)
			}
			close(stop)
			wg.Wait()
			if echoes != sent || pongs != sent {
				t.Fatalf("bystander: %d echoes and %d pongs of %d", echoes, pongs, sent)
			}
			st := waitStats(t, s.Server, func(st Stats) bool { return st.ClosedFor[ReasonInputBudget] == uint64(tc.attackers) })
			if st.Closed[4002] != uint64(tc.attackers) {
				t.Fatalf("closes by code %v, by reason %v", st.Closed, st.ClosedFor)
			}
			t.Logf("%d attackers closed with 4002 while the bystander got %d echoes and pongs", tc.attackers, sent)
		})
	}
}

// refuser is a Handler that refuses every message as invalid.
type refuser struct{ BaseHandler }

func (refuser) OnMessage(c *Conn, _ ws.OpCode, p []byte) { c.Refused(len(p)) }

// A message the handler refuses counts more against the input budget than
// one it serves: the same burst is within the budget when served and over
// it when refused.
func TestRefusedMessagesCountMore(t *testing.T) {
	burst := bytes.Repeat(maskedFrame(0x82, make([]byte, 16<<10)), 40) // 640 KiB
	for _, tc := range []struct {
		path   string
		closed bool
	}{
		{"/echo", false},
		{"/refuse", true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			// A budget of 512 KiB a second holds a burst of 1 MiB: the 640
			// KiB sent at once fit, four times that does not.
			s, err := New(Config{InputBytesPerIP: 512 << 10, MessageRate: 1000, RateCloseCode: 4002, Loops: 1})
			if err != nil {
				t.Fatal(err)
			}
			ts := &testServer{Server: s}
			s.Handle("/echo", &EchoHandler{})
			s.Handle("/refuse", refuser{})
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = s.Shutdown(ctx)
			})
			rc := dialWS(t, ts, tc.path)
			go func() { _, _ = rc.nc.Write(burst) }()
			if !tc.closed {
				for i := 0; i < 40; i++ {
					if h, _, err := rc.readFrame(); err != nil || h.OpCode != ws.OpBinary {
						t.Fatalf("echo %d: op %v, %v", i, h.OpCode, err)
					}
				}
				rc.write(maskedFrame(0x81, []byte("still open")))
				if _, p, err := rc.readFrame(); err != nil || string(p) != "still open" {
					t.Fatalf("after the burst: %q %v", p, err)
				}
				return
			}
			if _, code := rc.readUntilClose(); code != 4002 {
				t.Fatalf("close code %d, want 4002", code)
			}
		})
	}
}

// A connection closed for a flood of pings that goes on sending is read
// for at most maxDrain more bytes, not for the whole close timeout.
func TestFloodAfterTheRateCloseIsCut(t *testing.T) {
	s := startServer(t, Config{MessageRate: 50, RateCloseCode: 4002, CloseTimeout: time.Minute})
	rc := dialWS(t, s, "/rec")
	s.rec.waitOpened(t)
	flood := bytes.Repeat(maskedFrame(0x89, nil), 10000)
	go func() {
		for sent := 0; sent < 64<<20; sent += len(flood) {
			if _, err := rc.nc.Write(flood); err != nil {
				return
			}
		}
	}()
	if _, code := rc.readUntilClose(); code != 4002 {
		t.Fatalf("close code %d, want 4002", code)
	}
	if e := s.rec.waitClose(t); e.code != 4002 {
		t.Fatalf("OnClose %+v", e)
	}
	if in := s.Stats().BytesIn; in > 2<<20 {
		t.Fatalf("the server read %d bytes of the flood", in)
	}
}

// A frame arriving in many reads is peeked at, and so copied out of gnet's
// buffer, once when it is whole, not at every read.
func TestLargeFrameIsCopiedOnce(t *testing.T) {
	const size, read = 1 << 20, 4 << 10
	s, _, l := newFakeServer(Config{MaxFrameSize: size, MaxMessageSize: size})
	h := &msgLog{}
	c, _ := newFakeConn(s, nil, l, h)
	gc := &inboundConn{}
	c.gc, gc.ctx = gc, c
	payload := bytes.Repeat([]byte("abcdefgh"), size/8)
	msg := maskedFrame(0x82, payload)
	e := &engine{s: s}
	for i := 0; i < len(msg); i += read {
		gc.read(e, msg[i:min(i+read, len(msg))])
	}
	if len(h.msgs) != 1 || h.msgs[0].data != string(payload) {
		t.Fatalf("%d messages delivered, want the one of %d bytes", len(h.msgs), size)
	}
	if gc.copied > 2*len(msg) {
		t.Fatalf("gnet's buffer was copied %d bytes for a %d-byte frame", gc.copied, len(msg))
	}
}
