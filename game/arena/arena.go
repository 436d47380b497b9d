// Package arena is the built-in real-time game: players steer around a
// top-down map, collide with walls and with each other, and collect pickups
// to score. It is the bots' main load.
//
// The simulation runs on integers in milli-units (a thousandth of a world
// unit), so a match is deterministic for a given seed and input sequence.
// The state it sends is quantized for the wire (arenav1): distances in
// centi-units, velocities in quarter units per second, so a player moving
// at full speed at 20 Hz changes each coordinate by a one-byte delta
// (docs/state-sync.md). Entity ids: a player's is its seat and its entity
// an arenav1.Player, walls are WallBase+i (arenav1.Wall), pickups
// PickupBase+i (arenav1.Pickup); unchanged walls and pickups are encoded
// once, not every tick. On a large map
// (option "view_radius" > 0, on by default when the map is larger than
// 100×100 units) each player is sent only what lies near it.
//
// Options (CreateRoom's options, as text): width and height in units
// (10–2000, default 40×30), walls (0–200, default 6, and at most one for
// each 64 units² of map, so walls cover about a quarter of it at most and
// every spawn finds a free spot), pickups (0–1000, default 20),
// view_radius (0–2000 units), duration_seconds (0–86400; 0: no end) and
// seed. An option out of its range is refused, and the room with it.
//
// A timed match ends when its time is up: the players with the highest
// score win, and when every player has it (all tied) the match is a draw,
// with no winner. A player alone when the time is up beat nobody: the
// result names no winner and reports no scores for the standings (its
// data still holds the player's points).
package arena

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/arenav1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
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
	return game.Definition{
		Name: "arena", New: New, Cost: Cost, TickRate: 20, MaxPlayers: 32, InputRate: 60,
		Schema: game.Schema{
			Globals: (*arenav1.Globals)(nil).ProtoReflect().Type(),
			Entity:  entityType,
		},
	}
}

