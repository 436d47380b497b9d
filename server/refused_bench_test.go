package server

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/tickroom/tickroom/internal/frame"
)

// BenchmarkRefusedFrame measures what a frame costs the server when the
// kernel refuses it: one 4 KiB frame broadcast to 32 real loopback
// connections that never read, whose socket buffers are already full.
// One op is one broadcast and the flush of every recipient on its loop;
// B/op divided by 32 is the memory each non-reader adds per frame, and
// heap-MiB is the live heap left when the run ends.
func BenchmarkRefusedFrame(b *testing.B) {
	const (
		recipients = 32
		size       = 4 << 10
	)
	s := startServer(b, Config{
		Loops: 1, MessageRate: 1 << 20, HardCap: 1 << 40, ReliableBudget: 1 << 39,
		MaxOutboundBytes: 1 << 41, SlowDeadline: time.Hour, IdleTimeout: time.Hour, PingInterval: time.Hour,
	})
	to := make([]*Conn, recipients)
	for i := range to {
		rc := dialWS(b, s, "/rec")
		_ = rc.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
		_ = rc.nc.SetDeadline(time.Time{})
		to[i] = s.rec.waitOpened(b)
	}
	// settled waits until the loop has run everything submitted so far:
	// the flush tasks the broadcast submitted run first.
	done := make(chan struct{})
	settle := gnet.RunnableFunc(func(context.Context) error { done <- struct{}{}; return nil })
	settled := func() {
		if err := to[0].loop.el.Execute(context.Background(), settle); err != nil {
			b.Fatal(err)
		}
		<-done
	}
	fill := frame.New(64 << 10)
	fill.Append(make([]byte, 64<<10)...)
	PrepareFrame(fill, ws.OpBinary)
	defer fill.Release()
	// Fill the kernel's buffers until gnet holds bytes for every recipient.
	for full := false; !full; {
		s.Broadcast(fill, to, Reliable)
		settled()
		full = true
		for _, c := range to {
			full = full && c.outBytes.Load() > 0
		}
	}
	f := frame.New(size)
	f.Append(make([]byte, size)...)
	PrepareFrame(f, ws.OpBinary)
	defer f.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Broadcast(f, to, Reliable)
		settled()
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/recipients, "ns/recipient")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
}
