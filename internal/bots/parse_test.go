package bots

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// parseBot is a bot with a loop but no socket, for feeding bytes.
func parseBot() *bot {
	e := &engine{}
	l := &loop{e: e, st: new(loopStats), rng: 1, epfd: -1, evfd: -1}
	return &bot{e: e, l: l, fd: 1 << 30, phase: phaseOpen, seat: 2, joined: true, seq: 50, acked: 40, ackSeq: 40}
}

// stream is a server's byte stream: a Welcome, states (one fragmented)
// acknowledging seat 2's inputs 41..50, and a Pong.
func stream(t testing.TB) []byte {
	var out bytes.Buffer
	welcome, _ := (&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Welcome{Welcome: &tickroomv1.Welcome{HeartbeatIntervalMs: 7000}}}).MarshalVT()
	out.Write(serverFrame(ws.OpBinary, true, welcome))
	for i := range uint64(10) {
		// Seat 2's ack rises by one each state; seat 1's jumps.
		p := stateMsg(t, &tickroomv1.State{Tick: 100 + i, BaseTick: 99 + i,
			Patch: patch(bytes.Repeat([]byte{'x'}, int(i*40)), []uint32{2}, [2]uint64{1, 9})})
		if i == 5 {
			out.Write(serverFrame(ws.OpBinary, false, p[:3]))
			out.Write(serverFrame(ws.OpContinuation, false, p[3:7]))
			out.Write(serverFrame(ws.OpContinuation, true, p[7:]))
			continue
		}
		out.Write(serverFrame(ws.OpBinary, true, p))
	}
	pong, _ := (&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Pong{Pong: &tickroomv1.Pong{}}}).MarshalVT()
	out.Write(serverFrame(ws.OpBinary, true, pong))
	return out.Bytes()
}

func TestFeedInChunks(t *testing.T) {
	data := stream(t)
	for _, chunk := range []int{1, 2, 3, 7, 64, len(data)} {
		t.Run(fmt.Sprintf("chunk %d", chunk), func(t *testing.T) {
			b := parseBot()
			b.lastTick = 99
			for p := data; len(p) > 0; {
				n := min(chunk, len(p))
				b.feed(p[:n])
				p = p[n:]
			}
			st := b.l.st
			if got := st.c[cSnapshots].Load(); got != 10 {
				t.Fatalf("snapshots %d, want 10", got)
			}
			if got := st.c[cMessages].Load(); got != 12 {
				t.Fatalf("messages %d, want 12", got)
			}
			if got := st.c[cAcked].Load(); got != 10 || b.acked != 50 {
				t.Fatalf("acked %d (last %d), want 10 up to 50", got, b.acked)
			}
			if st.c[cBaseMismatch].Load() != 0 || st.c[cTickGaps].Load() != 0 || b.lastTick != 109 {
				t.Fatalf("mismatches %d gaps %d last tick %d", st.c[cBaseMismatch].Load(), st.c[cTickGaps].Load(), b.lastTick)
			}
			if b.heartbeat != 7e9 || len(b.in) != 0 || b.fd < 0 {
				t.Fatalf("heartbeat %d, %d bytes left over, fd %d", b.heartbeat, len(b.in), b.fd)
			}
		})
	}
}

func FuzzFeed(f *testing.F) {
	f.Add(stream(f), uint8(3))
	f.Add([]byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(1))
	f.Add([]byte{0x80, 0x01, 0x00}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		b := parseBot()
		b.phase = phaseOpen
		b.l.wbuf = nil
		n := int(chunk%64) + 1
		for p := data; len(p) > 0 && b.fd >= 0; {
			k := min(n, len(p))
			b.feed(p[:k])
			p = p[k:]
			if len(b.in) > maxMessage+16 {
				t.Fatalf("buffered %d bytes", len(b.in))
			}
		}
	})
}

