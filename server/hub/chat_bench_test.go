package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
)

// BenchmarkChannelChat measures lobby channel lines fanned out to every
// subscriber over loopback: b.N lines are sent back to back and the op
// ends when every subscriber has read them all, so ns/op is the cost of
// one line's fan-out at throughput. allocs/op counts the whole process,
// the test clients' reads included.
func BenchmarkChannelChat(b *testing.B) {
	for _, members := range []int{8, 64} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			a, _ := auth.New(auth.Config{Keys: []auth.Key{{ID: "b", Secret: bytes.Repeat([]byte{3}, 32)}}})
			srv, _ := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 2, MessageRate: 1 << 20})
			h, err := hub.New(hub.Config{Server: srv, Auth: a, Social: hub.SocialConfig{ChatRate: 1 << 30, ChatBurst: 1 << 30, ChannelLineRate: math.Inf(1)}})
			if err != nil {
				b.Fatal(err)
			}
			srv.Handle(hub.Path, h)
			h.Start()
			if err := srv.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = h.Shutdown(ctx)
				_ = srv.Shutdown(ctx)
			}()
			url := "ws://" + srv.Addr().String() + hub.Path
			var got atomic.Int64
			conns := make([]*websocket.Conn, members)
			for i := range conns {
				now := time.Now()
				tok, _ := a.Issue(auth.Claims{UserID: fmt.Sprint("u", i), Name: "n", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
				c, _, err := websocket.DefaultDialer.Dial(url+"?token="+tok, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				conns[i] = c
				m := &tickroomv1.ClientMessage{RequestId: 1, Body: &tickroomv1.ClientMessage_JoinChannel{JoinChannel: &tickroomv1.JoinChannel{Channel: "bench"}}}
				p, _ := m.MarshalVT()
				_ = c.WriteMessage(websocket.BinaryMessage, p)
				for {
					_, p, err := c.ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					var sm tickroomv1.ServerMessage
					if sm.UnmarshalVT(p) == nil && sm.GetChatHistory() != nil {
						break
					}
				}
				go func() {
					for {
						_, p, err := c.ReadMessage()
						if err != nil {
							return
						}
						if len(p) > 0 && p[0] == 0x5a { // field 11 (chat), bytes
							got.Add(1)
						}
					}
				}()
			}
			line, _ := (&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "bench", Text: "a line of chat of a usual length", ExcludeSender: true}}}).MarshalVT()
			want := int64(members - 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := conns[0].WriteMessage(websocket.BinaryMessage, line); err != nil {
					b.Fatal(err)
				}
			}
			for got.Load() < want*int64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
}
