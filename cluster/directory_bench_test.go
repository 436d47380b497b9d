package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/internal/redistest"
)

// BenchmarkDirectorySync is one directory sync over a node's rooms when
// none changed since the last one: the cost every SyncInterval of rooms
// that are idle or full (no refresh due). ns/room is that cost per room.
func BenchmarkDirectorySync(b *testing.B) {
	rs := redistest.Start(b)
	for _, rooms := range []int{1000, 8000} {
		b.Run(fmt.Sprintf("rooms=%d", rooms), func(b *testing.B) {
			n := startNode(b, rs, fmt.Sprint("bench", rooms))
			reg := game.NewRegistry()
			if err := reg.Register(gomoku.Definition()); err != nil {
				b.Fatal(err)
			}
			rt, err := game.NewRuntime(game.Config{Registry: reg, Shards: 1})
			if err != nil {
				b.Fatal(err)
			}
			rt.Start()
			b.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
			// Not started: the benchmark runs the syncs.
			d, err := NewDirectory(DirectoryConfig{Node: n, Runtime: rt, RefreshInterval: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = d.Close(context.Background()) })
			ctx := context.Background()
			for range rooms {
				r, err := rt.CreateRoom(game.RoomOptions{Game: "gomoku"})
				if err != nil {
					b.Fatal(err)
				}
				if err := d.Publish(ctx, r, "p"); err != nil {
					b.Fatal(err)
				}
			}
			if err := d.sync(ctx, false); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := d.sync(ctx, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rooms), "ns/room")
		})
	}
}
