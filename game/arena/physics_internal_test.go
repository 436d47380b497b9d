package arena

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/arenav1"
)

func testGame(players int, walls ...wall) *Game {
	g := newGame(config{width: 40_000, height: 30_000, seed: 1}, players)
	g.walls = walls
	for i := range players {
		p := &g.players[i]
		p.in = true
		p.seat = uint32(i + 1)
	}
	return g
}

func TestMovement(t *testing.T) {
	wall := newWall(10_000, 0, 1000, 30_000)
	tests := []struct {
		name         string
		x, y, dx, dy int32
		ticks        int
		wantX, wantY int32
	}{
		{name: "one tick right", x: 5000, y: 5000, dx: 1000, ticks: 1, wantX: 5400, wantY: 5000},
		{name: "diagonal is normalised", x: 5000, y: 5000, dx: 1000, dy: 1000, ticks: 1, wantX: 5282, wantY: 5282},
		{name: "stops at the map edge", x: 1000, y: 5000, dx: -1000, ticks: 10, wantX: PlayerRadius, wantY: 5000},
		{name: "stops at a wall", x: 8000, y: 5000, dx: 1000, ticks: 10, wantX: 9200, wantY: 5000},
		{name: "slides along a wall", x: 9400, y: 5000, dx: 1000, dy: 1000, ticks: 1, wantX: 9400, wantY: 5282},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := testGame(1, wall)
			p := &g.players[0]
			p.x, p.y = tc.x, tc.y
			g.input = arenav1.Input{}
			data, _ := (&arenav1.Input{Dx: tc.dx, Dy: tc.dy}).MarshalVT()
			if err := g.Input(nil, 1, data); err != nil {
				t.Fatal(err)
			}
			for range tc.ticks {
				g.Update(nil, 50*time.Millisecond)
			}
			if p.x != tc.wantX || p.y != tc.wantY {
				t.Fatalf("at (%d, %d), want (%d, %d)", p.x, p.y, tc.wantX, tc.wantY)
			}
		})
	}
}

func TestPlayersCollide(t *testing.T) {
	tests := []struct {
		name   string
		bx, by int32
	}{
		{"overlapping", 5300, 5000},
		{"same spot", 5000, 5000},
		{"diagonal", 5200, 5200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := testGame(2)
			a, b := &g.players[0], &g.players[1]
			a.x, a.y = 5000, 5000
			b.x, b.y = tc.bx, tc.by
			g.Update(nil, 50*time.Millisecond)
			dx, dy := int64(b.x-a.x), int64(b.y-a.y)
			if d := isqrt(dx*dx + dy*dy); d < 2*PlayerRadius-2 {
				t.Fatalf("players %d apart after a tick, want at least %d", d, 2*PlayerRadius)
			}
		})
	}
}

// TestPlayersTouching: two players one unit closer than touching
// (2×PlayerRadius) are pushed apart, and two exactly touching are left
// where they are, whichever of them is along +x, -x, +y or -y of the
// other.
func TestPlayersTouching(t *testing.T) {
	const minDist = 2 * PlayerRadius
	for _, d := range [][2]int32{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
		for _, dist := range []int32{minDist - 1, minDist} {
			g := testGame(2)
			a, b := &g.players[0], &g.players[1]
			a.x, a.y = 5000, 5000
			b.x, b.y = 5000+d[0]*dist, 5000+d[1]*dist
			bx, by := b.x, b.y
			g.Update(nil, 50*time.Millisecond)
			dx, dy := int64(b.x-a.x), int64(b.y-a.y)
			if d2 := dx*dx + dy*dy; d2 < minDist*minDist {
				t.Errorf("second player at (%+d, %+d) from the first: (%+d, %+d) after a tick, want at least %d apart", bx-5000, by-5000, dx, dy, minDist)
			}
			if dist == minDist && (a.x != 5000 || a.y != 5000 || b.x != bx || b.y != by) {
				t.Errorf("players touching at (%+d, %+d) moved to (%d, %d) and (%d, %d)", bx-5000, by-5000, a.x, a.y, b.x, b.y)
			}
		}
	}
}

