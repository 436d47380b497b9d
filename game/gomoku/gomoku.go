// Package gomoku is the built-in five-in-a-row game on a 15×15 board.
//
// Seat 1 plays black and moves first; seat 2 plays white. A move is a
// gomokuv1.Move input. An illegal or out-of-turn move is refused with a
// GameMessage whose code is a gomokuv1.ErrorCode and changes nothing. Five
// or more in a row wins; a full board is a draw; a player who runs out of
// time on a move, or leaves, loses. Stones are entities (id y*15+x+1) and
// the turn is in the globals.
//
// A match can be saved and restored on another node (game.Saver): the
// stones and the globals, as a gomokuv1.Saved. The per-move deadline is a
// tick number, and a restored room keeps its tick numbers, so the player
// to move has the same number of ticks left; the time the room spends
// moving does not count against it.
package gomoku

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Size is the board's width and height.
const Size = 15

// DefaultMoveTime is the per-move time limit when the room sets none.
const DefaultMoveTime = 30 * time.Second

// Definition registers gomoku: two players at 10 Hz.
func Definition() game.Definition {
	return game.Definition{
		Name: "gomoku", New: New, TickRate: 10, MaxPlayers: 2, MinPlayers: 2, InputRate: 10,
		Schema: game.Schema{
			Globals: (*gomokuv1.Globals)(nil).ProtoReflect().Type(),
			Entity:  func(uint64) protoreflect.MessageType { return (*gomokuv1.Stone)(nil).ProtoReflect().Type() },
		},
	}
}

// Game is one gomoku match. Its methods run on the room's tick worker.
type Game struct {
	board    [Size][Size]uint8 // 0 empty, else the seat
	encoded  [Size * Size][]byte
	moves    uint32
	turn     uint32
	deadline uint64 // tick at which the player to move runs out of time; 0 = none
	moveTime time.Duration
	last     uint64
	ended    bool
	move     gomokuv1.Move
	globals  gomokuv1.Globals
	version  uint64 // bumped on every change of the stones or globals
}

var (
	_ game.Game      = (*Game)(nil)
	_ game.Saver     = (*Game)(nil)
	_ game.Versioned = (*Game)(nil)
)

// New creates a match. Option "move_seconds" sets the per-move time limit
// (0 means none; default 30). A room asked with fewer than two player seats
// is refused: its match could never start.
func New(s game.Setup) (game.Game, error) {
	if s.MaxPlayers < 2 {
		// A room of one seat would wait for an opponent forever.
		return nil, fmt.Errorf("gomoku: a match needs 2 player seats, not %d", s.MaxPlayers)
	}
	g := &Game{moveTime: DefaultMoveTime}
	if v, ok := s.Options["move_seconds"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3600 {
			return nil, fmt.Errorf("gomoku: move_seconds %q not in 0..3600", v)
		}
		g.moveTime = time.Duration(n) * time.Second
	}
	return g, nil
}

// Accept takes any player or spectator: the runtime caps players at two.
func (g *Game) Accept(ctx *game.Context, p game.Player) error { return nil }

// Notice ends the match by forfeit when a player leaves during it.
func (g *Game) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	if kind == game.NoticeLeft && !p.Spectator && ctx.Phase() == game.PhaseRunning && !g.ended {
		g.finish(ctx, other(p.Seat), gomokuv1.Outcome_OUTCOME_FORFEIT, "forfeit", nil)
	}
}

func other(seat uint32) uint32 { return 3 - seat }

func refuse(code gomokuv1.ErrorCode, text string) error {
	return &game.InputError{Code: uint32(code), Text: text}
}

