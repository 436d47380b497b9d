package gomoku_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// moveTo hands m's room off and restores it on a fresh runtime, as a
// drained node's room is restored on another node; black and white resume
// there on new connections, and m plays on with them.
func (m *match) moveTo(t *testing.T) {
	t.Helper()
	var saved *tickroomv1.SavedRoom
	var herr error
	if err := m.room.Handoff(func(s *tickroomv1.SavedRoom, err error) { saved, herr = s, err }); err != nil {
		t.Fatal(err)
	}
	m.e.Advance(t, 100*time.Millisecond)
	if herr != nil || saved == nil {
		t.Fatalf("handoff: %v", herr)
	}
	wire, _ := saved.MarshalVT()
	in := &tickroomv1.SavedRoom{}
	if err := in.UnmarshalVT(wire); err != nil {
		t.Fatal(err)
	}
	e := gametest.NewEnv(t, []game.Definition{gomoku.Definition()}, nil)
	// Time passes on the new node before the players arrive.
	e.Advance(t, 3*time.Second)
	r, err := e.RT.RestoreRoom(in)
	if err != nil {
		t.Fatal(err)
	}
	m.e, m.room = e, r
	for seat, u := range map[uint32]string{1: "black", 2: "white"} {
		c := gametest.NewClient(u + "-moved")
		res := e.Join(t, r, game.JoinRequest{UserID: u, Client: c, ResumeTick: saved.Tick})
		if res.Err != nil || !res.Resumed || res.Seat != seat {
			t.Fatalf("%s resumes: %+v", u, res)
		}
		m.c[seat] = c
	}
	m.watch = gametest.NewClient("watch-moved")
	e.Join(t, r, game.JoinRequest{UserID: "w", Spectator: true, Client: m.watch})
	e.Advance(t, 100*time.Millisecond)
}

func (m *match) board(t *testing.T) map[uint64]string {
	t.Helper()
	b, _ := m.watch.Entities()
	return b
}

// TestSaveMidGameRestoreContinuesIdentically plays the same moves in two
// matches, one of which moves to another runtime after the sixth move:
// both see the same board and globals right after the move and reach the
// same result with the same winning line.
func TestSaveMidGameRestoreContinuesIdentically(t *testing.T) {
	t.Parallel()
	moves := [][3]uint32{ // seat, x, y
		{1, 7, 7}, {2, 0, 0}, {1, 8, 7}, {2, 0, 1}, {1, 9, 7}, {2, 0, 2},
		{1, 10, 7}, {2, 0, 3}, {1, 11, 7},
	}
	straight := newMatch(t, nil)
	moved := newMatch(t, nil)
	for i, mv := range moves {
		straight.play(t, mv[0], mv[1], mv[2])
		moved.play(t, mv[0], mv[1], mv[2])
		if i != 5 {
			continue
		}
		before, beforeGlobals := moved.board(t), moved.globals(t)
		moved.moveTo(t)
		if after := moved.board(t); !maps.Equal(before, after) || len(after) != 6 {
			t.Fatalf("board after the move has %d stones, differs: %v", len(after), !maps.Equal(before, after))
		}
		if g := moved.globals(t); g.TurnSeat != 1 || g.Moves != 6 || g.TurnDeadlineTick != beforeGlobals.TurnDeadlineTick || g.LastMove != beforeGlobals.LastMove {
			t.Fatalf("globals after the move %+v, before %+v", g, beforeGlobals)
		}
		if straight.globals(t).TurnDeadlineTick != moved.globals(t).TurnDeadlineTick {
			t.Fatal("the move changed the turn's deadline tick")
		}
		// Both players' own views were rebuilt from a keyframe.
		for seat := uint32(1); seat <= 2; seat++ {
			if b, _ := moved.c[seat].Entities(); !maps.Equal(b, before) {
				t.Fatalf("seat %d sees %d stones after resuming", seat, len(b))
			}
		}
	}
	if !maps.Equal(straight.board(t), moved.board(t)) {
		t.Fatal("final boards differ")
	}
	sr, sres := straight.result(t)
	mr, mres := moved.result(t)
	if sr == nil || mr == nil {
		t.Fatalf("results: straight %v, moved %v", sr, mr)
	}
	if !slices.Equal(sr.WinnerSeats, mr.WinnerSeats) || sr.Reason != mr.Reason || sres.Outcome != mres.Outcome || len(sres.Line) != len(mres.Line) || !slices.Equal(mr.WinnerSeats, []uint32{1}) {
		t.Fatalf("straight %v %v, moved %v %v", sr, sres, mr, mres)
	}
	// The moved runtime reports the match, with both players.
	res := moved.e.Results()
	if len(res) != 1 || len(res[0].Players) != 2 || res[0].Outcome.Reason != "five_in_a_row" {
		t.Fatalf("results on the new runtime: %+v", res)
	}
}

