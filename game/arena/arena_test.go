package arena_test

import (
	"fmt"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/arenav1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func steer(dx, dy int32) []byte {
	b, _ := (&arenav1.Input{Dx: dx, Dy: dy}).MarshalVT()
	return b
}

func decodePlayer(t *testing.T, data string) *arenav1.Player {
	t.Helper()
	if data == "" {
		return nil
	}
	p := &arenav1.Player{}
	if err := p.UnmarshalVT([]byte(data)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientsConverge: 8 players steer at random; every client's entity set
// equals a spectator's, and a late joiner's keyframe equals it too.
func TestClientsConverge(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{arena.Definition()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena", Options: map[string]string{"seed": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	watch := gametest.NewClient("watch")
	e.Join(t, r, game.JoinRequest{UserID: "watch", Spectator: true, Client: watch})
	clients := map[uint32]*gametest.Client{}
	for i := range 8 {
		c := gametest.NewClient(fmt.Sprint(i))
		res := e.Join(t, r, game.JoinRequest{UserID: fmt.Sprint(i), Name: fmt.Sprint("p", i), Client: c})
		clients[res.Seat] = c
	}
	rng := uint32(1)
	for tick := range 200 {
		for seat, c := range clients {
			rng = rng*1664525 + 1013904223
			if rng%5 == 0 {
				_ = r.Input(seat, uint32(tick+1), steer(int32(rng>>8%2001)-1000, int32(rng>>16%2001)-1000))
			}
			c.SetCongested(rng%97 == 0)
		}
		e.Advance(t, 50*time.Millisecond)
	}
	for _, c := range clients {
		c.SetCongested(false)
	}
	e.Advance(t, 100*time.Millisecond)
	late := gametest.NewClient("late")
	e.Join(t, r, game.JoinRequest{UserID: "late", Spectator: true, Client: late})
	want, wantTick := watch.Entities()
	if got, tick := late.Entities(); !maps.Equal(got, want) || tick != wantTick {
		t.Fatalf("late keyframe (tick %d) differs from the running spectator's state (tick %d)", tick, wantTick)
	}
	moved := 0
	for seat, c := range clients {
		got, _ := c.Entities()
		if !maps.Equal(got, want) {
			t.Fatalf("seat %d's state differs from the spectator's", seat)
		}
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		if p := decodePlayer(t, got[uint64(seat)]); p.X != 0 {
			moved++
		}
	}
	if moved == 0 || len(want) != 8+6+20 {
		t.Fatalf("%d entities, %d players placed", len(want), moved)
	}
}

// TestAreaOfInterest: on a large map a player is sent only what is near it.
func TestAreaOfInterest(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{arena.Definition()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena", Options: map[string]string{
		"width": "400", "height": "400", "view_radius": "20", "pickups": "200", "walls": "0", "seed": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	watch := gametest.NewClient("watch")
	e.Join(t, r, game.JoinRequest{UserID: "watch", Spectator: true, Client: watch})
	a := gametest.NewClient("a")
	seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a}).Seat
	for i := range 40 {
		_ = r.Input(seat, uint32(i+1), steer(1000, 300))
		e.Advance(t, 50*time.Millisecond)
	}
	all, _ := watch.Entities()
	mine, _ := a.Entities()
	if len(all) != 201 {
		t.Fatalf("spectator sees %d entities, want 201", len(all))
	}
	me := decodePlayer(t, mine[uint64(seat)])
	if me == nil {
		t.Fatal("player does not see itself")
	}
	wantN := 0
	for id, data := range all {
		var x, y int32
		switch {
		case id < arena.WallBase:
			p := decodePlayer(t, data)
			x, y = int32(p.X), int32(p.Y)
		case id >= arena.PickupBase:
			pk := &arenav1.Pickup{}
			if err := pk.UnmarshalVT([]byte(data)); err != nil {
				t.Fatal(err)
			}
			x, y = pk.X, pk.Y
		default:
			continue // walls: checked by their extent on the server
		}
		mx, my := int32(me.X), int32(me.Y)
		near := max(x-mx, mx-x) <= 2_000 && max(y-my, my-y) <= 2_000
		if _, seen := mine[id]; seen != near {
			t.Fatalf("entity %d at (%d,%d), player at (%d,%d): seen=%v", id, x, y, me.X, me.Y, seen)
		}
		if near {
			wantN++
		}
	}
	if wantN == len(all) || wantN < 2 {
		t.Fatalf("view has %d of %d entities", wantN, len(all))
	}
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestTimedMatchEnds(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{arena.Definition()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena", Options: map[string]string{"duration_seconds": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	c := gametest.NewClient("a")
	seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: c}).Seat
	e.Advance(t, 1500*time.Millisecond)
	if r.Phase() != game.PhaseFinished {
		t.Fatalf("phase %v", r.Phase())
	}
	var res *tickroomv1.MatchResult
	for _, ev := range c.Events() {
		if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
			res = ev.Result
		}
	}
	if res == nil || res.Reason != "time_up" {
		t.Fatalf("result %v", res)
	}
	// Alone, the player beat nobody: no win and no points for the
	// standings, which would otherwise count a win for every one-second
	// room a guest makes for itself.
	if len(res.WinnerSeats) != 0 || len(res.Scores) != 0 {
		t.Fatalf("a round alone: winners %v, scores %v; want none", res.WinnerSeats, res.Scores)
	}
	var data arenav1.Result
	if err := data.UnmarshalVT(res.Data); err != nil || len(data.Players) != 1 || data.Players[0].Seat != seat {
		t.Fatalf("result data %v, %v: want the player's points", &data, err)
	}
}

// TestTiedMatchIsADraw: when time is up and every player has the same
// score (two players who never picked anything up), nobody beat anybody:
// the result lists no winner (a draw), not every player as a winner.
func TestTiedMatchIsADraw(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{arena.Definition()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena", Options: map[string]string{"duration_seconds": "1", "pickups": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := gametest.NewClient("a"), gametest.NewClient("b")
	e.Join(t, r, game.JoinRequest{UserID: "a", Client: a})
	e.Join(t, r, game.JoinRequest{UserID: "b", Client: b})
	e.Advance(t, 1500*time.Millisecond)
	var res *tickroomv1.MatchResult
	for _, ev := range a.Events() {
		if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
			res = ev.Result
		}
	}
	if res == nil || res.Reason != "time_up" || len(res.WinnerSeats) != 0 {
		t.Fatalf("result %v, want a draw (no winner seats)", res)
	}
}

func TestBadOptions(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{arena.Definition()}, nil)
	for _, opts := range []map[string]string{{"width": "5"}, {"pickups": "x"}, {"view_radius": "-1"},
		// More walls than a quarter of the map: a player could spawn
		// inside one and never move.
		{"width": "10", "height": "10", "walls": "200"}, {"walls": "19"}} {
		if _, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena", Options: opts}); err == nil {
			t.Fatalf("options %v accepted", opts)
		}
	}
	// The most walls a map takes leave every spawn clear of them.
	for seed := range 20 {
		opts := map[string]string{"width": "40", "height": "30", "walls": "18", "seed": strconv.Itoa(seed)}
		r, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena", MaxPlayers: 32, Options: opts})
		if err != nil {
			t.Fatalf("options %v: %v", opts, err)
		}
		var last *gametest.Player
		for i := range 32 {
			last = e.Seat(t, r, fmt.Sprintf("p%d", i))
		}
		e.Advance(t, 100*time.Millisecond)
		ents, _ := last.Entities()
		var walls []*arenav1.Wall
		for id, data := range ents {
			if id >= arena.WallBase && id < arena.PickupBase {
				w := &arenav1.Wall{}
				if err := w.UnmarshalVT([]byte(data)); err != nil {
					t.Fatal(err)
				}
				walls = append(walls, w)
			}
		}
		if len(walls) != 18 {
			t.Fatalf("seed %d: %d walls in the state, want 18", seed, len(walls))
		}
		for id, data := range ents {
			if id >= arena.WallBase {
				continue
			}
			p := decodePlayer(t, data)
			for _, w := range walls {
				if x, y := int64(p.X), int64(p.Y); x >= int64(w.X) && x <= int64(w.X+w.W) && y >= int64(w.Y) && y <= int64(w.Y+w.H) {
					t.Fatalf("seed %d: player %d at %v,%v spawned inside wall %v", seed, id, p.X, p.Y, w)
				}
			}
		}
		r.Close("done")
	}
}

