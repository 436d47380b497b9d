package hub

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/internal/heapprof"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
)

// seatersEnv, set, makes this test binary the child process of
// BenchmarkSeatedMemory: its first stdin line is the WebSocket URL and the
// tokens to log in with; once every connection is open it prints
// "connected", reads a line of room ids (one per connection), sends each
// connection's JoinRoom, then discards what arrives until stdin closes.
const seatersEnv = "TICKROOM_HUB_BENCH_SEATERS"

func seaters() {
	in := bufio.NewReader(os.Stdin)
	spec, err := in.ReadString('\n')
	if err != nil {
		return
	}
	url, toks, _ := strings.Cut(strings.TrimSpace(spec), "|")
	var conns []*websocket.Conn
	for _, tok := range strings.Split(toks, ",") {
		c, _, err := websocket.DefaultDialer.Dial(url+"?token="+tok, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "seaters:", err)
			os.Exit(1)
		}
		conns = append(conns, c)
	}
	fmt.Println("connected")
	rooms, err := in.ReadString('\n')
	if err != nil {
		return
	}
	for i, room := range strings.Split(strings.TrimSpace(rooms), ",") {
		c := conns[i]
		m := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
		p, _ := m.MarshalVT()
		if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
			fmt.Fprintln(os.Stderr, "seaters:", err)
			os.Exit(1)
		}
		go func() { _, _ = io.Copy(io.Discard, c.UnderlyingConn()) }()
	}
	_, _ = io.Copy(io.Discard, in)
}

// BenchmarkSeatedMemory measures what the server holds for each logged-in
// player seated in a 20 Hz arena room of ten: TICKROOM_BENCH_PLAYERS
// (default 2,000) WebSocket clients in a child process log in over
// loopback, join their rooms with JoinRoom, and the rooms run
// game.Config.ResumeTicks + 4 ticks (a keyframe and deltas, every frame
// written), so that each room's ring of recent states is full. The figures are the live
// heap (runtime.MemStats.HeapAlloc after two GCs) plus goroutine stacks,
// divided by the players: B/login for the logged-in connection, B/seat for
// what being seated adds (a tenth of its room included), B/player for both; rss-B/player is the
// process's resident set over the same span (coarser: the heap's free
// pages and the runtime's own). Run it with -benchtime=1x;
// TICKROOM_BENCH_HEAPPROFILE=path writes the heap profile taken with the
// last figure (run with -memprofilerate=1 for every allocation).
func BenchmarkSeatedMemory(b *testing.B) {
	players := 2000
	if v, err := strconv.Atoi(os.Getenv("TICKROOM_BENCH_PLAYERS")); err == nil && v > 0 {
		players = v / 10 * 10
	}
	const roomSize = 10
	a, _ := auth.New(auth.Config{Keys: []auth.Key{{ID: "b", Secret: bytes.Repeat([]byte{1}, 32)}}})
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 2, MaxConns: players + 100, MaxConnsPerIP: players + 100})
	if err != nil {
		b.Fatal(err)
	}
	games := game.NewRegistry()
	if err := games.Register(arena.Definition()); err != nil {
		b.Fatal(err)
	}
	clock := game.NewManualClock(time.Unix(1_700_000_000, 0))
	h, err := New(Config{Server: srv, Auth: a, Games: games, Runtime: game.Config{Clock: clock, Shards: 2}})
	if err != nil {
		b.Fatal(err)
	}
	srv.Handle(Path, h)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	h.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
	heap0, rss0 := liveMemory()

	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), seatersEnv+"=1")
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
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
	if _, err := io.WriteString(stdin, "ws://"+srv.Addr().String()+Path+"|"+strings.Join(toks, ",")+"\n"); err != nil {
		b.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "connected\n" {
		b.Fatalf("child: %q, %v", line, err)
	}
	waitFor(b, "sessions", func() bool { return len(h.reg.All()) == players })
	waitFor(b, "flush", func() bool { return srv.OutboundBytes() == 0 })
	heap1, rss1 := liveMemory()

	var rooms []*game.Room
	for i := range players / roomSize {
		r, err := h.Runtime().CreateRoom(game.RoomOptions{Game: "arena", MaxPlayers: roomSize, TickRate: 20, Options: map[string]string{"seed": strconv.Itoa(i)}})
		if err != nil {
			b.Fatal(err)
		}
		rooms = append(rooms, r)
	}
	var join []string
	for i := range players {
		join = append(join, rooms[i/roomSize].ID())
	}
	if _, err := io.WriteString(stdin, strings.Join(join, ",")+"\n"); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "seats", func() bool {
		if err := h.Runtime().Advance(50 * time.Millisecond); err != nil {
			b.Fatal(err)
		}
		seated := 0
		for _, s := range h.reg.All() {
			s.mu.Lock()
			for _, m := range s.rooms {
				if m.seat != 0 {
					seated++
				}
			}
			s.mu.Unlock()
		}
		return seated == players
	})
	for range 16 + 4 { // game.Config.ResumeTicks' default, and a few more
		if err := h.Runtime().Advance(50 * time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "flush", func() bool { return srv.OutboundBytes() == 0 })
	heap2, rss2 := liveMemory()
	heapprof.WriteIfAsked(b)
	// A reader the loaded box keeps behind misses a delta (its room skips
	// it while the connection is congested), not the keyframe.
	if got, want := srv.Stats().FramesOut, uint64(players*5); got < want {
		b.Fatalf("%d frames written, want at least %d", got, want)
	}
	n := float64(players)
	b.ReportMetric(float64(heap1-heap0)/n, "B/login")
	b.ReportMetric(float64(heap2-heap1)/n, "B/seat")
	b.ReportMetric(float64(heap2-heap0)/n, "B/player")
	b.ReportMetric(float64(rss1-rss0)/n, "rss-B/login")
	b.ReportMetric(float64(rss2-rss0)/n, "rss-B/player")
}

// liveMemory returns the live heap plus goroutine stacks after two GCs,
// and the process's resident set once freed pages went back to the OS.
func liveMemory() (heap, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			rss = pages * int64(os.Getpagesize())
		}
	}
	return int64(ms.HeapAlloc + ms.StackInuse), rss
}

// waitFor polls cond every millisecond for up to 30 s.
func waitFor(b *testing.B, what string, cond func() bool) {
	b.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
	}
}
