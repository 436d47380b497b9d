package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/internal/frame"
)

// BenchmarkReadFrame measures the read path for one 100-byte binary frame
// already in the buffer: header parse, checks, in-place unmask and dispatch
// to the handler. No sockets are involved. The clock is not read per frame:
// OnTraffic reads it once per read, whatever the frames in it, and on this
// VM a time.Now costs more than the frame (~40-60 ns); the time given
// advances 1 µs a frame, within MessageRate, so no frame is over the rate.
func BenchmarkReadFrame(b *testing.B) {
	s, _, l := newFakeServer(Config{MessageRate: 1 << 20})
	c, _ := newFakeConn(s, nil, l, BaseHandler{})
	buf := maskedFrame(0x82, bytes.Repeat([]byte{0xab}, 100))
	now := time.Now().UnixNano()
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Unmasking is an XOR, so the frame alternates between masked and
		// unmasked; the handler ignores the payload.
		now += int64(time.Microsecond)
		if n := c.readFrames(buf, now); n != len(buf) {
			b.Fatalf("used %d of %d", n, len(buf))
		}
	}
}

// BenchmarkBroadcastQueue measures the transport's own cost of
// broadcasting one prepared 100-byte frame to 1,000 connections on two
// loops: queueing on each recipient and the loops' flush tasks (one Writev
// per recipient), with the socket writes themselves faked out.
func BenchmarkBroadcastQueue(b *testing.B) {
	s, _, _ := newFakeServer(Config{})
	fls := []*fakeLoop{{}, {}}
	loops := []*loop{newLoop(s, fls[0]), newLoop(s, fls[1])}
	to := make([]*Conn, 1000)
	for i := range to {
		to[i], _ = newFakeConn(s, nil, loops[i%2], BaseHandler{})
	}
	f := frame.New(100)
	f.Append(bytes.Repeat([]byte{1}, 100)...)
	PrepareFrame(f, ws.OpBinary)
	defer f.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Broadcast(f, to, Droppable)
		for _, fl := range fls {
			fl.runTasks()
		}
		// A loop polls between two broadcasts' tasks: each is a round of
		// its own. Back to back, fake flushes would share one round's
		// budget and carry the rest over (runFlushTask).
		for _, l := range loops {
			l.taskEnded = 0
		}
	}
	b.StopTimer()
	if f.Refs() != 1 {
		b.Fatalf("frame refs %d after the flushes, want 1", f.Refs())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/recipient")
}

// countWriter counts bytes read by a client.
type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// BenchmarkBroadcast1000 broadcasts one prepared 100-byte frame to 1,000
// real loopback connections and counts until every client has read it.
func BenchmarkBroadcast1000(b *testing.B) {
	const n = 1000
	s := startServer(b, Config{Loops: 2, MessageRate: 1 << 20, MaxConnsPerIP: 2 * n})
	to := make([]*Conn, n)
	var received atomic.Int64
	for i := range to {
		rc := dialWS(b, s, "/rec")
		_ = rc.nc.SetDeadline(time.Time{})
		to[i] = s.rec.waitOpened(b)
		go func(nc net.Conn) { _, _ = io.Copy(countWriter{&received}, nc) }(rc.nc)
	}
	f := frame.New(100)
	f.Append(bytes.Repeat([]byte{1}, 100)...)
	PrepareFrame(f, ws.OpBinary)
	defer f.Release()
	per := int64(len(f.Wire())) * n
	var sent int64
	// inflight bounds the broadcasts not yet read by every client. With a
	// few in flight a connection's flush writes at most a handful of
	// frames; with many, x/sys's Writev builds its iovec array on the heap
	// (more than 8 slices).
	for _, inflight := range []int64{4, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s.Broadcast(f, to, Reliable)
				sent += per
				for sent-received.Load() > inflight*per {
					time.Sleep(20 * time.Microsecond)
				}
			}
			for received.Load() < sent {
				time.Sleep(20 * time.Microsecond)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/recipient")
		})
	}
}

// BenchmarkEchoRoundTrip sends a 100-byte binary message from a gorilla
// client to /echo and reads the echo back.
func BenchmarkEchoRoundTrip(b *testing.B) {
	s := startServer(b, Config{Loops: 1, MessageRate: 1 << 20})
	c, _, err := gorilla.DefaultDialer.Dial(s.url+"/echo", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte{7}, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.WriteMessage(gorilla.BinaryMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEchoRoundTripRaw is BenchmarkEchoRoundTrip with an allocation-free
// raw client, so the allocations reported are the server's.
func BenchmarkEchoRoundTripRaw(b *testing.B) {
	s := startServer(b, Config{Loops: 1, MessageRate: 1 << 20})
	rc := dialWS(b, s, "/echo")
	_ = rc.nc.SetDeadline(time.Time{})
	out := maskedFrame(0x82, bytes.Repeat([]byte{7}, 100))
	in := make([]byte, 2+100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := rc.nc.Write(out); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(rc.nc, in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if in[0] != 0x82 || in[1] != 100 {
		b.Fatalf("echo header %x", in[:2])
	}
}