// TestSaveKeepsTheMoveClock: the player to move has, after the room moved,
// the ticks it had left before, and times out on the same tick number as in
// a match that never moved.
func TestSaveKeepsTheMoveClock(t *testing.T) {
	t.Parallel()
	opts := map[string]string{"move_seconds": "2"}
	straight := newMatch(t, opts)
	moved := newMatch(t, opts)
	for _, m := range []*match{straight, moved} {
		m.play(t, 1, 7, 7)
		m.play(t, 2, 8, 8)
	}
	moved.moveTo(t)
	deadline := moved.globals(t).TurnDeadlineTick
	if deadline == 0 || deadline != straight.globals(t).TurnDeadlineTick {
		t.Fatalf("deadline tick %d after the move, %d unmoved", deadline, straight.globals(t).TurnDeadlineTick)
	}
	for _, m := range []*match{straight, moved} {
		m.e.Advance(t, 2500*time.Millisecond)
	}
	var ticks []uint64
	for _, m := range []*match{straight, moved} {
		res := m.e.Results()
		if len(res) != 1 || res[0].Outcome.Reason != "timeout" || !slices.Equal(res[0].Outcome.WinnerSeats, []uint32{2}) {
			t.Fatalf("results %+v, want a timeout won by white", res)
		}
		ticks = append(ticks, res[0].Ticks)
	}
	if ticks[0] != ticks[1] || ticks[0] != deadline {
		t.Fatalf("timeout at ticks %v, want both at %d", ticks, deadline)
	}
}

// TestRestoreRefusesImpossibleMatches: a saved match that no game could
// reach is refused, and no room is left behind.
func TestRestoreRefusesImpossibleMatches(t *testing.T) {
	t.Parallel()
	m := newMatch(t, nil)
	m.play(t, 1, 7, 7)
	m.play(t, 2, 0, 0)
	var saved *tickroomv1.SavedRoom
	if err := m.room.Handoff(func(s *tickroomv1.SavedRoom, _ error) { saved = s }); err != nil {
		t.Fatal(err)
	}
	m.e.Advance(t, 100*time.Millisecond)
	if saved == nil {
		t.Fatal("no save")
	}
	e := gametest.NewEnv(t, []game.Definition{gomoku.Definition()}, nil)
	mod := func(f func(*gomokuv1.Saved)) []byte {
		var sv gomokuv1.Saved
		if err := sv.UnmarshalVT(saved.GameState); err != nil {
			t.Fatal(err)
		}
		f(&sv)
		b, _ := sv.MarshalVT()
		return b
	}
	for name, state := range map[string][]byte{
		"garbage":          []byte{0xff, 0xff},
		"no globals":       mod(func(s *gomokuv1.Saved) { s.Globals = nil }),
		"stone off board":  mod(func(s *gomokuv1.Saved) { s.Stones[0].X = gomoku.Size }),
		"same point twice": mod(func(s *gomokuv1.Saved) { s.Stones[1].X, s.Stones[1].Y = 7, 7 }),
		"white first":      mod(func(s *gomokuv1.Saved) { s.Stones[0].Seat, s.Stones[1].Seat = 2, 1 }),
		"wrong turn":       mod(func(s *gomokuv1.Saved) { s.Globals.TurnSeat = 2 }),
		"moves mismatch":   mod(func(s *gomokuv1.Saved) { s.Globals.Moves = 3 }),
	} {
		s := saved.CloneVT()
		s.GameState = state
		if _, err := e.RT.RestoreRoom(s); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
	if n := e.RT.RoomCount(); n != 0 {
		t.Fatalf("%d rooms left behind", n)
	}
}