func TestPickupScores(t *testing.T) {
	g := testGame(1)
	g.pickups = []pickup{{x: 5100, y: 5000, value: 3}}
	p := &g.players[0]
	p.x, p.y = 5000, 5000
	g.Update(nil, 50*time.Millisecond)
	if p.score != 3 {
		t.Fatalf("score %d, want 3", p.score)
	}
	if pk := &g.pickups[0]; pk.x == 5100 && pk.y == 5000 {
		t.Fatal("pickup not respawned")
	}
}

// TestPickupReach: a player collects a pickup whose centre is up to
// PlayerRadius+PickupRadius away, that distance included, and not one
// unit further, on either axis, from either side.
func TestPickupReach(t *testing.T) {
	const reach = PlayerRadius + PickupRadius
	for _, d := range [][2]int32{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
		for _, dist := range []int32{reach, reach + 1} {
			g := testGame(1)
			g.pickups = []pickup{{x: 5000 + d[0]*dist, y: 5000 + d[1]*dist, value: 2}}
			p := &g.players[0]
			p.x, p.y = 5000, 5000
			g.Update(nil, 50*time.Millisecond)
			want := uint32(0)
			if dist == reach {
				want = 2
			}
			if p.score != want {
				t.Errorf("pickup at (%+d, %+d) from the player: score %d, want %d", d[0]*dist, d[1]*dist, p.score, want)
			}
		}
	}
}

func TestIsqrt(t *testing.T) {
	for _, v := range []int64{0, 1, 2, 3, 4, 15, 16, 17, 1_000_000, 1_002_000, 1_002_001, 1_002_002, 1 << 40, 1<<40 - 1, 999_999_999_999, 1<<62 - 1} {
		r := isqrt(v)
		if r*r > v || (r+1)*(r+1) <= v {
			t.Fatalf("isqrt(%d) = %d", v, r)
		}
	}
}

// TestWallsHoldAtLowTickRates: a room may run the arena as slowly as 1 Hz,
// where a tick's step (8 units) is longer than a wall is thick; the player
// must still stop at the wall, not come out on its far side.
func TestWallsHoldAtLowTickRates(t *testing.T) {
	wall := newWall(10_000, 0, 1000, 30_000)
	for _, dt := range []time.Duration{time.Second, 500 * time.Millisecond, 250 * time.Millisecond} {
		t.Run(dt.String(), func(t *testing.T) {
			g := testGame(1, wall)
			p := &g.players[0]
			p.x, p.y = 5000, 5000
			data, _ := (&arenav1.Input{Dx: 1000}).MarshalVT()
			if err := g.Input(nil, 1, data); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				g.Update(nil, dt)
				if p.x+PlayerRadius > wall.X {
					t.Fatalf("player at x %d, through the wall at %d..%d", p.x, wall.X, wall.X+wall.W)
				}
			}
			if p.x < wall.X-PlayerRadius-Speed*int32(dt/time.Millisecond)/1000 {
				t.Fatalf("player stopped at x %d, short of the wall at %d by more than a step", p.x, wall.X)
			}
		})
	}
}

// TestSpeedAtEveryTickRate: a player steering at full speed covers Speed
// milli-units a second of ticks at any tick rate, within a milli-unit a
// tick (at 120 Hz, whole-millisecond steps made it 4 % slower).
func TestSpeedAtEveryTickRate(t *testing.T) {
	for _, hz := range []int{1, 7, 20, 30, 60, 120} {
		g := testGame(1)
		p := &g.players[0]
		p.x, p.y = 5000, 5000
		data, _ := (&arenav1.Input{Dx: 1000}).MarshalVT()
		if err := g.Input(nil, 1, data); err != nil {
			t.Fatal(err)
		}
		dt := time.Second / time.Duration(hz)
		for range hz {
			g.Update(nil, dt)
		}
		if got := p.x - 5000; got < Speed-int32(hz) || got > Speed {
			t.Errorf("%d Hz: %d milli-units in a second of ticks, want %d", hz, got, Speed)
		}
	}
}

