package hub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/protocol/arenav1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
)

// readersEnv names the WebSocket URL and tokens a child process of this
// test binary dials and reads, discarding, for BenchmarkTickToSocket.
const readersEnv = "TICKROOM_HUB_BENCH_READERS"

// TestMain runs the benchmark's readers when the binary is started as one.
func TestMain(m *testing.M) {
	if v := os.Getenv(readersEnv); v != "" {
		readers(v)
		return
	}
	if os.Getenv(seatersEnv) != "" {
		seaters()
		return
	}
	os.Exit(m.Run())
}

// readers dials every token's connection and discards what arrives, until
// stdin closes.
func readers(spec string) {
	url, toks, _ := strings.Cut(spec, "|")
	for _, tok := range strings.Split(toks, ",") {
		c, _, err := websocket.DefaultDialer.Dial(url+"?token="+tok, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "readers:", err)
			os.Exit(1)
		}
		go func() { _, _ = io.Copy(io.Discard, c.UnderlyingConn()) }()
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// BenchmarkTickToSocket is the whole game path of one arena room of ten
// players, per tick: five inputs queued (ten players at 10 Hz in a 20 Hz
// room), then the tick (inputs, physics, encode, diff, patch, one frame)
// handed to the ten sessions and written by the transport, one writev per
// connection, to loopback sockets read by another process. Ticks run 1 ms
// apart on a ticker (time enough for the loop to write a tick's ten frames
// before the next, as at 20 Hz, so writes are not coalesced across ticks;
// unflushed-ticks counts ticks that found the last one's frames still
// queued, and should be 0). Run it with -benchtime=Nx: ns/op is then about
// 1 ms. cpu-µs/frame is this process's CPU (every goroutine, the loop's
// writev and the kernel's loopback work it is billed for included) per
// delivered frame; allocs/op counts every goroutine's.
func BenchmarkTickToSocket(b *testing.B) {
	const players = 10
	a, _ := auth.New(auth.Config{Keys: []auth.Key{{ID: "b", Secret: bytes.Repeat([]byte{1}, 32)}}})
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 1, HighWater: 64 << 20, ReliableBudget: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	games := game.NewRegistry()
	if err := games.Register(arena.Definition()); err != nil {
		b.Fatal(err)
	}
	clock := game.NewManualClock(time.Unix(1_700_000_000, 0))
	h, err := New(Config{Server: srv, Auth: a, Games: games, Runtime: game.Config{Clock: clock, Shards: 1}})
	if err != nil {
		b.Fatal(err)
	}
	srv.Handle(Path, h)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	h.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	}()
	var toks []string
	for i := range players {
		now := time.Now()
		tok, _ := a.Issue(auth.Claims{UserID: fmt.Sprint("u", i), Name: fmt.Sprint("player", i), IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
		toks = append(toks, tok)
	}
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), readersEnv+"=ws://"+srv.Addr().String()+Path+"|"+strings.Join(toks, ","))
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = child.Wait()
	}()
	var sessions []*Session
	for deadline := time.Now().Add(5 * time.Second); len(sessions) < players && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		sessions = sessions[:0]
		for _, s := range h.reg.All() {
			sessions = append(sessions, s)
		}
	}
	if len(sessions) < players {
		b.Fatalf("%d sessions, want %d", len(sessions), players)
	}
	room, err := h.Runtime().CreateRoom(game.RoomOptions{Game: "arena", MaxPlayers: players, Options: map[string]string{"seed": "1"}})
	if err != nil {
		b.Fatal(err)
	}
	seats := make([]uint32, players)
	for i, s := range sessions {
		if err := room.Join(game.JoinRequest{UserID: fmt.Sprint("u", i), Name: fmt.Sprint("player", i), Client: s}, func(r game.JoinResult) { seats[i] = r.Seat }); err != nil {
			b.Fatal(err)
		}
	}
	if err := h.Runtime().Advance(time.Second); err != nil {
		b.Fatal(err)
	}
	var inputs [16][]byte
	for i := range inputs {
		inputs[i], _ = (&arenav1.Input{Dx: int32(i*137%2001) - 1000, Dy: int32(i*251%2001) - 1000}).MarshalVT()
	}
	seq := make([]uint32, players)
	tick := 0
	pace := time.NewTicker(time.Millisecond)
	defer pace.Stop()
	unflushed := 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	st0 := srv.Stats()
	for b.Loop() {
		<-pace.C
		if srv.OutboundBytes() > 0 {
			unflushed++
		}
		for p := tick % 2; p < players; p += 2 {
			seq[p]++
			_ = room.Input(seats[p], seq[p], inputs[(tick+p)%len(inputs)])
		}
		tick++
		if err := h.Runtime().Advance(50 * time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
	if got, want := srv.Stats().FramesOut, uint64(b.N*players); got < want {
		b.Fatalf("%d frames written, want at least %d", got, want)
	}
	cpu := cpuTime() - cpu0
	st := srv.Stats()
	frames := float64(st.FramesOut - st0.FramesOut)
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*players), "cpu-µs/frame")
	b.ReportMetric(float64(st.Writes-st0.Writes)/frames, "writev/frame")
	b.ReportMetric(float64(st.Wakeups-st0.Wakeups)/frames, "wakeups/frame")
	b.ReportMetric(float64(unflushed), "unflushed-ticks")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
