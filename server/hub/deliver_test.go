package hub

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
)

// BenchmarkDeliverState measures the hub's share of a room's state fan-out:
// one 200-byte frame handed to 20 connected sessions (an arena room) per
// op, written by the transport with one task per event loop. Clients read
// and discard raw bytes on loopback, so allocations counted are the
// server's.
func BenchmarkDeliverState(b *testing.B) {
	const members = 20
	a, _ := auth.New(auth.Config{Keys: []auth.Key{{ID: "b", Secret: bytes.Repeat([]byte{1}, 32)}}})
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 2, HighWater: 64 << 20, ReliableBudget: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(Config{Server: srv, Auth: a})
	if err != nil {
		b.Fatal(err)
	}
	srv.Handle(Path, h)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	}()
	for i := range members {
		now := time.Now()
		tok, _ := a.Issue(auth.Claims{UserID: string(rune('a' + i)), Name: "n", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		c, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+Path+"?token="+tok, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		// Discard raw bytes: the client's decoding would otherwise show
		// up in this process's allocation count.
		go func() { _, _ = io.Copy(io.Discard, c.UnderlyingConn()) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	var to []game.Client
	for len(to) < members && time.Now().Before(deadline) {
		to = to[:0]
		for _, s := range h.reg.All() {
			to = append(to, s)
		}
		time.Sleep(time.Millisecond)
	}
	payload := bytes.Repeat([]byte{0x12}, 200)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload) * members))
	for b.Loop() {
		f := frame.New(len(payload))
		f.Append(payload...)
		h.Deliver(f, to, false)
		f.Release()
	}
}
