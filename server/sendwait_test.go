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
		f.SetMade(time.Now().Add(-h.age).UnixNano())
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

// BenchmarkNoteWait is what the send wait costs a write that carries a
// room's frame: finding its stamp and counting it (the clock is read once
// for flushClockEvery connections, not here).
func BenchmarkNoteWait(b *testing.B) {
	l := &loop{}
	f := frame.New(8)
	f.SetMade(time.Now().UnixNano())
	defer f.Release()
	items := []*frame.Frame{f}
	l.flushNow = time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		l.noteWait(items)
	}
}