// entityType is the message type of the entity with the given id.
func entityType(id uint64) protoreflect.MessageType {
	switch {
	case id >= PickupBase:
		return (*arenav1.Pickup)(nil).ProtoReflect().Type()
	case id >= WallBase:
		return (*arenav1.Wall)(nil).ProtoReflect().Type()
	}
	return (*arenav1.Player)(nil).ProtoReflect().Type()
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
	// A wall covers 16 units² on average (4–12 by 1–3): past a quarter of
	// the map in walls, a spawn finds no free spot (freeSpot gives up) and
	// a player could start inside a wall, never to move.
	if most := w * h / (4 * 16); c.walls > most {
		return c, fmt.Errorf("arena: option walls=%d: a %d×%d map takes at most %d", c.walls, w, h, most)
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

// Cost prices a room by its tick work (BenchmarkArenaTick): a fixed part,
// each player against every entity (players, walls and pickups: moves,
// collisions, collection, and views), and a frame of its own per player
// when the view radius is on, which a map larger than 100×100 units turns
// on by default. That is the map area's share: the map itself holds no
// memory and takes no work. A unit is 1,000 player-entity pairs a 20 Hz
// tick (a quarter of the default room's tick when full), so the default
// room (32 players) costs 4,
// 32 players on the largest map with 200 walls and 1,000 pickups 51, and
// that room at 120 Hz 305. Options New refuses cost what the defaults do.
func Cost(s game.Setup) int {
	c, err := parseOptions(s)
	if err != nil {
		c, _ = parseOptions(game.Setup{TickRate: s.TickRate})
	}
	players := max(s.MaxPlayers, 1)
	work := costBase + players*(players+c.walls+c.pickups)
	if c.viewRadius > 0 {
		work += players * costViewFrame
	}
	// work × (tick rate / 20), in units, rounded up.
	return (work*max(s.TickRate, 1) + costUnit*20 - 1) / (costUnit * 20)
}

// Cost model constants, in player-entity pairs a tick, fitted to
// BenchmarkArenaTick (20 and 32 players on the default map, 32 with views
// on a 400×400 map and on the largest).
const (
	costUnit      = 1000
	costBase      = 1800 // a tick's fixed work
	costViewFrame = 300  // a player's own view frame
)

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

// player is one seat's avatar. Positions and velocities are in
// milli-units; wire is what is sent.
type player struct {
	in     bool
	dx, dy int32 // steering, -1000..1000
	x, y   int32
	vx, vy int32
	score  uint32
	seat   uint32
	name   string
}

// pickup is a pickup in milli-units and its encoded wire message
// (wire[:n]; n is 0 when it must be encoded again). Plain fields and a
// fixed buffer rather than an arenav1.Pickup and a slice: a room holds
// 20 of them by default, and this is half the bytes.
type pickup struct {
	x, y  int32
	value uint32
	n     uint8
	wire  [pickupWireMax]byte
}

// wall is a wall in milli-units and its encoded wire message (wire[:n]),
// kept as pickups are rather than as an arenav1.Wall and its bytes apart.
type wall struct {
	X, Y, W, H int32
	n          uint8
	wire       [wallWireMax]byte
}

// wallWireMax is the largest arenav1.Wall encoding: four fields of a tag
// byte and at most five bytes of varint each.
const wallWireMax = 4 * (1 + 5)

// pickupWireMax is the largest arenav1.Pickup encoding: three fields of a
// tag byte and at most five bytes of varint each.
const pickupWireMax = 3 * (1 + 5)

// Wire units: positions and sizes in centi-units, velocities in quarter
// units per second.
const (
	milliPerWire    = 10
	milliPerWireVel = 250
)

// wireDist converts a distance in milli-units to centi-units, rounding.
func wireDist(v int32) int32 {
	if v < 0 {
		return -wireDist(-v)
	}
	return (v + milliPerWire/2) / milliPerWire
}

// wireVel converts a velocity in milli-units per second to quarter units
// per second, rounding.
func wireVel(v int32) int32 {
	if v < 0 {
		return -wireVel(-v)
	}
	return (v + milliPerWireVel/2) / milliPerWireVel
}

// toWire returns p's wire message.
func toWire(p *player) *arenav1.Player {
	return &arenav1.Player{Seat: p.seat, Name: p.name, X: uint32(wireDist(p.x)), Y: uint32(wireDist(p.y)),
		Vx: wireVel(p.vx), Vy: wireVel(p.vy), Score: p.score}
}

// appendPlayer appends p's wire message, encoded as toWire(p).MarshalVT
// does it (fields in order, zero values left out: TestPlayerWire), to b.
// Every player that moved is encoded every tick, and the generated code
// sizes the message first and writes it backwards from a message filled
// for it: this is one pass, forwards.
func appendPlayer(b []byte, p *player) []byte {
	if p.seat != 0 {
		b = appendField(b, 1<<3, uint64(p.seat))
	}
	if p.name != "" {
		b = appendField(b, 2<<3|byte(protowire.BytesType), uint64(len(p.name)))
		b = append(b, p.name...)
	}
	if v := uint32(wireDist(p.x)); v != 0 {
		b = appendField(b, 3<<3, uint64(v))
	}
	if v := uint32(wireDist(p.y)); v != 0 {
		b = appendField(b, 4<<3, uint64(v))
	}
	if v := wireVel(p.vx); v != 0 {
		b = appendField(b, 5<<3, uint64(uint32(v<<1)^uint32(v>>31)))
	}
	if v := wireVel(p.vy); v != 0 {
		b = appendField(b, 6<<3, uint64(uint32(v<<1)^uint32(v>>31)))
	}
	if p.score != 0 {
		b = appendField(b, 7<<3, uint64(p.score))
	}
	return b
}

// appendField appends a one-byte tag and the varint v: in line for a v
// under 128 (a seat, a name's length, a velocity), through protowire
// for a longer one.
func appendField(b []byte, tag byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, tag, byte(v))
	}
	return protowire.AppendVarint(append(b, tag), v)
}

