package game

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

type nopClient struct{}

func (nopClient) Congested() bool { return false }

// BenchmarkEmptyRoomTick is one tick of a room with no members.
func BenchmarkEmptyRoomTick(b *testing.B) {
	rt, clock := newIdleRuntime(b, 1)
	r, err := rt.CreateRoom(RoomOptions{Game: "idle"})
	if err != nil {
		b.Fatal(err)
	}
	now := clock.Now()
	b.ReportAllocs()
	for b.Loop() {
		r.step(now) // a fixed time: the empty timeout never fires
	}
	if r.w.disposed {
		b.Fatal("room disposed")
	}
}

// BenchmarkIdleMemberTick is one tick of a room with one connected member
// and an unchanged state: encode, compare, send nothing.
func BenchmarkIdleMemberTick(b *testing.B) {
	rt, clock := newIdleRuntime(b, 1)
	r, err := rt.CreateRoom(RoomOptions{Game: "idle"})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Join(JoinRequest{UserID: "u", Client: nopClient{}}, nil); err != nil {
		b.Fatal(err)
	}
	now := clock.Now()
	r.step(now)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(r.period)
		r.step(now)
	}
}

// BenchmarkDeltaEncode diffs two states of n entities (a quarter of them
// changed) and encodes the delta into a frame.
func BenchmarkDeltaEncode(b *testing.B) {
	for _, n := range []int{20, 200} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			snaps := [2]*snap{{}, {}}
			var data [24]byte
			fill := func(s *snap, tick uint64) {
				s.reset(tick)
				w := Snapshot{s: s}
				for id := range n {
					binary.LittleEndian.PutUint64(data[:], uint64(id))
					if id%4 == 0 {
						binary.LittleEndian.PutUint64(data[8:], tick)
					}
					w.EntityBytes(uint64(id+1), data[:])
				}
				w.GlobalsBytes(data[:8])
				s.seal()
				s.acks = append(s.acks[:0], ack{1, uint32(tick)})
			}
			fill(snaps[0], 1)
			fill(snaps[1], 2)
			var d delta
			var p patcher
			b.ReportAllocs()
			i := 0
			bytes := 0
			for b.Loop() {
				base, cur := snaps[i%2], snaps[(i+1)%2]
				d.diff(base, cur)
				f := encodeState("room-id-0123456", 1, base, cur, &d, &p)
				bytes = len(f.Payload())
				f.Release()
				i++
			}
			b.ReportMetric(float64(bytes), "frame-bytes")
		})
	}
}

// BenchmarkRooms10k runs 10,000 rooms at 30 Hz, each with one connected
// member, on real shard workers for TICKROOM_BENCH_SECONDS (default 10;
// 1 with -short) per iteration, and reports tick lateness percentiles and CPU use. Run it
// with -benchtime=1x.
func BenchmarkRooms10k(b *testing.B) { benchRooms(b, 30, false) }

// BenchmarkRooms10k2Hz is BenchmarkRooms10k with turn-based rooms at
// 2 Hz: what the workers' wake-ups cost when every slot holds a room due.
func BenchmarkRooms10k2Hz(b *testing.B) { benchRooms(b, 2, false) }

// BenchmarkRooms10k2HzSleeping is BenchmarkRooms10k2Hz with a game that
// sleeps between inputs (Sleeper) and one input every 5 s a room, as a
// turn-based match gets a move: what its rooms cost with the ticks
// between moves not run.
func BenchmarkRooms10k2HzSleeping(b *testing.B) { benchRooms(b, 2, true) }

// sleepyGame is idleGame that sleeps between inputs.
type sleepyGame struct{ idleGame }

func (g *sleepyGame) Wake() uint64 { return NeverWake }

