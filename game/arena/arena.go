// Package arena is the built-in real-time game: players steer around a
// top-down map, collide with walls and with each other, and collect pickups
// to score. It is the bots' main load.
//
// All positions are integers in milli-units (arenav1), so a match is
// deterministic for a given seed and input sequence. Entity ids: a player's
// is its seat, walls are WallBase+i, pickups PickupBase+i. On a large map
// (option "view_radius" > 0, on by default when the map is larger than
// 100×100 units) each player is sent only what lies near it.
package arena

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/arenav1"
)

// Entity id bases.
const (
	WallBase   = 1 << 20
	PickupBase = 2 << 20
)

// Tuning, in milli-units.
const (
	PlayerRadius = 500
	PickupRadius = 300
	// Speed is a player's top speed in milli-units per second.
	Speed = 8000
	// maxInput is the largest magnitude of an input direction.
	maxInput = 1000
)

// Definition registers the arena: up to 32 players at 20 Hz.
func Definition() game.Definition {
	return game.Definition{Name: "arena", New: New, TickRate: 20, MaxPlayers: 32, InputRate: 60}
}

// config is a match's options.
type config struct {
	width, height  int32 // milli-units
	walls, pickups int
	viewRadius     int32
	durationTicks  uint32
	seed           uint64
}

func parseOptions(s game.Setup) (config, error) {
	c := config{width: 40_000, height: 30_000, walls: 6, pickups: 20, seed: s.Seed}
	num := func(key string, lo, hi int, dst *int) error {
		v, ok := s.Options[key]
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("arena: option %s=%q not in %d..%d", key, v, lo, hi)
		}
		*dst = n
		return nil
	}
	w, h, view, dur, seed := 40, 30, -1, 0, -1
	for _, o := range []struct {
		key    string
		lo, hi int
		dst    *int
	}{
		{"width", 10, 2000, &w}, {"height", 10, 2000, &h}, {"walls", 0, 200, &c.walls},
		{"pickups", 0, 1000, &c.pickups}, {"view_radius", 0, 2000, &view},
		{"duration_seconds", 0, 86400, &dur}, {"seed", 0, 1 << 30, &seed},
	} {
		if err := num(o.key, o.lo, o.hi, o.dst); err != nil {
			return c, err
		}
	}
	c.width, c.height = int32(w)*1000, int32(h)*1000
	switch {
	case view >= 0:
		c.viewRadius = int32(view) * 1000
	case w > 100 || h > 100:
		c.viewRadius = 30_000
	}
	c.durationTicks = uint32(dur * s.TickRate)
	if seed >= 0 {
		c.seed = uint64(seed)
	}
	return c, nil
}

// New creates a match from the room's options: width, height (units,
// default 40×30), walls (default 6), pickups (default 20), view_radius
// (units; 0 turns the area of interest off), duration_seconds (0, the
// default, means endless) and seed.
func New(s game.Setup) (game.Game, error) {
	c, err := parseOptions(s)
	if err != nil {
		return nil, err
	}
	g := newGame(c, s.MaxPlayers)
	if c.viewRadius > 0 {
		return &viewGame{g}, nil
	}
	return g, nil
}

// player is one seat's avatar.
type player struct {
	in     bool
	dx, dy int32 // steering, -1000..1000
	msg    arenav1.Player
	ent    arenav1.Entity
}

type pickup struct {
	msg arenav1.Pickup
	ent arenav1.Entity
}

// Game is one arena match. Its methods run on the room's tick worker.
type Game struct {
	cfg       config
	rng       rng
	players   []player // index seat-1
	walls     []*arenav1.Wall
	wallBytes [][]byte
	pickups   []pickup
	remaining uint32
	ended     bool
	input     arenav1.Input
	globals   arenav1.Globals
}

var _ game.Game = (*Game)(nil)

func newGame(c config, maxPlayers int) *Game {
	g := &Game{cfg: c, rng: rng(c.seed | 1), players: make([]player, maxPlayers), remaining: c.durationTicks}
	for i := range g.players {
		p := &g.players[i]
		p.ent.Kind = &arenav1.Entity_Player{Player: &p.msg}
	}
	for range c.walls {
		ww := int32(g.rng.intn(4000, 12000))
		wh := int32(g.rng.intn(1000, 3000))
		if g.rng.next()%2 == 0 {
			ww, wh = wh, ww
		}
		w := &arenav1.Wall{X: int32(g.rng.intn(0, int(max(1, c.width-ww)))), Y: int32(g.rng.intn(0, int(max(1, c.height-wh)))), W: ww, H: wh}
		g.walls = append(g.walls, w)
	}
	for i := range g.walls {
		b, _ := (&arenav1.Entity{Kind: &arenav1.Entity_Wall{Wall: g.walls[i]}}).MarshalVT()
		g.wallBytes = append(g.wallBytes, b)
	}
	g.pickups = make([]pickup, c.pickups)
	for i := range g.pickups {
		pk := &g.pickups[i]
		pk.ent.Kind = &arenav1.Entity_Pickup{Pickup: &pk.msg}
		pk.msg.X, pk.msg.Y = g.freeSpot(PickupRadius)
		pk.msg.Value = uint32(1 + g.rng.next()%3)
	}
	g.globals = arenav1.Globals{Width: c.width, Height: c.height, PlayerRadius: PlayerRadius, PickupRadius: PickupRadius, ViewRadius: c.viewRadius}
	return g
}

