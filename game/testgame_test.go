package game_test

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tickroom/tickroom/game"
)

// counter is a test game: every player has an entity (id = seat) holding a
// counter; input "+" increments it, "-" removes the entity, "!" is refused,
// "end" ends the match with the sender as winner ("end-huge" too, with
// the sender's score past MaxScore and every other player's 7). Globals hold the number of
// inputs applied. A user id "banned" is refused.
type counter struct {
	vals    map[uint64]int
	applied int
	updates int
}

// games maps room ids to their counter, so tests can read a room's truth;
// versionedGames maps them to their versioned game.
var games, versionedGames sync.Map

func newCounter(s game.Setup) (game.Game, error) {
	g := &counter{vals: map[uint64]int{}}
	games.Store(s.RoomID, g)
	return g, nil
}

func (g *counter) Accept(ctx *game.Context, p game.Player) error {
	if p.UserID == "banned" {
		return game.Refuse("banned user")
	}
	return nil
}

func (g *counter) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	switch {
	case kind == game.NoticeJoined && !p.Spectator:
		g.vals[uint64(p.Seat)] = 0
	case kind == game.NoticeLeft:
		delete(g.vals, uint64(p.Seat))
	}
}

var errBang = &game.InputError{Code: 7, Text: "bang refused"}

func (g *counter) Input(ctx *game.Context, seat uint32, data []byte) error {
	switch string(data) {
	case "+":
		g.vals[uint64(seat)]++
	case "-":
		delete(g.vals, uint64(seat))
	case "!":
		return fmt.Errorf("counter: %w", errBang) // wrapped: the room finds it with errors.As
	case "end":
		ctx.End(game.MatchResult{WinnerSeats: []uint32{seat}, Reason: "test"})
	case "end-huge":
		// The sender scores past the bound, every other seat 7.
		res := game.MatchResult{WinnerSeats: []uint32{seat}, Reason: "test"}
		for id := range g.vals {
			sc := game.SeatScore{Seat: uint32(id), Score: 7}
			if sc.Seat == seat {
				sc.Score = game.MaxScore + 1
			}
			res.Scores = append(res.Scores, sc)
		}
		slices.SortFunc(res.Scores, func(a, b game.SeatScore) int { return cmp.Compare(a.Seat, b.Seat) })
		ctx.End(res)
	default:
		return errors.New("unknown input")
	}
	g.applied++
	return nil
}

func (g *counter) Update(ctx *game.Context, dt time.Duration) { g.updates++ }

func (g *counter) Encode(s *game.Snapshot) {
	for id, v := range g.vals {
		s.EntityBytes(id, strconv.AppendInt(nil, int64(v), 10))
	}
	s.GlobalsBytes(strconv.AppendInt(nil, int64(g.applied), 10))
}

// entities returns what clients should see.
func (g *counter) entities() map[uint64]string {
	out := map[uint64]string{}
	for id, v := range g.vals {
		out[id] = strconv.Itoa(v)
	}
	return out
}

// versioned is a counter that counts its changes (game.Versioned) and its
// Encode calls. With lie set, it stops counting changes.
type versioned struct {
	counter
	version, encodes uint64
	lie              bool
}

func (g *versioned) bump() {
	if !g.lie {
		g.version++
	}
}

func (g *versioned) Notice(ctx *game.Context, kind game.NoticeKind, p game.Player) {
	g.counter.Notice(ctx, kind, p)
	g.bump()
}

func (g *versioned) Input(ctx *game.Context, seat uint32, data []byte) error {
	err := g.counter.Input(ctx, seat, data)
	if err == nil {
		g.bump()
	}
	return err
}

func (g *versioned) StateVersion() uint64 { return g.version }

func (g *versioned) Encode(s *game.Snapshot) {
	g.encodes++
	g.counter.Encode(s)
}

// private is a counter whose members see only their own entity.
type private struct{ counter }

func (g *private) View(ctx *game.Context, p game.Player, v *game.Snapshot) {
	v.Share(uint64(p.Seat))
}

func testDefinitions() []game.Definition {
	return []game.Definition{
		{Name: "counter", TickRate: 20, MaxPlayers: 4, MaxSpectators: 2, New: newCounter},
		{Name: "duel", TickRate: 10, MaxPlayers: 2, MinPlayers: 2, New: newCounter},
		{Name: "versioned", TickRate: 20, MaxPlayers: 4, MaxSpectators: 2, New: func(s game.Setup) (game.Game, error) {
			g := &versioned{counter: counter{vals: map[uint64]int{}}}
			games.Store(s.RoomID, &g.counter)
			versionedGames.Store(s.RoomID, g)
			return g, nil
		}},
		{Name: "private", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
			g := &private{counter{vals: map[uint64]int{}}}
			games.Store(s.RoomID, &g.counter)
			return g, nil
		}},
	}
}
