package server

import (
	"testing"
	"time"

	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/tickroom/tickroom/internal/frame"
)

// lateAnswerer hands the test the server's side of its one connection and
// answers each "prompt" message at once, in the turn that read it.
type lateAnswerer struct {
	BaseHandler
	conns chan *Conn
}

func (h lateAnswerer) Accept(c *Conn, _ *Request) error {
	h.conns <- c
	return nil
}

func (h lateAnswerer) OnMessage(c *Conn, _ ws.OpCode, payload []byte) {
	if string(payload) == "prompt" {
		answer(c)
	}
}

// answer sends c one small frame.
func answer(c *Conn) {
	f := frame.New(8)
	f.Append([]byte("frame")...)
	PrepareFrame(f, ws.OpBinary)
	_ = c.SendFrame(f, Reliable)
	f.Release()
}

// pureAcks counts the segments without data the kernel has sent on c's
// socket (TCP_INFO: segments out less data segments out).
func pureAcks(t *testing.T, c *Conn) int {
	t.Helper()
	info, err := unix.GetsockoptTCPInfo(c.gc.Fd(), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	return int(info.Segs_out - info.Data_segs_out)
}

// TestLateAnswerSavesAnAck: a client sends a message that the server
// answers only after the delayed-ACK timeout (whose timer then ACKs it on
// its own), then one the server answers at once, as an arena room's frames
// at 20 Hz answer inputs at 10 Hz. With delayAcks each such round costs the
// server's socket one segment without data, the timer's; without it, two:
// the read of the prompt message sends an ACK of its own although the
// answer follows in the same turn.
func TestLateAnswerSavesAnAck(t *testing.T) {
	const rounds = 10
	run := func(off bool) int {
		delayAcksOff.Store(off)
		defer delayAcksOff.Store(false)
		conns := make(chan *Conn, 1)
		s := startServer(t, Config{}, func(ts *testServer) { ts.Handle("/late", lateAnswerer{conns: conns}) })
		cl, _, err := gorilla.DefaultDialer.Dial(s.url+"/late", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		c := <-conns
		send := func(msg string) {
			t.Helper()
			if err := cl.WriteMessage(gorilla.BinaryMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
		}
		read := func() {
			t.Helper()
			if _, _, err := cl.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		round := func() {
			send("late")
			time.Sleep(60 * time.Millisecond) // past the 40 ms timer
			answer(c)
			read()
			time.Sleep(10 * time.Millisecond)
			send("prompt")
			read()
			time.Sleep(40 * time.Millisecond)
		}
		// The first rounds go by the connection's opening, whose
		// segments are ACKed as they arrive.
		for range 3 {
			round()
		}
		before := pureAcks(t, c)
		for range rounds {
			round()
		}
		return pureAcks(t, c) - before
	}
	without := run(true)
	with := run(false)
	t.Logf("segments without data over %d rounds: %d with delayAcks, %d without", rounds, with, without)
	if without < rounds*3/2 {
		t.Skipf("this kernel sent %d segments without data in %d rounds without delayAcks: no ACK at read to save", without, rounds)
	}
	if with > rounds*3/2-1 {
		t.Fatalf("%d segments without data in %d rounds with delayAcks, %d without: want about one a round (the timer's)", with, rounds, without)
	}
}