// FuzzInput: any input bytes are applied or refused with a message, never
// a crash or a broken delta.
func FuzzInput(f *testing.F) {
	f.Add(steer(1000, -1000))
	f.Add(steer(-2147483648, 2147483647))
	f.Add([]byte{0x08})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := gametest.NewEnv(t, []game.Definition{arena.Definition()}, nil)
		r, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena"})
		if err != nil {
			t.Fatal(err)
		}
		c := gametest.NewClient("a")
		seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: c}).Seat
		if err := r.Input(seat, 1, data); err != nil {
			return
		}
		e.Advance(t, 100*time.Millisecond)
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		ents, _ := c.Entities()
		p := decodePlayer(t, ents[uint64(seat)])
		// Wire units are centi-units: the map is 4,000 × 3,000, a player's radius 50.
		if p.X < arena.PlayerRadius/10 || p.X > 4_000-arena.PlayerRadius/10 || p.Y < arena.PlayerRadius/10 || p.Y > 3_000-arena.PlayerRadius/10 {
			t.Fatalf("player left the map: %v", p)
		}
	})
}

type nopClient struct{}

// observerClient is an observer's client that takes nothing; each is its
// own (an observer is known by its client).
type observerClient struct{ _ byte }

func (*observerClient) Congested() bool { return false }

