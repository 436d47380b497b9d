package hub

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
)

// TestDeliverKeepsWhatTheRoomSent: a room reads Congested for each member
// at the start of its tick and hands the frame to the transport later (the
// frame is queued by the member's event loop after that). A connection that
// became congested in between (other frames queued for it, or the process
// over its outbound budget) used to have the state frame skipped by the
// transport, while the room counted it as sent: every later delta then
// built on a tick the client never had, and the client froze until it
// reconnected. Deliver now queues every state frame it is handed, since
// the room already skipped the congested members.
func TestDeliverKeepsWhatTheRoomSent(t *testing.T) {
	a, _ := auth.New(auth.Config{Keys: []auth.Key{{ID: "b", Secret: bytes.Repeat([]byte{1}, 32)}}})
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 1, HighWater: 16 << 10, ReliableBudget: 32 << 20, SlowDeadline: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Server: srv, Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(Path, h)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	now := time.Now()
	tok, _ := a.Issue(auth.Claims{UserID: "u1", Name: "player", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+Path+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var s *Session
	for deadline := time.Now().Add(5 * time.Second); s == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for _, x := range h.reg.All() {
			s = x
		}
	}
	if s == nil {
		t.Fatal("no session")
	}
	// The client reads nothing yet: fill the kernel's buffers and then
	// the transport's queue until the connection stays congested.
	filler := make([]byte, 32<<10)
	sent := 0
	for deadline := time.Now().Add(20 * time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatal("connection never congested")
		}
		if s.Congested() {
			time.Sleep(50 * time.Millisecond) // the loop flushes what it can
			if s.Congested() {
				break
			}
		}
		if err := s.conn.Send(ws.OpBinary, filler); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	// The room decided before the connection congested: the frame is the
	// member's next state.
	mark := []byte("state frame the room counted as sent")
	f := frame.New(len(mark))
	f.Append(mark...)
	h.Deliver(f, []game.Client{s}, false)
	f.Release()

	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	fillers := 0
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d fillers, the state frame never came: %v", fillers, sent, err)
		}
		if bytes.Equal(msg, mark) {
			break
		}
		if len(msg) == len(filler) {
			fillers++
		}
	}
	if fillers != sent {
		t.Fatalf("state frame after %d fillers, want after all %d", fillers, sent)
	}
}
