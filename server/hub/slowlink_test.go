package hub_test

import (
	"cmp"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/server"
)

// bulk is a game whose one entity, of size bytes (1 KB when 0), changes
// whole every tick.
type bulk struct {
	n    uint64
	size int
}

func (g *bulk) Accept(*game.Context, game.Player) error            { return nil }
func (g *bulk) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *bulk) Input(*game.Context, uint32, []byte) error          { return nil }
func (g *bulk) Update(*game.Context, time.Duration)                { g.n++ }
func (g *bulk) Encode(s *game.Snapshot) {
	b := make([]byte, cmp.Or(g.size, 1024))
	for i := range b {
		b[i] = byte(g.n*7 + uint64(i)*13)
	}
	s.EntityBytes(1, b)
	s.GlobalsBytes(strconv.AppendUint(nil, g.n, 10))
}

// TestSlowDownlinkSkipsToTheLatest: a player whose downlink carries a
// fifth of what its room sends (~50 KB/s of states through a relay
// throttled to 10 KB/s) soon gets only the latest states (latest wins),
// rather than every state in order ever further behind: the kernel keeps
// at most server.Config.NotSentLowat unsent and the room skips its states
// past HighWater. Before, the kernel's whole send buffer and 256 KiB more
// filled first, ~500 KiB of states, and at 8 s the player was 7 s behind
// and falling further with no state skipped. The other player gets every
// tick, and the slow one, its link back, is current at once with a state
// that applies.
func TestSlowDownlinkSkipsToTheLatest(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: func(r *game.Registry) {
		_ = r.Register(game.Definition{Name: "bulk", TickRate: 50, MaxPlayers: 4, New: func(game.Setup) (game.Game, error) { return &bulk{}, nil }})
	}})
	p := startNetPath(t, e.srv.Addr().String())
	a := p.connect(t, e.token("alice", time.Hour))
	b, _ := e.connect("bob")
	ja := joined(t, a.Request(quickMatch("bulk")))
	joined(t, b.Request(quickMatch("bulk")))
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	p.Down.Rate.Store(10 << 10)
	deadline := time.Now().Add(5 * time.Second)
	for room.Stats().StateSkipped == 0 {
		if time.Now().After(deadline) {
			at, _, fa, _ := a.world(ja.RoomId)
			t.Fatalf("after 5 s at a fifth of the room's rate no state was skipped: alice at tick %d (%d frames), the room at %d", at, fa, room.Info().Tick)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("states skipped from %v after the throttle on", 5*time.Second-time.Until(deadline))
	time.Sleep(2 * time.Second)
	at, _, fa, _ := a.world(ja.RoomId)
	bt, _, fb, _ := b.world(ja.RoomId)
	t.Logf("throttled: room tick %d, alice %d (%d frames), bob %d (%d frames)", room.Info().Tick, at, fa, bt, fb)
	if tick := room.Info().Tick; bt+50 < tick || uint64(fb)+25 < bt {
		t.Fatalf("bob at tick %d with %d frames, the room at %d: the slow player held him up", bt, fb, tick)
	}
	catchUp(t, p, a, room, ja.RoomId)
	if room.Stats().StateSkipped == 0 {
		t.Fatal("no state skipped")
	}
}

// TestSlowDownlinkStatesStayRecent: a player whose downlink carries a
// fifth of a room's small states gets states at most a few seconds old,
// however small they are. The byte bounds alone (16 KiB unsent in the
// kernel, 16 KiB queued) are ~2 s of this room's states and ~11 s of the
// link's; here the server finds the connection behind by its drain rate
// (server.Config.MaxStateLag, 500 ms) and skips states before those
// fill: alice is 1.1–1.5 s behind on average over 5–10 s throttled, and
// 1.9–2.4 s at most (2.2 and 3.9 s with the race detector's suite and a
// busy loop beside it). With the probe off she was 6 s behind on average
// and 8 s at most, and falling further. The relay's own receive buffer
// is kept at the kernel's least (a few KB), as a bottleneck that
// acknowledges only what it passed on would be.
func TestSlowDownlinkStatesStayRecent(t *testing.T) {
	// 256 B states at 50 Hz: ~15 KB/s, ~0.3 KB a frame.
	t.Parallel()
	e := start(t, options{
		server: func(c *server.Config) { c.MaxStateLag = 500 * time.Millisecond },
		games: func(r *game.Registry) {
			_ = r.Register(game.Definition{Name: "small", TickRate: 50, MaxPlayers: 4, New: func(game.Setup) (game.Game, error) { return &bulk{size: 256}, nil }})
		},
	})
	p := startNetPath(t, e.srv.Addr().String())
	p.Down.ReadBuffer.Store(1)
	a := p.connect(t, e.token("alice", time.Hour))
	ja := joined(t, a.Request(quickMatch("small")))
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	time.Sleep(time.Second)
	fwd := p.Down.Forwarded.Load()
	time.Sleep(time.Second)
	rate := p.Down.Forwarded.Load() - fwd
	p.Down.Rate.Store(rate / 5)
	t.Logf("the room sends alice %d B/s; her link now carries %d", rate, rate/5)
	time.Sleep(5 * time.Second)
	// Her lag, every 100 ms over the next 5 s.
	var worst, sum uint64
	for range 50 {
		at, _, _, err := a.world(ja.RoomId)
		if err != nil {
			t.Fatal(err)
		}
		lag := room.Info().Tick - at
		worst = max(worst, lag)
		sum += lag
		time.Sleep(100 * time.Millisecond)
	}
	st := e.srv.Stats()
	t.Logf("5–10 s throttled: alice %.2f s behind the room on average, %.2f s at most; %d states skipped, found behind %d times", float64(sum)/50/50, float64(worst)/50, room.Stats().StateSkipped, st.Behind)
	// How far behind she stays is timed against the relay's clock, which a
	// loaded box moves: it is asserted only with TICKROOM_TIMING_TESTS=1.
	// That the server found her behind and skipped states for her is not.
	if mean := float64(sum) / 50 / 50; mean > 4 && os.Getenv("TICKROOM_TIMING_TESTS") == "1" {
		t.Fatalf("alice was %.1f s behind the room on average on the slow link (%.1f s at most)", mean, float64(worst)/50)
	}
	if st.Behind == 0 || room.Stats().StateSkipped == 0 {
		t.Fatalf("found behind %d times, %d states skipped", st.Behind, room.Stats().StateSkipped)
	}
	catchUp(t, p, a, room, ja.RoomId)
}

// bursty is a game whose small entity changes every tick and whose big
// one (64 KB) changes whole every 37th: a keyframe-sized burst now and
// then on a link that keeps up.
type bursty struct{ bulk }

func (g *bursty) Encode(s *game.Snapshot) {
	g.size = 64
	g.bulk.Encode(s)
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(g.n/37*11 + uint64(i)*17)
	}
	s.EntityBytes(2, big)
}