// benchRooms runs 10,000 idle rooms of one player at rate Hz on the real
// clock for TICKROOM_BENCH_SECONDS (10) and reports tick lateness, ticks
// a second and the process's CPU; with sleeping, their game sleeps and
// each room gets an input every 5 s.
func benchRooms(b *testing.B, rate int, sleeping bool) {
	secs := 10
	if testing.Short() { // make test's one pass over the benchmarks
		secs = 1
	}
	if v, err := strconv.Atoi(os.Getenv("TICKROOM_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	reg := NewRegistry()
	newGame := func(Setup) (Game, error) { return &idleGame{}, nil }
	if sleeping {
		newGame = func(Setup) (Game, error) { return &sleepyGame{}, nil }
	}
	if err := reg.Register(Definition{Name: "idle", TickRate: rate, New: newGame}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rt, err := NewRuntime(Config{Registry: reg})
		if err != nil {
			b.Fatal(err)
		}
		rooms := make([]*Room, 10_000)
		for i := range rooms {
			r, err := rt.CreateRoom(RoomOptions{Game: "idle"})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Join(JoinRequest{UserID: fmt.Sprint(i), Client: nopClient{}}, nil); err != nil {
				b.Fatal(err)
			}
			rooms[i] = r
		}
		rt.Start()
		time.Sleep(time.Second) // let every room place and settle
		stop, inputs := make(chan struct{}), make(chan int, 1)
		if !sleeping {
			inputs <- 0
		} else {
			go func() {
				// Two rooms a millisecond: each room every 5 s.
				n, seq := 0, uint32(0)
				t := time.NewTicker(time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stop:
						inputs <- n
						return
					case <-t.C:
					}
					for range 2 {
						if n%len(rooms) == 0 {
							seq++
						}
						if rooms[n%len(rooms)].Input(1, seq, []byte{1}) == nil {
							n++
						}
					}
				}
			}()
		}
		before := rt.Stats()
		cpu0 := cpuTime()
		start := time.Now()
		time.Sleep(time.Duration(secs) * time.Second)
		wall := time.Since(start)
		cpu := cpuTime() - cpu0
		after := rt.Stats()
		close(stop)
		sent := <-inputs // after stop, or 0 without sleeping
		if err := rt.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		var late Histogram
		late = after.Total.Lateness
		for i := range late.Counts {
			late.Counts[i] -= before.Total.Lateness.Counts[i]
		}
		late.Count -= before.Total.Lateness.Count
		ticks := after.Total.Ticks - before.Total.Ticks
		b.ReportMetric(float64(late.Quantile(0.5).Microseconds()), "p50-late-µs")
		b.ReportMetric(float64(late.Quantile(0.99).Microseconds()), "p99-late-µs")
		b.ReportMetric(float64(ticks)/wall.Seconds(), "ticks/s")
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
		b.ReportMetric(float64(cpu.Microseconds())/float64(max(ticks, 1)), "cpu-µs/tick")
		b.ReportMetric(float64(after.Total.Overruns-before.Total.Overruns), "overruns")
		if sleeping {
			b.ReportMetric(float64(sent)/wall.Seconds(), "inputs/s")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOldBases serves every old base a ring of 16 holds in one tick,
// newest first, as a tick does for members lagging by 2 to 15 states:
// 1,000 entities of which 10 move every tick.
func BenchmarkOldBases(b *testing.B) {
	tr := newTrack(16)
	var d delta
	for tick := uint64(1); tick <= 40; tick++ {
		cur := tr.next(tick)
		w := Snapshot{s: cur}
		for id := range uint64(1000) {
			moved := uint64(0)
			if id < 10 {
				moved = tick
			}
			w.EntityBytes(id, entityBytes(id, moved))
		}
		cur.seal()
		if p := tr.prev(); p != nil {
			d.diff(p, cur)
			tr.record(&d)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		tr.memoOK = false // a new tick
		for age := uint64(2); age <= 15; age++ {
			d.diff(tr.at(40-age), tr.cur())
		}
	}
}

// BenchmarkRoomInput is one input queued on a room of a runtime on the
// system clock, as the hub queues each (its rate bucket reads the clock);
// the inbox is emptied, outside the timer, every 200.
func BenchmarkRoomInput(b *testing.B) {
	reg := NewRegistry()
	if err := reg.Register(Definition{Name: "idle", TickRate: 30, InputRate: 1 << 30, New: func(Setup) (Game, error) { return &idleGame{}, nil }}); err != nil {
		b.Fatal(err)
	}
	rt, err := NewRuntime(Config{Registry: reg, Shards: 1, InboxSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	r, err := rt.CreateRoom(RoomOptions{Game: "idle"})
	if err != nil {
		b.Fatal(err)
	}
	var seat uint32
	if err := r.Join(JoinRequest{UserID: "u", Client: nopClient{}}, func(res JoinResult) { seat = res.Seat }); err != nil {
		b.Fatal(err)
	}
	r.step(time.Now())
	if seat == 0 {
		b.Fatal("join not confirmed")
	}
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := r.Input(seat, 0, data); err != nil {
			b.Fatal(err)
		}
		if i++; i%200 == 0 {
			b.StopTimer()
			r.mu.Lock()
			r.inbox, r.inboxBuf = r.inbox[:0], r.inboxBuf[:0]
			r.mu.Unlock()
			b.StartTimer()
		}
	}
}