// TestInputScaling: Input scales a direction down to maxInput exactly
// when isqrt of its length squared exceeds maxInput, the test it skips
// for directions shorter than maxInput+1; around that length and past
// it, every direction comes out as that test makes it.
func TestInputScaling(t *testing.T) {
	g := testGame(1)
	for dx := int32(-1100); dx <= 1100; dx += 7 {
		for _, dy := range []int32{0, 1, 3, 45, 300, 700, 707, 708, 999, 1000, 1001, -1, -707, -708, -1001} {
			data, _ := (&arenav1.Input{Dx: dx, Dy: dy}).MarshalVT()
			if err := g.Input(nil, 1, data); err != nil {
				t.Fatal(err)
			}
			wx, wy := clamp(dx, -maxInput, maxInput), clamp(dy, -maxInput, maxInput)
			if m := isqrt(int64(wx)*int64(wx) + int64(wy)*int64(wy)); m > maxInput {
				wx, wy = int32(int64(wx)*maxInput/m), int32(int64(wy)*maxInput/m)
			}
			if p := &g.players[0]; p.dx != wx || p.dy != wy {
				t.Fatalf("input (%d, %d): steering (%d, %d), want (%d, %d)", dx, dy, p.dx, p.dy, wx, wy)
			}
		}
	}
}