// Game is one arena match. Its methods run on the room's tick worker.
type Game struct {
	cfg       config
	rng       rng
	players   []player // index seat-1
	walls     []wall
	pickups   []pickup
	remaining uint32
	ended     bool
	input     arenav1.Input
	globals   arenav1.Globals
	enc       []byte // Encode's, a player's wire message
}

var _ game.Game = (*Game)(nil)

func newGame(c config, maxPlayers int) *Game {
	g := &Game{cfg: c, rng: rng(c.seed | 1), players: make([]player, maxPlayers), walls: make([]wall, 0, c.walls), remaining: c.durationTicks}
	for range c.walls {
		ww := int32(g.rng.intn(4000, 12000))
		wh := int32(g.rng.intn(1000, 3000))
		if g.rng.next()%2 == 0 {
			ww, wh = wh, ww
		}
		g.walls = append(g.walls, newWall(int32(g.rng.intn(0, int(max(1, c.width-ww)))), int32(g.rng.intn(0, int(max(1, c.height-wh)))), ww, wh))
	}
	g.pickups = make([]pickup, c.pickups)
	for i := range g.pickups {
		pk := &g.pickups[i]
		pk.x, pk.y = g.freeSpot(PickupRadius)
		pk.value = uint32(1 + g.rng.next()%3)
	}
	g.globals = arenav1.Globals{Width: wireDist(c.width), Height: wireDist(c.height), PlayerRadius: wireDist(PlayerRadius),
		PickupRadius: wireDist(PickupRadius), ViewRadius: wireDist(c.viewRadius)}
	return g
}

// newWall returns the wall at x, y of w by h, with its wire message.
func newWall(x, y, w, h int32) wall {
	wl := wall{X: x, Y: y, W: w, H: h}
	m := arenav1.Wall{X: wireDist(x), Y: wireDist(y), W: wireDist(w), H: wireDist(h)}
	n := m.SizeVT()
	_, _ = m.MarshalToSizedBufferVT(wl.wire[:n])
	wl.n = uint8(n)
	return wl
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
		*pl = player{in: true, seat: p.Seat, name: p.Name}
		pl.x, pl.y = g.freeSpot(PlayerRadius)
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
	dx, dy, ok := decodeInput(data)
	if !ok {
		// Zeroed, not Reset: Reset also stores the message's reflection
		// info, an atomic store and a lookup per input that UnmarshalVT
		// never reads.
		g.input = arenav1.Input{}
		if err := g.input.UnmarshalVT(data); err != nil {
			return errMalformed
		}
		dx, dy = g.input.Dx, g.input.Dy
	}
	if int(seat) > len(g.players) || !g.players[seat-1].in {
		return nil
	}
	dx, dy = clamp(dx, -maxInput, maxInput), clamp(dy, -maxInput, maxInput)
	// A direction longer than maxInput is scaled down to it; isqrt(d2)
	// exceeds maxInput exactly when d2 reaches (maxInput+1)², which most
	// inputs (a unit direction at full tilt, d2 ≤ maxInput²) do not.
	if d2 := int64(dx)*int64(dx) + int64(dy)*int64(dy); d2 >= (maxInput+1)*(maxInput+1) {
		m := isqrt(d2)
		dx, dy = int32(int64(dx)*maxInput/m), int32(int64(dy)*maxInput/m)
	}
	p := &g.players[seat-1]
	p.dx, p.dy = dx, dy
	return nil
}

// decodeInput reads an arenav1.Input as a client encodes it: the fields
// dx and dy (tags 0x08 and 0x10), each a varint of one or two bytes (a
// direction in -1000..1000 zigzag encoded takes at most two), in any
// order, the last of a field winning. ok is false for anything else, which
// UnmarshalVT reads (or refuses); what decodeInput reads, UnmarshalVT
// reads the same (TestDecodeInput). Every input of every player goes
// through here, and with the generated reader's general loop an input
// costs half again as much (BenchmarkInput: 196 instructions against 130).
func decodeInput(b []byte) (dx, dy int32, ok bool) {
	for i := 0; i < len(b); {
		tag := b[i]
		if tag != 1<<3 && tag != 2<<3 || i+1 >= len(b) {
			return 0, 0, false
		}
		var v uint32
		if c := b[i+1]; c < 0x80 {
			v, i = uint32(c), i+2
		} else if i+2 < len(b) && b[i+2] < 0x80 {
			v, i = uint32(c&0x7f)|uint32(b[i+2])<<7, i+3
		} else {
			return 0, 0, false
		}
		if d := int32(v>>1) ^ -int32(v&1); tag == 1<<3 {
			dx = d
		} else {
			dy = d
		}
	}
	return dx, dy, true
}