// Input places a stone for seat, or refuses the move.
func (g *Game) Input(ctx *game.Context, seat uint32, data []byte) error {
	g.move.Reset()
	if err := g.move.UnmarshalVT(data); err != nil {
		return refuse(gomokuv1.ErrorCode_ERROR_CODE_MALFORMED, "input is not a gomoku move")
	}
	switch {
	case ctx.Phase() != game.PhaseRunning || g.ended || g.turn == 0:
		return refuse(gomokuv1.ErrorCode_ERROR_CODE_NOT_RUNNING, "the match is not running")
	case seat != g.turn:
		return refuse(gomokuv1.ErrorCode_ERROR_CODE_NOT_YOUR_TURN, "it is not your turn")
	case g.move.X >= Size || g.move.Y >= Size:
		return refuse(gomokuv1.ErrorCode_ERROR_CODE_OUT_OF_BOARD, "the move is off the board")
	case g.board[g.move.Y][g.move.X] != 0:
		return refuse(gomokuv1.ErrorCode_ERROR_CODE_OCCUPIED, "the point is taken")
	}
	x, y := int(g.move.X), int(g.move.Y)
	g.version++
	g.board[y][x] = uint8(seat)
	g.moves++
	id := uint64(y*Size + x + 1)
	g.last = id
	st := &gomokuv1.Stone{X: uint32(x), Y: uint32(y), Seat: seat, Move: g.moves}
	g.encoded[id-1], _ = st.MarshalVT()
	if line := g.line(x, y); line != nil {
		g.finish(ctx, seat, gomokuv1.Outcome_OUTCOME_FIVE_IN_A_ROW, "five_in_a_row", line)
		return nil
	}
	if g.moves == Size*Size {
		g.finish(ctx, 0, gomokuv1.Outcome_OUTCOME_DRAW, "draw", nil)
		return nil
	}
	g.turn = other(seat)
	g.startClock(ctx)
	return nil
}

func (g *Game) startClock(ctx *game.Context) {
	g.deadline = 0
	if g.moveTime > 0 {
		g.deadline = ctx.Tick() + uint64(g.moveTime*time.Duration(ctx.TickRate())/time.Second)
	}
}

// line returns the stones of a row of five or more through (x, y), or nil.
func (g *Game) line(x, y int) []*gomokuv1.Stone {
	seat := g.board[y][x]
	for _, d := range [4][2]int{{1, 0}, {0, 1}, {1, 1}, {1, -1}} {
		// Walk back to the start of the run, then forward along it.
		sx, sy := x, y
		for in(sx-d[0], sy-d[1]) && g.board[sy-d[1]][sx-d[0]] == seat {
			sx, sy = sx-d[0], sy-d[1]
		}
		n := 0
		for cx, cy := sx, sy; in(cx, cy) && g.board[cy][cx] == seat; cx, cy = cx+d[0], cy+d[1] {
			n++
		}
		if n < 5 {
			continue
		}
		line := make([]*gomokuv1.Stone, 0, n)
		for i := range n {
			cx, cy := sx+i*d[0], sy+i*d[1]
			line = append(line, &gomokuv1.Stone{X: uint32(cx), Y: uint32(cy), Seat: uint32(seat)})
		}
		return line
	}
	return nil
}

func in(x, y int) bool { return x >= 0 && y >= 0 && x < Size && y < Size }

func (g *Game) finish(ctx *game.Context, winner uint32, outcome gomokuv1.Outcome, reason string, line []*gomokuv1.Stone) {
	g.version++
	g.ended = true
	g.turn = 0
	g.deadline = 0
	data, _ := (&gomokuv1.Result{Outcome: outcome, Line: line}).MarshalVT()
	res := game.MatchResult{Reason: reason, Data: data}
	if winner != 0 {
		res.WinnerSeats = []uint32{winner}
	}
	ctx.End(res)
}

// Update starts the first turn and enforces the per-move time limit.
func (g *Game) Update(ctx *game.Context, dt time.Duration) {
	if g.ended {
		return
	}
	if g.turn == 0 {
		g.version++
		g.turn = 1
		g.startClock(ctx)
		return
	}
	if g.deadline != 0 && ctx.Tick() >= g.deadline {
		g.finish(ctx, other(g.turn), gomokuv1.Outcome_OUTCOME_TIMEOUT, "timeout", nil)
	}
}