func (nopClient) Congested() bool { return false }

// BenchmarkArenaTick is one steady-state arena tick with every player
// steering: inputs, physics, encode, diff and the delta frames. "20" is the
// default map with one shared delta; "32-aoi" is a 400×400 map with 200
// pickups where each player gets its own view; "32" is the default map
// full; "32-largest" the largest map with the most walls and pickups (its
// default view radius on), which Cost prices.
func BenchmarkArenaTick(b *testing.B) {
	for _, bc := range []struct {
		name    string
		players int
		opts    map[string]string
	}{
		{"20", 20, map[string]string{"seed": "1"}},
		{"32-aoi", 32, map[string]string{"seed": "1", "width": "400", "height": "400", "pickups": "200", "walls": "40", "view_radius": "30"}},
		{"32", 32, map[string]string{"seed": "1"}},
		{"32-largest", 32, map[string]string{"seed": "1", "width": "2000", "height": "2000", "pickups": "1000", "walls": "200"}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchArena(b, bc.players, bc.opts) })
	}
}

// BenchmarkArenaTickObservers is ArenaTick/32-aoi (each player its own
// view, game.Viewer) with anonymous event streams watching the room
// (observers, as server/spectate's feeds are), on clients that take
// nothing.
func BenchmarkArenaTickObservers(b *testing.B) {
	opts := map[string]string{"seed": "1", "width": "400", "height": "400", "pickups": "200", "walls": "40", "view_radius": "30"}
	for _, n := range []int{0, 16, 64} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchArenaObserved(b, 32, n, opts) })
	}
}

func benchArena(b *testing.B, players int, opts map[string]string) {
	benchArenaObserved(b, players, 0, opts)
}

func benchArenaObserved(b *testing.B, players, observers int, opts map[string]string) {
	rt, r := newBenchRoom(b, players, opts)
	for range observers {
		if err := r.Observe(game.ObserveRequest{Client: &observerClient{}}, nil); err != nil {
			b.Fatal(err)
		}
	}
	inputs := [][]byte{steer(1000, 0), steer(0, 1000), steer(-1000, 0), steer(0, -1000)}
	seq := uint32(0)
	tick := func() {
		seq++
		for s := range uint32(players) {
			_ = r.Input(s+1, seq, inputs[(seq/20+s)%4])
		}
		_ = rt.Advance(50 * time.Millisecond)
	}
	for range 10 {
		tick()
	}
	before := r.Stats().FramesEncoded
	b.ReportAllocs()
	for b.Loop() {
		tick()
	}
	b.StopTimer()
	st := r.Stats()
	if st.Ticks < 10 || st.FramesEncoded == before {
		b.Fatalf("stats %+v", st)
	}
	b.ReportMetric(float64(st.FramesEncoded-before)/float64(b.N), "frames/op")
}

