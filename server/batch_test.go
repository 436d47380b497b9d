package server

import (
	"fmt"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/internal/frame"
)

// A broadcast to many connections wakes each event loop once, however
// fast the loop runs the first flush task, and every recipient gets every
// frame in order.
func TestBroadcastWakesEachLoopOnce(t *testing.T) {
	const loops, clients, frames = 2, 40, 5
	s := startServer(t, Config{Loops: loops})
	var conns []*Conn
	var dialed []*gorilla.Conn
	for range clients {
		c, _, err := gorilla.DefaultDialer.Dial(s.url+"/rec", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		dialed = append(dialed, c)
		conns = append(conns, s.rec.waitOpened(t))
	}
	w0 := s.Stats().Wakeups
	for i := range frames {
		f := frame.New(8)
		f.Append([]byte(fmt.Sprintf("frame %d", i))...)
		s.BroadcastMessage(f, conns, Reliable)
		f.Release()
		// Each broadcast's flushes run before the next one queues, as
		// a room's ticks do.
		waitFor(t, func() bool { return s.OutboundBytes() == 0 })
	}
	for i, c := range dialed {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for j := range frames {
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("client %d, frame %d: %v", i, j, err)
			}
			if want := fmt.Sprintf("frame %d", j); string(p) != want {
				t.Fatalf("client %d got %q, want %q", i, p, want)
			}
		}
	}
	if got := s.Stats().Wakeups - w0; got > frames*loops {
		t.Fatalf("%d loop wake-ups for %d broadcasts on %d loops, want at most %d", got, frames, loops, frames*loops)
	}
}
