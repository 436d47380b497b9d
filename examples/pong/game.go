package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tickroom/tickroom/examples/pong/pongv1"
	"github.com/tickroom/tickroom/game"
)

// Court geometry, in court units (the court is 1×1).
const (
	paddleX     = 0.04 // distance of each paddle from its edge
	paddleHalf  = 0.1  // half a paddle's height
	paddleSpeed = 0.9  // per second
	ballRadius  = 0.015
	ballSpeed   = 0.6 // at each serve, per second
	speedUp     = 1.06
	maxSpeed    = 1.6
	ballID      = 100
)

// Input refusal codes, sent in a GameMessage.
const (
	codeMalformed = 1
	codeBadDir    = 2
)

// Definition registers pong: two players, 30 ticks a second, the match
// starts when both have joined. Room option "target" is the winning
// score, 1..21 (default 5); a room of one player seat is refused. Its Schema lets the monitor's inspector show a
// room's paddles, ball and score as fields.
func Definition() game.Definition {
	return game.Definition{
		Name: "pong", TickRate: 30, MaxPlayers: 2, MinPlayers: 2, MaxSpectators: 8, New: newPong,
		Schema: game.Schema{Globals: (*pongv1.Globals)(nil).ProtoReflect().Type(), Entity: entityType},
	}
}

// entityType is the message type of entity id: the ball, or a seat's paddle.
func entityType(id uint64) protoreflect.MessageType {
	if id == ballID {
		return (*pongv1.Ball)(nil).ProtoReflect().Type()
	}
	return (*pongv1.Paddle)(nil).ProtoReflect().Type()
}

// pong is one match. The runtime calls it only on the room's tick worker,
// one call at a time, so it needs no lock.
type pong struct {
	rng     *rand.Rand
	target  uint32
	paddles [3]*paddle // by seat; index 0 unused
	ball    pongv1.Ball
	serveAt uint64 // tick of the next serve; 0 while the ball is in play
	toward  int    // the side the next serve goes to: 1 left, 2 right
}

type paddle struct {
	msg pongv1.Paddle
	dir int32
}

func newPong(s game.Setup) (game.Game, error) {
	if s.MaxPlayers < 2 {
		// A room of one seat would wait for an opponent forever.
		return nil, fmt.Errorf("pong needs 2 player seats, not %d", s.MaxPlayers)
	}
	g := &pong{target: 5, rng: rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15))}
	if v, ok := s.Options["target"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 21 {
			return nil, fmt.Errorf("target %q is not 1..21", v)
		}
		g.target = uint32(n)
	}
	g.toward = 1 + g.rng.IntN(2)
	g.ball = pongv1.Ball{X: 0.5, Y: 0.5}
	return g, nil
}

func (g *pong) Accept(*game.Context, game.Player) error { return nil }

func (g *pong) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	if p.Spectator {
		return
	}
	switch kind {
	case game.NoticeJoined:
		g.paddles[p.Seat] = &paddle{msg: pongv1.Paddle{Seat: p.Seat, Y: 0.5, Name: p.Name}}
	case game.NoticeLeft:
		if ctx.Phase() == game.PhaseRunning {
			// The one who stays wins by forfeit; the result keeps the
			// leaver's score, so it ends before the paddle goes.
			g.end(ctx, 3-p.Seat, "forfeit")
		}
		g.paddles[p.Seat] = nil
	}
}

func (g *pong) Input(ctx *game.Context, seat uint32, data []byte) error {
	var in pongv1.Input
	if err := in.UnmarshalVT(data); err != nil {
		return &game.InputError{Code: codeMalformed, Text: "not a pong.v1.Input"}
	}
	if in.Dir < -1 || in.Dir > 1 {
		return &game.InputError{Code: codeBadDir, Text: "dir must be -1, 0 or 1"}
	}
	if p := g.paddles[seat]; p != nil {
		p.dir = in.Dir
	}
	return nil
}