func TestCheckUpgrade(t *testing.T) {
	e := &engine{}
	e.nodes.add(&node{wsURL: "ws://127.0.0.1:1/v1/ws", host: "127.0.0.1:1", path: "/v1/ws"})
	b := parseBot()
	req := string(e.upgradeRequest(b))
	if !strings.HasPrefix(req, "GET /v1/ws?token=&protocol_version=2 HTTP/1.1\r\n") || !strings.Contains(req, "Sec-WebSocket-Key: "+b.key+"\r\n") {
		t.Fatalf("request:\n%s", req)
	}
	accept := func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			acceptFor(key) + "\r\nSec-WebSocket-Protocol: tickroom.v1\r\n\r\n"
	}
	for _, tc := range []struct {
		name string
		resp string
		n    int
		err  string
	}{
		{"complete with a frame after", accept(b.key) + "\x82\x00", len(accept(b.key)), ""},
		{"incomplete", accept(b.key)[:40], 0, ""},
		{"401", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", 0, "http 401"},
		{"wrong accept", accept("other"), 0, "Sec-WebSocket-Accept"},
		{"garbage", "SSH-2.0\r\n\r\n", 0, "status line"},
		{"endless header", strings.Repeat("x", maxResponseHeader+1), 0, "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e.checkUpgrade(b, []byte(tc.resp))
			if n != tc.n || (err == nil) != (tc.err == "") || err != nil && (!strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrHandshake)) {
				t.Fatalf("n %d err %v; want %d, %q", n, err, tc.n, tc.err)
			}
		})
	}
}

func acceptFor(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func osPid() int { return os.Getpid() }

func testClient() *http.Client { return &http.Client{Timeout: time.Second} }

func TestParseProm(t *testing.T) {
	text := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_resident_memory_bytes 1.048576e+08
# TYPE tickroom_tick_lateness_seconds histogram
tickroom_tick_lateness_seconds_bucket{shard="0",le="0.001"} 90
tickroom_tick_lateness_seconds_bucket{shard="0",le="0.01"} 99
tickroom_tick_lateness_seconds_bucket{shard="0",le="+Inf"} 100
tickroom_tick_lateness_seconds_sum{shard="0"} 0.2
tickroom_tick_lateness_seconds_count{shard="0"} 100
tickroom_tick_lateness_seconds_bucket{shard="1",le="0.001"} 100
tickroom_tick_lateness_seconds_bucket{shard="1",le="0.01"} 100
tickroom_tick_lateness_seconds_bucket{shard="1",le="+Inf"} 100
tickroom_tick_lateness_seconds_sum{shard="1"} 0.05
tickroom_tick_lateness_seconds_count{shard="1"} 100
# TYPE tickroom_send_wait_seconds histogram
tickroom_send_wait_seconds_bucket{le="0.001"} 30
tickroom_send_wait_seconds_bucket{le="0.05"} 39
tickroom_send_wait_seconds_bucket{le="+Inf"} 40
tickroom_send_wait_seconds_sum 0.5
tickroom_send_wait_seconds_count 40
`
	ss, ok := parseProm(strings.NewReader(text))
	if !ok || ss.cpu != 12.5 || ss.rss != 104857600 {
		t.Fatalf("cpu %v rss %v ok %v", ss.cpu, ss.rss, ok)
	}
	l := ss.late
	if l.name != "tickroom_tick_lateness_seconds" || l.count != 200 || math.Abs(l.sum-0.25) > 1e-9 || len(l.bounds) != 3 {
		t.Fatalf("lateness %+v", l)
	}
	if q := l.quantile(promHist{}, 0.5); q != 0.001 {
		t.Fatalf("p50 %v, want 0.001", q)
	}
	if q := l.quantile(promHist{}, 0.999); !math.IsInf(q, 1) {
		t.Fatalf("p99.9 %v, want +Inf", q)
	}
	if top, share := l.aboveTop(promHist{}); top != 0.01 || share != 0.005 {
		t.Fatalf("above top: %v, %v; want 0.01, 0.005", top, share)
	}
	w := ss.send
	if w.name != "tickroom_send_wait_seconds" || w.count != 40 || w.sum != 0.5 || len(w.bounds) != 3 {
		t.Fatalf("send wait %+v", w)
	}
	if q := w.quantile(promHist{}, 0.9); q != 0.05 {
		t.Fatalf("send wait p90 %v, want 0.05", q)
	}
	if l.count != 200 {
		t.Fatalf("the send wait's lines were counted as lateness: %+v", l)
	}
	if _, ok := parseProm(strings.NewReader("go_goroutines 5\n")); ok {
		t.Fatal("a page without process metrics parsed as a sample")
	}
}

// TestSamplerKeepsHistogramsWithProc: a /metrics page without the process
// collector still gives the tick lateness and the send wait, beside CPU and
// RSS from /proc.
func TestSamplerKeepsHistogramsWithProc(t *testing.T) {
	page := `tickroom_tick_lateness_seconds_bucket{le="0.001"} 5
tickroom_tick_lateness_seconds_bucket{le="+Inf"} 5
tickroom_tick_lateness_seconds_count 5
tickroom_send_wait_seconds_bucket{le="0.001"} 7
tickroom_send_wait_seconds_bucket{le="+Inf"} 8
tickroom_send_wait_seconds_sum 0.25
tickroom_send_wait_seconds_count 8
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, page) }))
	defer srv.Close()
	s := sampler{url: srv.URL, pid: osPid(), client: testClient()}
	ss, err := s.sample(context.Background(), func() int64 { return 1 })
	if err != nil || ss.source != "proc+metrics" || ss.rss <= 0 {
		t.Fatalf("sample %+v err %v; want CPU and RSS from /proc", ss, err)
	}
	if ss.late.count != 5 || ss.send.name != "tickroom_send_wait_seconds" || ss.send.count != 8 || ss.send.sum != 0.25 {
		t.Fatalf("histograms lost: lateness %+v, send wait %+v", ss.late, ss.send)
	}
}

