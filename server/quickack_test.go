package server

import (
	"testing"
	"time"

	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/tickroom/tickroom/internal/frame"
)

// connKeeper hands the test the server's side of its one connection.
type connKeeper struct {
	BaseHandler
	conns chan *Conn
}

func (h connKeeper) Accept(c *Conn, _ *Request) error {
	h.conns <- c
	return nil
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

// TestLateAnswerSavesAnAck: a client sends a message, the server answers
// only after Linux's delayed-ACK timeout (whose timer then ACKs the
// message on its own), and the client's next message is answered at
// once, as an arena room's inputs at 10 Hz are by its frames at 20 Hz.
// With delayAcks each such round costs the server's socket one segment
// without data, the timer's; without it, two: the read of the next
// message sends an ACK of its own although the answer follows.
func TestLateAnswerSavesAnAck(t *testing.T) {
	const rounds = 10
	run := func(off bool) int {
		quickAckOff.Store(off)
		defer quickAckOff.Store(false)
		conns := make(chan *Conn, 1)
		s := startServer(t, Config{}, func(ts *testServer) { ts.Handle("/keep", connKeeper{conns: conns}) })
		cl, _, err := gorilla.DefaultDialer.Dial(s.url+"/keep", nil)
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
		answer := func() {
			t.Helper()
			f := frame.New(8)
			f.Append([]byte("frame")...)
			PrepareFrame(f, ws.OpBinary)
			if err := c.SendFrame(f, Reliable); err != nil {
				t.Fatal(err)
			}
			f.Release()
			if _, _, err := cl.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		round := func() {
			send("late")
			time.Sleep(60 * time.Millisecond) // past the 40 ms timer
			answer()
			time.Sleep(10 * time.Millisecond)
			send("prompt")
			time.Sleep(5 * time.Millisecond)
			answer()
			time.Sleep(40 * time.Millisecond)
		}
		for range 3 { // past the connection's first quick ACKs
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
		t.Skipf("this kernel sent %d ACKs without data in %d rounds without delayAcks: no ACK at read to save", without, rounds)
	}
	if with > rounds*5/4 || with > without-rounds/2 {
		t.Fatalf("%d segments without data in %d rounds with delayAcks, %d without: want about one a round (the timer's)", with, rounds, without)
	}
}