func (g *pong) Update(ctx *game.Context, dt time.Duration) {
	s := float32(dt.Seconds())
	for _, p := range g.paddles {
		if p != nil {
			p.msg.Y = clamp(p.msg.Y+float32(p.dir)*paddleSpeed*s, paddleHalf, 1-paddleHalf)
		}
	}
	if g.serveAt == 0 && g.ball.Vx == 0 {
		// The first tick of the match: a second to get ready.
		g.serveAt = ctx.Tick() + uint64(ctx.TickRate())
	}
	if g.serveAt != 0 {
		if ctx.Tick() < g.serveAt {
			return
		}
		g.serve()
	}
	b := &g.ball
	from := b.X
	b.X += b.Vx * s
	b.Y += b.Vy * s
	if b.Y < ballRadius && b.Vy < 0 || b.Y > 1-ballRadius && b.Vy > 0 {
		b.Vy = -b.Vy
	}
	if b.Vx < 0 {
		g.hit(1, paddleX, 1, from)
	} else {
		g.hit(2, 1-paddleX, -1, from)
	}
	switch {
	case b.X < 0:
		g.point(ctx, 2)
	case b.X > 1:
		g.point(ctx, 1)
	}
}

// serve puts the ball in play from the centre toward g.toward, at an angle
// drawn from the room's seeded source, so a replay with the same seed and
// inputs plays the same.
func (g *pong) serve() {
	g.serveAt = 0
	angle := (g.rng.Float32()*2 - 1) * 0.6
	vx := float32(ballSpeed)
	if g.toward == 1 {
		vx = -vx
	}
	g.ball = pongv1.Ball{X: 0.5, Y: 0.5, Vx: vx, Vy: angle * ballSpeed}
}

// hit bounces the ball off seat's paddle at x when it reaches it; out is
// the direction the ball leaves in, from where it was before this tick's
// move. A ball that was at most a little past the paddle's line then
// (0.05) is still in reach, however far this tick took it: at a slow tick
// rate a fast ball crosses the line in one tick. Where it hits the paddle
// steers it.
func (g *pong) hit(seat uint32, x float32, out float32, from float32) {
	p, b := g.paddles[seat], &g.ball
	if p == nil {
		return
	}
	edge := b.X - out*ballRadius
	if (out > 0 && edge > x) || (out < 0 && edge < x) || (from-x)*out < -0.05 {
		return
	}
	off := b.Y - p.msg.Y
	if abs(off) > paddleHalf+ballRadius {
		return
	}
	speed := min(abs(b.Vx)*speedUp, maxSpeed)
	b.Vx = out * speed
	b.Vy += off * 3
	b.X = x + out*ballRadius
}

// point scores for seat and serves toward the other side, or ends the
// match at the target.
func (g *pong) point(ctx *game.Context, seat uint32) {
	p := g.paddles[seat]
	if p == nil {
		return
	}
	p.msg.Score++
	if p.msg.Score >= g.target {
		g.end(ctx, seat, "score")
		return
	}
	g.toward = int(3 - seat)
	g.ball = pongv1.Ball{X: 0.5, Y: 0.5}
	g.serveAt = ctx.Tick() + uint64(ctx.TickRate())
}

func (g *pong) end(ctx *game.Context, winner uint32, reason string) {
	res := pongv1.Result{Scores: make([]uint32, 2)}
	for seat := 1; seat <= 2; seat++ {
		if p := g.paddles[seat]; p != nil {
			res.Scores[seat-1] = p.msg.Score
		}
	}
	data, _ := res.MarshalVT()
	g.ball = pongv1.Ball{X: 0.5, Y: 0.5}
	ctx.End(game.MatchResult{WinnerSeats: []uint32{winner}, Reason: reason, Data: data})
}

func (g *pong) Encode(s *game.Snapshot) {
	for _, p := range g.paddles {
		if p != nil {
			s.Entity(uint64(p.msg.Seat), &p.msg)
		}
	}
	s.Entity(ballID, &g.ball)
	s.Globals(&pongv1.Globals{Target: g.target, ServeTick: g.serveAt})
}

func clamp(v, lo, hi float32) float32 { return max(lo, min(hi, v)) }

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