// StateVersion counts the changes of the stones and globals: between
// moves a room's ticks skip Encode (game.Versioned).
func (g *Game) StateVersion() uint64 { return g.version }

var _ game.Sleeper = (*Game)(nil)

// Wake is the tick Update next has work at (game.Sleeper): the move
// clock's deadline while one runs; none between moves without a clock or
// after the end. Until the first Update has given the first turn it must
// run every tick.
func (g *Game) Wake() uint64 {
	switch {
	case g.ended:
		return game.NeverWake
	case g.turn == 0:
		return 0
	case g.deadline != 0:
		return g.deadline
	}
	return game.NeverWake
}

// Encode writes every stone and the globals.
func (g *Game) Encode(s *game.Snapshot) {
	for i, b := range g.encoded {
		if b != nil {
			s.EntityBytes(uint64(i+1), b)
		}
	}
	g.globals = gomokuv1.Globals{TurnSeat: g.turn, Moves: g.moves, TurnDeadlineTick: g.deadline, LastMove: g.last}
	s.Globals(&g.globals)
}

// Save writes the stones in the order played and the globals.
func (g *Game) Save(ctx *game.Context) ([]byte, error) {
	sv := &gomokuv1.Saved{Globals: &gomokuv1.Globals{TurnSeat: g.turn, Moves: g.moves, TurnDeadlineTick: g.deadline, LastMove: g.last}}
	sv.Stones = make([]*gomokuv1.Stone, g.moves)
	for _, b := range g.encoded {
		if b == nil {
			continue
		}
		st := &gomokuv1.Stone{}
		if err := st.UnmarshalVT(b); err != nil {
			return nil, err
		}
		if st.Move == 0 || st.Move > g.moves || sv.Stones[st.Move-1] != nil {
			return nil, fmt.Errorf("gomoku: stone %d,%d has move %d of %d", st.X, st.Y, st.Move, g.moves)
		}
		sv.Stones[st.Move-1] = st
	}
	return sv.MarshalVT()
}

// Restore loads a match written by Save, checking that it is one a match
// could reach: stones on the board, on distinct points, numbered 1..moves,
// alternating from black; the turn a seat; no finished line.
func (g *Game) Restore(ctx *game.Context, data []byte) error {
	var sv gomokuv1.Saved
	if err := sv.UnmarshalVT(data); err != nil {
		return fmt.Errorf("gomoku: saved match: %w", err)
	}
	gl := sv.Globals
	if gl == nil || int(gl.Moves) != len(sv.Stones) || gl.Moves >= Size*Size || gl.TurnSeat > 2 {
		return fmt.Errorf("gomoku: saved match: bad globals")
	}
	for i, st := range sv.Stones {
		if st == nil || st.X >= Size || st.Y >= Size || st.Move != uint32(i+1) || st.Seat != uint32(i%2+1) || g.board[st.Y][st.X] != 0 {
			return fmt.Errorf("gomoku: saved match: bad stone %d", i+1)
		}
		g.board[st.Y][st.X] = uint8(st.Seat)
		g.encoded[st.Y*Size+st.X], _ = st.MarshalVT()
		if g.line(int(st.X), int(st.Y)) != nil {
			return fmt.Errorf("gomoku: saved match: five in a row at move %d", i+1)
		}
	}
	if gl.TurnSeat != 0 && gl.TurnSeat != uint32(len(sv.Stones)%2+1) {
		return fmt.Errorf("gomoku: saved match: seat %d to move after %d moves", gl.TurnSeat, len(sv.Stones))
	}
	g.moves, g.turn, g.deadline, g.last = gl.Moves, gl.TurnSeat, gl.TurnDeadlineTick, gl.LastMove
	g.version++
	return nil
}
