package server

import (
	"testing"
	"time"

	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/internal/frame"
)

// stampHandler answers each message with a frame; "old" ones say they
// were made age ago (as a room's frames say when their tick began).
type stampHandler struct {
	BaseHandler
	age time.Duration
}

func (h stampHandler) OnMessage(c *Conn, _ ws.OpCode, payload []byte) {
	f := frame.New(len(payload))
	f.Append(payload...)
	if string(payload) == "old" {
		f.SetMade(frame.Stamp(time.Now().Add(-h.age)))
	}
	PrepareFrame(f, ws.OpBinary)
	_ = c.SendFrame(f, Reliable)
	f.Release()
}

// TestSendWaitCountsMadeFrames: a frame that says when it was made is
// counted in the send wait histogram, with how long it waited before the
// loop wrote it; a frame that does not say is not counted.
func TestSendWaitCountsMadeFrames(t *testing.T) {
	const age = 40 * time.Millisecond
	s := startServer(t, Config{}, func(ts *testServer) { ts.Handle("/stamp", stampHandler{age: age}) })
	c, _, err := gorilla.DefaultDialer.Dial(s.url+"/stamp", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(msg string) {
		t.Helper()
		if err := c.WriteMessage(gorilla.BinaryMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, b, err := c.ReadMessage(); err != nil || string(b) != msg {
			t.Fatalf("read %q, %v; want %q", b, err, msg)
		}
	}
	roundTrip("new")
	if st := s.Stats(); st.SendWait.Count != 0 {
		t.Fatalf("a frame that says nothing of when it was made was counted: %+v", st.SendWait)
	}
	roundTrip("old")
	roundTrip("new")
	w := s.Stats().SendWait
	if w.Count != 1 {
		t.Fatalf("send waits counted %d, want 1 (the made frame's): %+v", w.Count, w)
	}
	if w.Sum < age || w.Sum > 10*time.Second {
		t.Fatalf("wait %v, want at least the frame's age %v", w.Sum, age)
	}
	for i, b := range SendWaitBounds {
		if b < age && w.Counts[i] != 0 {
			t.Fatalf("a wait of %v or more counted at most %v: %+v", age, b, w.Counts)
		}
	}
}

// TestSendWaitBuckets: a wait at a bound counts in that bound's bucket
// (Prometheus' "le"), one just above it in the next, and one past the
// last bound in the overflow.
func TestSendWaitBuckets(t *testing.T) {
	for i, b := range SendWaitBounds {
		var h waitHist
		h.add(b)
		h.add(b + time.Nanosecond)
		var s WaitHistogram
		h.addTo(&s)
		if s.Counts[i] != 1 || s.Counts[i+1] != 1 || s.Count != 2 || s.Sum != 2*b+time.Nanosecond {
			t.Fatalf("waits of %v and just above: %+v", b, s)
		}
	}
}

// TestSendWaitLeavesOutHeldFrames: frames kept back while gnet held a
// connection's bytes waited for its client, not for the loop, and are not
// counted when the flush after the drain writes them; the connection's
// next frames, written at once, are.
func TestSendWaitLeavesOutHeldFrames(t *testing.T) {
	s, fl, l := newFakeServer(Config{})
	c, gc := newFakeConn(s, fl, l, BaseHandler{})
	waits := func() (w WaitHistogram) { // the fake loop is not among the server's
		l.stats.sendWait.addTo(&w)
		return w
	}
	send := func() {
		t.Helper()
		f := frame.New(8)
		f.Append(1, 2, 3)
		f.SetMade(frame.Stamp(time.Now().Add(-time.Second)))
		PrepareFrame(f, ws.OpBinary)
		if err := c.SendFrame(f, Reliable); err != nil {
			t.Fatal(err)
		}
		f.Release()
		fl.runTasks()
	}
	gc.buffered = 100 // the kernel refused bytes: the next frame is kept back
	send()
	if gc.writes != 0 || !c.holding {
		t.Fatalf("writes %d, holding %v: want the frame kept back", gc.writes, c.holding)
	}
	gc.buffered = 0 // drained; the next frame lists the connection again
	send()
	if gc.writes != 1 || c.holding {
		t.Fatalf("writes %d, holding %v: want the kept frame and the new one written", gc.writes, c.holding)
	}
	if n := waits().Count; n != 0 {
		t.Fatalf("a flush that began with kept-back frames counted %d waits, want 0", n)
	}
	send()
	if w := waits(); w.Count != 1 || w.Sum < time.Second {
		t.Fatalf("the next flush: %+v, want one wait of a second or more", w)
	}
}

// BenchmarkNoteWait is what the send wait costs a write that carries a
// room's frame: finding its stamp and counting it (the clock is read once
// for flushClockEvery connections, not here).
func BenchmarkNoteWait(b *testing.B) {
	l := &loop{}
	f := frame.New(8)
	f.SetMade(frame.Stamp(time.Now()))
	defer f.Release()
	items := []*frame.Frame{f}
	l.flushNow = frame.Stamp(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		l.noteWait(items)
	}
}
