package arena_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/internal/heapprof"
)

// BenchmarkRoomMemory measures what the game runtime holds for each
// seated player in 20 Hz arena rooms of ten where every player steers
// (inputs at 10 Hz, as tickroom-bots send them), the shape under which the
// server's memory per player is reported: the ring of recent states
// (game.Config.ResumeTicks of them) holding moving players among walls and
// pickups that do not move, the input buffers, the game's own state, the
// members. One tick of a busy machine is simulated too: five ticks'
// inputs drained at once. An op is one tick of every room; after the loop
// (at least ResumeTicks + 4 ticks, so every ring is full) the live heap
// (after GC) over the players is reported as B/player; the runtime's
// transport is nil, so no frame is held. Run it with -benchtime 40x or
// more; TICKROOM_BENCH_HEAPPROFILE=path writes the heap profile taken
// with the figure (run with -memprofilerate=1 for every allocation).
func BenchmarkRoomMemory(b *testing.B) {
	const rooms, size = 100, 10
	reg := game.NewRegistry()
	if err := reg.Register(arena.Definition()); err != nil {
		b.Fatal(err)
	}
	clock := game.NewManualClock(time.Unix(1_700_000_000, 0))
	heap0 := liveHeap()
	rt, err := game.NewRuntime(game.Config{Registry: reg, Clock: clock, Shards: 1, Resolution: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]*game.Room, rooms)
	for i := range rs {
		r, err := rt.CreateRoom(game.RoomOptions{Game: "arena", MaxPlayers: size, TickRate: 20, Options: map[string]string{"seed": fmt.Sprint(i)}})
		if err != nil {
			b.Fatal(err)
		}
		for s := range size {
			if err := r.Join(game.JoinRequest{UserID: fmt.Sprint(i, "-", s), Name: "bot", Client: nopClient{}}, nil); err != nil {
				b.Fatal(err)
			}
		}
		rs[i] = r
	}
	inputs := [][]byte{steer(1000, 0), steer(0, 1000), steer(-1000, 0), steer(0, -1000)}
	seq := uint32(0)
	// queue sends every player's next input (each player every other tick:
	// 10 Hz at 20 Hz) to every room.
	queue := func() {
		seq++
		for i, r := range rs {
			for s := range uint32(size) {
				if (seq+s)%2 == 0 {
					_ = r.Input(s+1, seq, inputs[(seq/10+s+uint32(i))%4])
				}
			}
		}
	}
	tick := func() {
		queue()
		_ = rt.Advance(50 * time.Millisecond)
	}
	tick()
	for range 5 { // a late tick: five ticks' inputs at once
		queue()
	}
	_ = rt.Advance(50 * time.Millisecond)
	b.ReportAllocs()
	ticks := 0
	for b.Loop() {
		tick()
		ticks++
	}
	b.StopTimer()
	for range 24 - ticks { // every ring full
		tick()
	}
	heap := liveHeap()
	heapprof.WriteIfAsked(b)
	runtime.KeepAlive(rs)
	players := rooms * size
	for _, r := range rs {
		if st := r.Stats(); st.Ticks < 20 || st.FramesEncoded < 20 {
			b.Fatalf("room stats %+v", st)
		}
	}
	b.ReportMetric(float64(heap-heap0)/float64(players), "B/player")
	_ = rt.Shutdown(b.Context())
}

// liveHeap returns the bytes of live heap after a full collection.
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