// Update moves every player, resolves collisions and pickups, and ends a
// timed match.
func (g *Game) Update(ctx *game.Context, dt time.Duration) {
	if g.ended {
		return
	}
	// Microseconds: whole milliseconds would drop 1/3 ms of a 120 Hz
	// tick's 8 1/3, moving players 4 % slower than Speed.
	us := int64(dt / time.Microsecond)
	for i := range g.players {
		p := &g.players[i]
		if !p.in {
			continue
		}
		p.vx = int32(int64(p.dx) * Speed / maxInput)
		p.vy = int32(int64(p.dy) * Speed / maxInput)
		g.move(p, int32(int64(p.vx)*us/1_000_000), 0)
		g.move(p, 0, int32(int64(p.vy)*us/1_000_000))
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
			g.enc = appendPlayer(g.enc[:0], p)
			s.EntityBytes(uint64(i+1), g.enc)
		}
	}
	for i := range g.walls {
		w := &g.walls[i]
		s.EntityBytes(WallBase+uint64(i), w.wire[:w.n])
	}
	for i := range g.pickups {
		s.EntityBytes(PickupBase+uint64(i), g.pickupBytes(i))
	}
	g.globals.RemainingTicks = g.remaining
	s.Globals(&g.globals)
}

// pickupBytes returns pickup i's wire message, encoding it when it moved.
func (g *Game) pickupBytes(i int) []byte {
	pk := &g.pickups[i]
	if pk.n == 0 {
		m := arenav1.Pickup{X: wireDist(pk.x), Y: wireDist(pk.y), Value: pk.value}
		n := m.SizeVT()
		_, _ = m.MarshalToSizedBufferVT(pk.wire[:n])
		pk.n = uint8(n)
	}
	return pk.wire[:pk.n]
}

func (g *Game) finish(ctx *game.Context) {
	g.ended = true
	var best uint32
	res := &arenav1.Result{}
	for i := range g.players {
		if p := &g.players[i]; p.in {
			best = max(best, p.score)
			res.Players = append(res.Players, toWire(p))
		}
	}
	var winners []uint32
	scores := make([]game.SeatScore, 0, len(res.Players))
	for _, p := range res.Players {
		if p.Score == best {
			winners = append(winners, p.Seat)
		}
		scores = append(scores, game.SeatScore{Seat: p.Seat, Score: int64(p.Score)})
	}
	switch {
	case len(res.Players) == 1:
		// A round alone beat nobody: no win, and no points for the
		// standings, or one guest could fill the leaderboard with
		// one-second rooms of its own.
		winners, scores = nil, nil
	case len(winners) == len(res.Players):
		winners = nil // all tied: a draw, nobody beat anybody
	}
	data, _ := res.MarshalVT()
	ctx.End(game.MatchResult{WinnerSeats: winners, Reason: "time_up", Data: data, Scores: scores})
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
	me := &g.players[p.Seat-1]
	r := g.cfg.viewRadius
	for i := range g.players {
		if q := &g.players[i]; q.in && near(me.x, me.y, q.x, q.y, r) {
			v.Share(uint64(i + 1))
		}
	}
	for i := range g.walls {
		w := &g.walls[i]
		if me.x+r >= w.X && me.x-r <= w.X+w.W && me.y+r >= w.Y && me.y-r <= w.Y+w.H {
			v.Share(WallBase + uint64(i))
		}
	}
	for i := range g.pickups {
		if pk := &g.pickups[i]; near(me.x, me.y, pk.x, pk.y, r) {
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