// newBenchRoom is an arena room with opts on a runtime of its own, on a
// manual clock, with players seated on clients that take nothing.
func newBenchRoom(b *testing.B, players int, opts map[string]string) (*game.Runtime, *game.Room) {
	reg := game.NewRegistry()
	if err := reg.Register(arena.Definition()); err != nil {
		b.Fatal(err)
	}
	clock := game.NewManualClock(time.Unix(1_700_000_000, 0))
	rt, err := game.NewRuntime(game.Config{Registry: reg, Clock: clock, Shards: 1, Resolution: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	r, err := rt.CreateRoom(game.RoomOptions{Game: "arena", Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	for i := range players {
		if err := r.Join(game.JoinRequest{UserID: fmt.Sprint(i), Name: "bot", Client: nopClient{}}, nil); err != nil {
			b.Fatal(err)
		}
	}
	return rt, r
}

// TestBandwidth: ten players steering at random (a new direction ten times
// a second, as tickroom-bots do) in a 20 Hz room cost each client at most
// 1,400 payload bytes a second once everyone is in.
func TestBandwidth(t *testing.T) {
	perSec := arenaBytes(t, 10, 10, 10*time.Second)
	t.Logf("%.0f B per client per second", perSec)
	if perSec > 1400 {
		t.Fatalf("%.0f B per client per second, want at most 1,400", perSec)
	}
}

// arenaBytes runs players in a 20 Hz arena, each sending inputHz random
// directions a second, and returns the mean payload bytes per client per
// second over d, after the joins.
func arenaBytes(t testing.TB, players int, inputHz int, d time.Duration) float64 {
	e := gametest.NewEnv(t, []game.Definition{arena.Definition()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "arena", Options: map[string]string{"seed": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	cs := make([]*gametest.Client, players)
	seats := make([]uint32, players)
	for i := range cs {
		cs[i] = gametest.NewClient(fmt.Sprint("p", i))
		seats[i] = e.Join(t, r, game.JoinRequest{UserID: fmt.Sprint("p", i), Name: fmt.Sprint("player", i), Client: cs[i]}).Seat
	}
	e.Advance(t, time.Second)
	before := make([]int, players)
	for i, c := range cs {
		_, before[i] = c.Received()
	}
	rng := uint64(12345)
	seq := make([]uint32, players)
	const step = 5 * time.Millisecond
	period := time.Second / time.Duration(inputHz)
	for at := time.Duration(0); at < d; at += step {
		for i := range cs {
			// Each player sends at its own phase within the input period.
			if (at+time.Duration(i)*period/time.Duration(players))%period == 0 {
				rng = rng*6364136223846793005 + 1442695040888963407
				seq[i]++
				_ = r.Input(seats[i], seq[i], steer(int32(rng>>20%2001)-1000, int32(rng>>40%2001)-1000))
			}
		}
		e.Advance(t, step)
	}
	total := 0
	for i, c := range cs {
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		_, n := c.Received()
		total += n - before[i]
	}
	return float64(total) / float64(players) / d.Seconds()
}

// TestCost: a room costs more the more work its options ask for, and the
// game's Cost is what the room budget charges.
func TestCost(t *testing.T) {
	d := arena.Definition()
	cost := func(tickRate, players int, opts map[string]string) int {
		return d.RoomCost(game.RoomOptions{Game: "arena", TickRate: tickRate, MaxPlayers: players, Options: opts})
	}
	largest := map[string]string{"width": "2000", "height": "2000", "walls": "200", "pickups": "1000"}
	for _, c := range []struct {
		name string
		got  int
		want int
	}{
		{"default", cost(0, 0, nil), 4},
		{"two seats", cost(0, 2, nil), 2},
		{"largest", cost(0, 0, largest), 51},
		{"largest at 120 Hz", cost(120, 0, largest), 305},
		{"view off", cost(0, 0, map[string]string{"width": "2000", "height": "2000", "walls": "200", "pickups": "1000", "view_radius": "0"}), 42},
		{"refused options", cost(0, 0, map[string]string{"pickups": "many"}), 4},
	} {
		if c.got != c.want {
			t.Errorf("%s: cost %d, want %d", c.name, c.got, c.want)
		}
	}
	if a, b := cost(0, 0, map[string]string{"pickups": "1000"}), cost(0, 0, nil); a <= b {
		t.Errorf("1,000 pickups cost %d, the default %d", a, b)
	}
	if a, b := cost(0, 0, map[string]string{"width": "2000", "height": "2000"}), cost(0, 0, map[string]string{"width": "2000", "height": "2000", "view_radius": "0"}); a <= b {
		t.Errorf("a large map with its view on costs %d, with it off %d", a, b)
	}
}