// TestBurstsOnALinkThatKeepsUpAreNotALag: a player whose link carries
// five times what its room sends on average is never found behind, though
// a 64 KB change of state now and then takes the link ~0.15 s and is
// caught owed at a sweep: the bytes acknowledged since the sweep before
// are then what the room sent, not what the link can drain. Before, that
// was taken for the link's rate and the burst for a backlog of seconds:
// the player was found behind 16 times in 6 s and 286 states were skipped.
// The relay acknowledges at once what it reads, so a sweep seldom finds
// bytes owed before a burst here, and since the probe's rounds were
// spaced and what waits for the loop's flush left out of what is owed,
// this test passes without the guard on the rate too: a link whose
// acknowledgements take a round trip (a shaped interface, in review)
// is what needs it. Twice at most is let pass, and three times more for
// each time the process was seen starved of a core (starved): a relay
// starved of its core on a busy box (the race detector's suite beside a
// busy loop, other packages' tests beside it) truly stalls. A burst past HighWater still skips the states queued behind it,
// by the byte bound, ~90 here.
//
// It times a relay in the test's own process, so on a loaded host the link
// truly drains slower than the room sends (2 of 65 runs alone under -race
// with GOMAXPROCS=1 found it behind 14 and 20 times), and the stalls it
// counts do not catch a process that runs, but slowly. It runs only when
// asked, with TICKROOM_TIMING_TESTS=1, not in make test.
func TestBurstsOnALinkThatKeepsUpAreNotALag(t *testing.T) {
	if os.Getenv("TICKROOM_TIMING_TESTS") != "1" {
		t.Skip("times a relay on loopback; set TICKROOM_TIMING_TESTS=1 to run it")
	}
	// Not parallel: it times the relay, which the package's parallel
	// tests starve (beside them, under -race on a busy box, the link was
	// found behind 8 and 15 times; alone on the same box, at most twice);
	// it runs alone, before the parallel tests.
	e := start(t, options{
		server: func(c *server.Config) { c.MaxStateLag = 500 * time.Millisecond },
		games: func(r *game.Registry) {
			_ = r.Register(game.Definition{Name: "bursty", TickRate: 50, MaxPlayers: 4, New: func(game.Setup) (game.Game, error) { return &bursty{}, nil }})
		},
	})
	p := startNetPath(t, e.srv.Addr().String())
	a := p.connect(t, e.token("alice", time.Hour))
	ja := joined(t, a.Request(quickMatch("bursty")))
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	time.Sleep(time.Second)
	fwd := p.Down.Forwarded.Load()
	time.Sleep(2 * time.Second)
	rate := (p.Down.Forwarded.Load() - fwd) / 2
	p.Down.Rate.Store(rate * 5)
	behind, skipped := e.srv.Stats().Behind, room.Stats().StateSkipped
	stalls := starved(6 * time.Second)
	at, _, _, err := a.world(ja.RoomId)
	if err != nil {
		t.Fatal(err)
	}
	behind, skipped = e.srv.Stats().Behind-behind, room.Stats().StateSkipped-skipped
	t.Logf("room sends %d B/s on average, the link carries %d; 6 s on: alice at tick %d, the room at %d; found behind %d times, %d states skipped; the process starved %d times", rate, rate*5, at, room.Info().Tick, behind, skipped, stalls)
	if allowed := uint64(2 + 3*stalls); behind > allowed {
		t.Fatalf("a link five times faster than the room was found behind %d times (%d states skipped), past the %d its %d stalls let pass", behind, skipped, allowed, stalls)
	}
}

// starved waits d and returns how many times in it this process, the relay
// in it, went 50 ms or more without running a goroutine that asks to run
// every 5 ms: on a box whose cores other work takes, the relay then truly
// stalls, and a link that truly stalls is rightly found behind (each stall
// can be found by a sweep, and by the rechecks after it).
func starved(d time.Duration) int {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		t0 := time.Now()
		time.Sleep(5 * time.Millisecond)
		if time.Since(t0) >= 50*time.Millisecond {
			n++
		}
	}
	return n
}

// catchUp opens p's downlink again and waits, 5 s at most, for c to reach
// the tick room was at then, with a state that applies.
func catchUp(t *testing.T, p *netPath, c *client, room *game.Room, roomID string) {
	t.Helper()
	back := room.Info().Tick
	p.Down.Rate.Store(0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		at, _, _, err := c.world(roomID)
		if err != nil {
			t.Fatal(err)
		}
		if at >= back {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after the link came back at the room's tick %d the player is at %d", back, at)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