func TestSamplerFallsBackToProc(t *testing.T) {
	s := sampler{url: "http://127.0.0.1:1/metrics", pid: osPid(), client: testClient()}
	ss, err := s.sample(context.Background(), func() int64 { return 1 })
	if err != nil || ss.source != "proc" || ss.rss <= 0 || ss.cpu < 0 {
		t.Fatalf("sample %+v err %v; want a /proc reading", ss, err)
	}
}

// BenchmarkFeedState is a bot receiving one 20-player arena-sized delta
// that acknowledges its input: frame parsing, state scanning and the
// latency record.
func BenchmarkFeedState(b *testing.B) {
	var up []uint32
	for i := range 20 {
		up = append(up, uint32(i+1))
	}
	st := &tickroomv1.State{RoomRef: 12, Tick: 1000, BaseTick: 999, Patch: patch(bytes.Repeat([]byte{'p'}, 60), up)}
	frame := serverFrame(ws.OpBinary, true, stateMsg(b, st))
	bt := parseBot()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		bt.lastTick, bt.acked, bt.ackSeq, bt.seq = 999, 0, 6, 7
		bt.feed(frame)
	}
}

// BenchmarkInputFrame is building one masked arena input frame.
func BenchmarkInputFrame(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var data [16]byte
		var msg [128]byte
		p := appendInput(msg[:0], 0, "room-0123456789", uint32(i), appendArenaInput(data[:0], 500, -500))
		buf = appendFrame(buf[:0], ws.OpBinary, p, uint32(i))
	}
}

// BenchmarkSchedulePass is one schedule pass over a loop of 12,500 joined
// bots that move every 5 s and ping every 10 s, none of them due: the pass a
// loop makes every millisecond between their sends.
func BenchmarkSchedulePass(b *testing.B) {
	e := &engine{cfg: Config{InputHz: 0.2}}
	l := &loop{e: e, st: new(loopStats), rng: 1, epfd: -1, evfd: -1}
	now := time.Now().UnixNano()
	for i := range 12500 {
		bt := &bot{e: e, l: l, fd: 1 << 30, phase: phaseOpen, joined: true, heartbeat: 10e9,
			nextPing: now + 10e9, nextInput: now + 1e9 + int64(i)*300e3}
		l.join(bt)
	}
	l.schedule(now) // every bot starts due once
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l.schedule(now + 1e6)
	}
}
