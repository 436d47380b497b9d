package hub_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// countLogs counts the records whose message holds text.
type countLogs struct {
	n    *atomic.Int64
	text string
}

func (h countLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h countLogs) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.text) {
		h.n.Add(1)
	}
	return nil
}
func (h countLogs) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countLogs) WithGroup(string) slog.Handler      { return h }

// TestNewPanicLogsAreSpaced: a CreateRoom the game's New refuses costs
// nothing (TestRefusedCreationsCostNothing), and one whose New panics is
// refused the same way, so a game whose New panicked on some options let
// one client write a stack trace to the log with each CreateRoom, at its
// message rate; the stacks are now logged at most once every 10 s, while
// every such creation is still refused with ERROR_CODE_BAD_OPTIONS.
func TestNewPanicLogsAreSpaced(t *testing.T) {
	var logged atomic.Int64
	e := start(t, options{
		hub: func(c *hub.Config) { c.Runtime.Logger = slog.New(countLogs{&logged, "panicked in New"}) },
		games: func(r *game.Registry) {
			if err := r.Register(game.Definition{Name: "brittle", TickRate: 20, MaxPlayers: 2, New: func(s game.Setup) (game.Game, error) {
				if s.Options["mode"] == "x" {
					panic("no game for mode x")
				}
				return newTally(s)
			}}); err != nil {
				t.Fatal(err)
			}
		},
	})
	c, _ := e.connect("mallory")
	for i := range 100 {
		r := createAndLeave(t, c, &tickroomv1.CreateRoom{Game: "brittle", Options: map[string]string{"mode": "x"}})
		if r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
			t.Fatalf("creation %d with options New panics on: %v, want ERROR_CODE_BAD_OPTIONS", i+1, r)
		}
	}
	if n := logged.Load(); n != 1 {
		t.Fatalf("%d log records for 100 panics in New within seconds, want 1", n)
	}
}

// TestNewReturningNoGameLogsAreSpaced: a New that returns a nil Game and
// no error on some options refuses them as bad options, which cost the
// client nothing, so one client made the runtime log an error with each
// CreateRoom, at its message rate, as a panic in New did before its
// stacks were spaced (TestNewPanicLogsAreSpaced); the line is now written
// at most once every 10 s, every such creation still refused.
func TestNewReturningNoGameLogsAreSpaced(t *testing.T) {
	var logged atomic.Int64
	e := start(t, options{
		hub: func(c *hub.Config) { c.Runtime.Logger = slog.New(countLogs{&logged, "New returned no game"}) },
		games: func(r *game.Registry) {
			if err := r.Register(game.Definition{Name: "hollow", TickRate: 20, MaxPlayers: 2, New: func(s game.Setup) (game.Game, error) {
				if s.Options["mode"] == "x" {
					return nil, nil
				}
				return newTally(s)
			}}); err != nil {
				t.Fatal(err)
			}
		},
	})
	c, _ := e.connect("mallory")
	for i := range 100 {
		r := createAndLeave(t, c, &tickroomv1.CreateRoom{Game: "hollow", Options: map[string]string{"mode": "x"}})
		if r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
			t.Fatalf("creation %d with options New returns no game for: %v, want ERROR_CODE_BAD_OPTIONS", i+1, r)
		}
	}
	if n := logged.Load(); n != 1 {
		t.Fatalf("%d log records for 100 creations New returned no game for, within seconds, want 1", n)
	}
}

// loud is tally with a bug in what it sends: the input "shout" sends the
// player a game message over the runtime's MaxStateBytes.
type loud struct {
	tally
	size int
}

func (g *loud) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) == "shout" {
		ctx.Send(seat, game.Message{Code: 7, Data: make([]byte, g.size)})
		return nil
	}
	return g.tally.Input(ctx, seat, data)
}

// TestOversizedGameMessageLogsAreSpaced: a game message over
// game.Config.MaxStateBytes is not sent and logged, and the room plays on,
// so a game with such a bug on some input let its player write an error
// line with each input, at the seat's input rate, for as long as it liked;
// the line is now written at most once every 10 s, and no such message is
// sent.
func TestOversizedGameMessageLogsAreSpaced(t *testing.T) {
	var logged atomic.Int64
	e := start(t, options{
		hub: func(c *hub.Config) {
			c.Runtime.Logger = slog.New(countLogs{&logged, "game message over the limit"})
			c.Runtime.MaxStateBytes = 1000
		},
		games: func(r *game.Registry) {
			if err := r.Register(game.Definition{Name: "loud", TickRate: 20, MaxPlayers: 2, InputRate: 1000, New: func(game.Setup) (game.Game, error) {
				return &loud{tally: tally{vals: map[uint64]int{}}, size: 2000}, nil
			}}); err != nil {
				t.Fatal(err)
			}
		},
	})
	c, _ := e.connect("mallory")
	room := joined(t, c.Request(quickMatch("loud"))).RoomId
	for seq := range uint32(100) {
		c.Send(input(room, seq+1, []byte("shout")))
	}
	c.Send(input(room, 101, []byte("!"))) // refused: a small message, after the others
	if gm := c.Next(isKind[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage(); gm.GetCode() != 1 {
		t.Fatalf("game message %d, want the refusal (1) alone", gm.GetCode())
	}
	if n := logged.Load(); n != 1 {
		t.Fatalf("%d log records for 100 oversized game messages within seconds, want 1", n)
	}
}

// garbler is tally whose input "garble" sends the player a game message
// of text bytes that are not UTF-8, each after a letter.
type garbler struct {
	tally
	text int
}

func (g *garbler) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) == "garble" {
		ctx.Send(seat, game.Message{Code: 9, Text: strings.Repeat("A\xff", g.text/2)})
		return nil
	}
	return g.tally.Input(ctx, seat, data)
}

// TestGameTextOverTheLimitOnceMendedIsNotSent: a game message is bounded
// by game.Config.MaxStateBytes as it is sent, with each byte that is not
// UTF-8 mended to the three of U+FFFD, not as the game gave it: 800 bytes
// of text, half of them bad, are 1,600 sent, over a limit of 1,000.
func TestGameTextOverTheLimitOnceMendedIsNotSent(t *testing.T) {
	e := start(t, options{
		hub: func(c *hub.Config) { c.Runtime.MaxStateBytes = 1000 },
		games: func(r *game.Registry) {
			if err := r.Register(game.Definition{Name: "garbler", TickRate: 20, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
				return &garbler{tally: tally{vals: map[uint64]int{}}, text: 800}, nil
			}}); err != nil {
				t.Fatal(err)
			}
		},
	})
	c, _ := e.connect("mallory")
	room := joined(t, c.Request(quickMatch("garbler"))).RoomId
	c.Send(input(room, 1, []byte("garble")))
	c.Send(input(room, 2, []byte("!"))) // refused: a small message, after the other
	if gm := c.Next(isKind[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage(); gm.GetCode() != 1 {
		t.Fatalf("game message %d of %d bytes of text, want the refusal (1) alone: over the limit of 1000", gm.GetCode(), len(gm.GetText()))
	}
}
