package arena_test

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkArenaTickDisturbed is one default arena room of ten, half its
// players steering each tick (inputs at 10 Hz in a 20 Hz room), with other
// work between its ticks as a server's event loop does between a room's:
// none ("quiet"), 1 MiB of other memory touched ("cache-1MiB"), twenty
// 64-byte writes to a loopback socket ("writes-20"), or both; or 64 MiB
// touched, more than this machine's L2 caches hold, so that a tick starts
// with none of its room in them ("cache-64MiB"), with the writes or not.
// ns/tick times the ticks alone. Under tickroom-bots a room tick costs
// several times its quiet figure (BENCHMARKS.md, "What a tick costs under
// load"); this tells how much of that the caches and the kernel's socket
// work between ticks explain. The 64 MiB modes take ~3 ms an op.
func BenchmarkArenaTickDisturbed(b *testing.B) {
	for _, mode := range []struct {
		name   string
		evict  int
		writes int
	}{{"quiet", 0, 0}, {"cache-1MiB", 1 << 20, 0}, {"writes-20", 0, 20}, {"writes-20+cache-1MiB", 1 << 20, 20},
		{"cache-64MiB", 64 << 20, 0}, {"writes-20+cache-64MiB", 64 << 20, 20}} {
		b.Run(mode.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					_, _ = io.Copy(io.Discard, c)
					_ = c.Close()
				}
			}()
			sock, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer sock.Close()
			other, msg := make([]byte, mode.evict), make([]byte, 64)
			rt, r := newBenchRoom(b, 10, map[string]string{"seed": "1"})
			inputs := [][]byte{steer(1000, 0), steer(0, 1000), steer(-1000, 0), steer(0, -1000)}
			var ticks time.Duration
			seq := uint32(0)
			for b.Loop() {
				seq++
				for s := range uint32(10) {
					if (s+seq)%2 == 0 {
						_ = r.Input(s+1, seq, inputs[(seq/20+s)%4])
					}
				}
				for range mode.writes {
					if _, err := sock.Write(msg); err != nil {
						b.Fatal(err)
					}
				}
				for i := 0; i < len(other); i += 64 {
					other[i]++
				}
				t0 := time.Now()
				_ = rt.Advance(50 * time.Millisecond)
				ticks += time.Since(t0)
			}
			b.ReportMetric(float64(ticks.Nanoseconds())/float64(b.N), "ns/tick")
		})
	}
}