// Accept takes any player; spectators watch.
func (g *Game) Accept(ctx *game.Context, p game.Player) error { return nil }

// Notice spawns a joining player and removes a leaving one.
func (g *Game) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	if p.Spectator || int(p.Seat) > len(g.players) {
		return
	}
	pl := &g.players[p.Seat-1]
	switch kind {
	case game.NoticeJoined:
		pl.in, pl.dx, pl.dy = true, 0, 0
		pl.msg.Reset()
		pl.msg.Seat, pl.msg.Name = p.Seat, p.Name
		pl.msg.X, pl.msg.Y = g.freeSpot(PlayerRadius)
	case game.NoticeLeft:
		pl.in = false
	case game.NoticeDropped:
		pl.dx, pl.dy = 0, 0 // a dropped player stops
	}
}

// errMalformed refuses an input that is not an arenav1.Input.
var errMalformed = &game.InputError{Code: 1, Text: "input is not an arena input"}

// Input sets the player's steering.
func (g *Game) Input(ctx *game.Context, seat uint32, data []byte) error {
	g.input.Reset()
	if err := g.input.UnmarshalVT(data); err != nil {
		return errMalformed
	}
	if int(seat) > len(g.players) || !g.players[seat-1].in {
		return nil
	}
	dx, dy := clamp(g.input.Dx, -maxInput, maxInput), clamp(g.input.Dy, -maxInput, maxInput)
	if m := isqrt(int64(dx)*int64(dx) + int64(dy)*int64(dy)); m > maxInput {
		dx, dy = int32(int64(dx)*maxInput/m), int32(int64(dy)*maxInput/m)
	}
	p := &g.players[seat-1]
	p.dx, p.dy = dx, dy
	return nil
}

// Update moves every player, resolves collisions and pickups, and ends a
// timed match.
func (g *Game) Update(ctx *game.Context, dt time.Duration) {
	if g.ended {
		return
	}
	ms := int64(dt / time.Millisecond)
	for i := range g.players {
		p := &g.players[i]
		if !p.in {
			continue
		}
		p.msg.Vx = int32(int64(p.dx) * Speed / maxInput)
		p.msg.Vy = int32(int64(p.dy) * Speed / maxInput)
		g.move(p, int32(int64(p.msg.Vx)*ms/1000), 0)
		g.move(p, 0, int32(int64(p.msg.Vy)*ms/1000))
	}
	g.separate()
	g.collect()
	if g.cfg.durationTicks > 0 {
		g.remaining--
		if g.remaining == 0 {
			g.finish(ctx)
		}
	}
}

// Encode writes players, walls and pickups, and the globals.
func (g *Game) Encode(s *game.Snapshot) {
	for i := range g.players {
		if p := &g.players[i]; p.in {
			s.Entity(uint64(i+1), &p.ent)
		}
	}
	for i, b := range g.wallBytes {
		s.EntityBytes(WallBase+uint64(i), b)
	}
	for i := range g.pickups {
		s.Entity(PickupBase+uint64(i), &g.pickups[i].ent)
	}
	g.globals.RemainingTicks = g.remaining
	s.Globals(&g.globals)
}

func (g *Game) finish(ctx *game.Context) {
	g.ended = true
	var best uint32
	res := &arenav1.Result{}
	for i := range g.players {
		if p := &g.players[i]; p.in {
			best = max(best, p.msg.Score)
			res.Players = append(res.Players, p.msg.CloneVT())
		}
	}
	var winners []uint32
	for _, p := range res.Players {
		if p.Score == best {
			winners = append(winners, p.Seat)
		}
	}
	data, _ := res.MarshalVT()
	ctx.End(game.MatchResult{WinnerSeats: winners, Reason: "time_up", Data: data})
}

// viewGame is the arena with an area of interest.
type viewGame struct{ *Game }

var _ game.Viewer = (*viewGame)(nil)

// View sends a player the entities within the view radius of it; a
// spectator sees everything.
func (g *viewGame) View(ctx *game.Context, p game.Player, v *game.Snapshot) {
	if p.Spectator || int(p.Seat) > len(g.players) || !g.players[p.Seat-1].in {
		g.shareAll(v)
		return
	}
	me := &g.players[p.Seat-1].msg
	r := g.cfg.viewRadius
	for i := range g.players {
		if q := &g.players[i]; q.in && near(me.X, me.Y, q.msg.X, q.msg.Y, r) {
			v.Share(uint64(i + 1))
		}
	}
	for i := range g.walls {
		w := g.walls[i]
		if me.X+r >= w.X && me.X-r <= w.X+w.W && me.Y+r >= w.Y && me.Y-r <= w.Y+w.H {
			v.Share(WallBase + uint64(i))
		}
	}
	for i := range g.pickups {
		if pk := &g.pickups[i].msg; near(me.X, me.Y, pk.X, pk.Y, r) {
			v.Share(PickupBase + uint64(i))
		}
	}
}

func (g *viewGame) shareAll(v *game.Snapshot) {
	for i := range g.players {
		if g.players[i].in {
			v.Share(uint64(i + 1))
		}
	}
	for i := range g.walls {
		v.Share(WallBase + uint64(i))
	}
	for i := range g.pickups {
		v.Share(PickupBase + uint64(i))
	}
}

func near(ax, ay, bx, by, r int32) bool {
	return abs(ax-bx) <= r && abs(ay-by) <= r
}
