package arena

import "math/bits"

// move moves p by (dx, dy), stopping at walls and the map's edge. A move
// longer than a player's radius (a tick at under 16 Hz) goes in steps of
// at most that, so it cannot pass a wall, which is at least a player's
// width thick, between two positions.
func (g *Game) move(p *player, dx, dy int32) {
	if dx == 0 && dy == 0 {
		return
	}
	n := max(abs(dx), abs(dy))/PlayerRadius + 1
	x0, y0 := p.x, p.y
	for i := int32(1); i <= n; i++ {
		x := clamp(x0+dx*i/n, PlayerRadius, g.cfg.width-PlayerRadius)
		y := clamp(y0+dy*i/n, PlayerRadius, g.cfg.height-PlayerRadius)
		for j := range g.walls {
			if hitsWall(x, y, PlayerRadius, &g.walls[j]) {
				return // blocked on this axis; the other axis moves separately
			}
		}
		p.x, p.y = x, y
	}
}

// hitsWall reports whether a circle at (x, y) of radius r overlaps w.
func hitsWall(x, y, r int32, w *wall) bool {
	cx := clamp(x, w.X, w.X+w.W)
	cy := clamp(y, w.Y, w.Y+w.H)
	dx, dy := int64(x-cx), int64(y-cy)
	return dx*dx+dy*dy < int64(r)*int64(r)
}

// separate pushes overlapping players apart, half each, in seat order.
//
// It is a check for each pair of players a tick, so it works on the
// coordinates of the players in play gathered side by side, and written
// back after, and a pair is ruled out by one unsigned compare an axis
// before the distance is worked out: two players overlap only within the
// square of side 2×minDist around one of them.
func (g *Game) separate() {
	const minDist = 2 * PlayerRadius
	// On the stack: the arena seats at most 32 (Definition); a larger
	// game of the tests' own goes to the heap.
	var xsBuf, ysBuf [32]int32
	var whoBuf [32]int
	xs, ys, who := xsBuf[:0], ysBuf[:0], whoBuf[:0]
	for i := range g.players {
		if p := &g.players[i]; p.in {
			xs, ys, who = append(xs, p.x), append(ys, p.y), append(who, i)
		}
	}
	ys = ys[:len(xs)]
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			dx32 := xs[j] - xs[i]
			if uint32(dx32+minDist) > 2*minDist {
				continue
			}
			dy32 := ys[j] - ys[i]
			if uint32(dy32+minDist) > 2*minDist {
				continue
			}
			dx, dy := int64(dx32), int64(dy32)
			d2 := dx*dx + dy*dy
			if d2 >= minDist*minDist {
				continue
			}
			d := isqrt(d2)
			if d == 0 {
				dx, dy, d = 1, 0, 1 // same spot: push apart along x
			}
			push := (minDist - d + 1) / 2
			px, py := int32(dx*push/d), int32(dy*push/d)
			g.shove(&xs[i], &ys[i], -px, -py)
			g.shove(&xs[j], &ys[j], px, py)
		}
	}
	for k, i := range who {
		g.players[i].x, g.players[i].y = xs[k], ys[k]
	}
}

// shove moves the player at (*x, *y) by (dx, dy) unless that puts it in a
// wall.
func (g *Game) shove(x, y *int32, dx, dy int32) {
	nx := clamp(*x+dx, PlayerRadius, g.cfg.width-PlayerRadius)
	ny := clamp(*y+dy, PlayerRadius, g.cfg.height-PlayerRadius)
	for i := range g.walls {
		if hitsWall(nx, ny, PlayerRadius, &g.walls[i]) {
			return
		}
	}
	*x, *y = nx, ny
}

// collect scores pickups a player touches and respawns them: each pickup
// goes to the first player in seat order within reach.
//
// It is pickups × players distance checks a tick, so the players in play
// are gathered first, their coordinates side by side (collecting moves
// none), and a player within reach lies in the square of side 2×reach
// around the pickup: most players are far from most pickups, and one
// unsigned compare an axis rules them out before the distance is worked
// out.
func (g *Game) collect() {
	const reach = PlayerRadius + PickupRadius
	// On the stack: the arena seats at most 32 (Definition); a larger
	// game of the tests' own goes to the heap.
	var xsBuf, ysBuf [32]int32
	var whoBuf [32]int
	xs, ys, who := xsBuf[:0], ysBuf[:0], whoBuf[:0]
	for i := range g.players {
		if p := &g.players[i]; p.in {
			xs, ys, who = append(xs, p.x), append(ys, p.y), append(who, i)
		}
	}
	ys = ys[:len(xs)]
	who = who[:len(xs)]
	for i := range g.pickups {
		pk := &g.pickups[i]
		px, py := pk.x, pk.y
		for k, x := range xs {
			dx := x - px
			if uint32(dx+reach) > 2*reach {
				continue
			}
			dy := ys[k] - py
			if uint32(dy+reach) > 2*reach {
				continue
			}
			if int64(dx)*int64(dx)+int64(dy)*int64(dy) <= reach*reach {
				g.players[who[k]].score += pk.value
				pk.x, pk.y = g.freeSpot(PickupRadius)
				pk.value = uint32(1 + g.rng.next()%3)
				pk.n = 0 // encode again
				break
			}
		}
	}
}

// freeSpot returns a position for a circle of radius r clear of walls
// (after a few tries, any position).
func (g *Game) freeSpot(r int32) (int32, int32) {
	var x, y int32
	for range 32 {
		x = int32(g.rng.intn(int(r), int(g.cfg.width-r)))
		y = int32(g.rng.intn(int(r), int(g.cfg.height-r)))
		clear := true
		for i := range g.walls {
			if hitsWall(x, y, r, &g.walls[i]) {
				clear = false
				break
			}
		}
		if clear {
			break
		}
	}
	return x, y
}

// rng is a splitmix64 generator: deterministic for a seed.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in lo..hi-1 (lo when hi <= lo).
func (r *rng) intn(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + int(r.next()%uint64(hi-lo))
}

func clamp(v, lo, hi int32) int32 { return max(lo, min(v, hi)) }

func abs(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// isqrt is the integer square root of a non-negative v.
func isqrt(v int64) int64 {
	if v <= 0 {
		return 0
	}
	x := int64(1) << ((bits.Len64(uint64(v)) + 1) / 2)
	for {
		y := (x + v/x) / 2
		if y >= x {
			return x
		}
		x = y
	}
}