// BenchmarkInput is the game's part of one input: decode, clamp, scale.
func BenchmarkInput(b *testing.B) {
	g := testGame(1)
	data, _ := (&arenav1.Input{Dx: 1000, Dy: 0}).MarshalVT()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Input(nil, 1, data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSimulationPinned: a match is deterministic for a seed and its
// inputs (the package doc), and this one, crowded so that players collide
// and collect pickups every few ticks, comes out as it always has: every
// tick's positions, velocities, scores and pickups hash to the figure
// recorded. A change to the physics that moves anything is deliberate, and
// records the figure anew.
//
// In the second match seats are empty from the start, and every 100 ticks
// two seats change hands, a player leaving or joining, so that players in
// play sit on both sides of a seat out of play: a player's score and
// moves must land on its own seat, not the one its place among those in
// play would give it.
func TestSimulationPinned(t *testing.T) {
	t.Run("every seat", func(t *testing.T) { pinnedMatch(t, false, 0xf11b946b8d422d10) })
	t.Run("seats leave and join", func(t *testing.T) { pinnedMatch(t, true, 0xd147e1d9629f1520) })
}

func pinnedMatch(t *testing.T, churn bool, want uint64) {
	g := newGame(config{width: 16_000, height: 12_000, walls: 3, pickups: 60, seed: 7}, 32)
	for i := range g.players {
		if churn && (i == 2 || i == 16 || i == 17) {
			continue // seats 3, 17 and 18 wait
		}
		g.Notice(nil, game.NoticeJoined, game.Player{Seat: uint32(i + 1), Name: "p"})
	}
	h := fnv.New64a()
	var buf [4]byte
	put := func(v int32) {
		binary.LittleEndian.PutUint32(buf[:], uint32(v))
		h.Write(buf[:])
	}
	rng, seats := uint64(99), uint64(5)
	collisions, scored, changes := 0, uint32(0), 0
	for tick := range 2000 {
		if churn && tick%100 == 50 {
			// Two of seats 2..31: the first and the last stay in play.
			for range 2 {
				seats = seats*6364136223846793005 + 1442695040888963407
				p := game.Player{Seat: uint32(2 + seats>>33%30), Name: "p"}
				if g.players[p.Seat-1].in {
					g.Notice(nil, game.NoticeLeft, p)
				} else {
					g.Notice(nil, game.NoticeJoined, p)
				}
				changes++
			}
		}
		for s := range uint32(len(g.players)) {
			if (uint32(tick)+s)%2 == 0 {
				rng = rng*6364136223846793005 + 1442695040888963407
				data, _ := (&arenav1.Input{Dx: int32(rng>>20%2201) - 1100, Dy: int32(rng>>40%2201) - 1100}).MarshalVT()
				if err := g.Input(nil, s+1, data); err != nil {
					t.Fatal(err)
				}
			}
		}
		g.Update(nil, 50*time.Millisecond)
		for i := range g.players {
			p := &g.players[i]
			if !p.in {
				put(-1) // and what the seat holds, which nothing may touch
			}
			put(p.x)
			put(p.y)
			put(p.vx)
			put(p.vy)
			put(int32(p.score))
			for j := i + 1; j < len(g.players) && p.in; j++ {
				q := &g.players[j]
				if dx, dy := int64(q.x-p.x), int64(q.y-p.y); q.in && dx*dx+dy*dy < 4*PlayerRadius*PlayerRadius {
					collisions++
				}
			}
		}
		for i := range g.pickups {
			pk := &g.pickups[i]
			put(pk.x)
			put(pk.y)
			put(int32(pk.value))
		}
	}
	for i := range g.players {
		scored += g.players[i].score
	}
	if got := h.Sum64(); got != want {
		t.Fatalf("the match hashes to %#x, want %#x (%d overlaps, %d points, %d seats changed hands)", got, want, collisions, scored, changes)
	}
	if collisions < 1000 || scored < 1000 {
		t.Fatalf("%d overlaps left after a tick and %d points scored: the match is not crowded enough to pin collisions and pickups", collisions, scored)
	}
}

// TestPlayerWire: a player's entity bytes are the generated encoding of
// its wire message, byte for byte (clients decode them as arenav1.Player,
// and a delta sends the fields that differ between two encodings), for
// zero and negative values, names of every length class and the largest
// numbers.
func TestPlayerWire(t *testing.T) {
	names := []string{"", "a", "player7", strings.Repeat("n", 127), strings.Repeat("é", 64), strings.Repeat("x", 300)}
	coords := []int32{0, 1, 4, 5, 1234, 39_500, 1_999_995, -6, -1_000_000}
	vels := []int32{0, 124, 125, -125, 8000, -8000, 1 << 30, -1 << 30}
	var b []byte
	n := 0
	for _, name := range names {
		for _, x := range coords {
			for _, v := range vels {
				for _, score := range []uint32{0, 3, 1 << 31} {
					for _, seat := range []uint32{0, 1, 32, 1 << 20} {
						p := player{in: true, seat: seat, name: name, x: x, y: x / 2, vx: v, vy: -v / 3, score: score}
						want, err := toWire(&p).MarshalVT()
						if err != nil {
							t.Fatal(err)
						}
						if b = appendPlayer(b[:0], &p); !bytes.Equal(b, want) {
							t.Fatalf("player %+v: % x, want % x", p, b, want)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d players", n)
}

// TestDecodeInput: what decodeInput reads from an input, the generated
// UnmarshalVT reads the same, for every direction a client sends (each
// field in -1100..1100, in either order, either alone, repeated) and for
// a million short byte strings made at random; what it leaves to
// UnmarshalVT is what it must (a longer varint, another field).
func TestDecodeInput(t *testing.T) {
	check := func(data []byte) bool {
		dx, dy, ok := decodeInput(data)
		var m arenav1.Input
		err := m.UnmarshalVT(data)
		if ok && (err != nil || m.Dx != dx || m.Dy != dy) {
			t.Fatalf("% x: decodeInput (%d, %d), UnmarshalVT (%d, %d) %v", data, dx, dy, m.Dx, m.Dy, err)
		}
		return ok
	}
	read := 0
	for dx := int32(-1100); dx <= 1100; dx++ {
		for _, dy := range []int32{0, 1, -1, 63, -64, 64, 707, -708, 1000, -1000, 8191, -8192} {
			b, _ := (&arenav1.Input{Dx: dx, Dy: dy}).MarshalVT()
			c, _ := (&arenav1.Input{Dx: dy, Dy: dx}).MarshalVT()
			for _, data := range [][]byte{b, append(append([]byte(nil), c...), b...), append(c[len(c)/2:], b[:len(b)/2]...)} {
				if check(data) {
					read++
				}
			}
		}
	}
	if read < 2*2201*12 {
		t.Fatalf("decodeInput read %d of the clients' inputs, want every one", read)
	}
	if check([]byte{0x08, 0x80, 0x80, 0x01}) || check([]byte{0x18, 0x01}) || check([]byte{0x08}) {
		t.Fatal("decodeInput read what it should leave to UnmarshalVT")
	}
	rng := uint64(1)
	data := make([]byte, 0, 8)
	for range 1_000_000 {
		rng = rng*6364136223846793005 + 1442695040888963407
		data = data[:rng>>61]
		for i := range data {
			// Mostly the two tags and short varints, so that the random
			// strings reach decodeInput's paths.
			switch b := byte(rng >> (8 * i)); b % 4 {
			case 0:
				data[i] = 0x08
			case 1:
				data[i] = 0x10
			default:
				data[i] = b
			}
		}
		check(data)
	}
}
