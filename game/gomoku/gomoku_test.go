package gomoku_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// match is a running two-player gomoku room.
type match struct {
	e     *gametest.Env
	room  *game.Room
	c     [3]*gametest.Client // by seat
	seq   [3]uint32
	watch *gametest.Client // a spectator
}

func newMatch(t *testing.T, opts map[string]string) *match {
	t.Helper()
	e := gametest.NewEnv(t, []game.Definition{gomoku.Definition()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "gomoku", Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	m := &match{e: e, room: r, watch: gametest.NewClient("watch")}
	for _, u := range []string{"black", "white"} {
		c := gametest.NewClient(u)
		res := e.Join(t, r, game.JoinRequest{UserID: u, Client: c})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		m.c[res.Seat] = c
	}
	e.Join(t, r, game.JoinRequest{UserID: "w", Spectator: true, Client: m.watch})
	e.Advance(t, 200*time.Millisecond)
	if r.Phase() != game.PhaseRunning {
		t.Fatalf("phase %v", r.Phase())
	}
	return m
}

func (m *match) play(t *testing.T, seat uint32, x, y uint32) {
	t.Helper()
	data, _ := (&gomokuv1.Move{X: x, Y: y}).MarshalVT()
	m.send(t, seat, data)
}

func (m *match) send(t *testing.T, seat uint32, data []byte) {
	t.Helper()
	m.seq[seat]++
	if err := m.room.Input(seat, m.seq[seat], data); err != nil {
		t.Fatal(err)
	}
	m.e.Advance(t, 100*time.Millisecond)
}

func (m *match) globals(t *testing.T) *gomokuv1.Globals {
	t.Helper()
	g := &gomokuv1.Globals{}
	if err := g.UnmarshalVT(m.watch.Globals()); err != nil {
		t.Fatal(err)
	}
	return g
}

func (m *match) result(t *testing.T) (*tickroomv1.MatchResult, *gomokuv1.Result) {
	t.Helper()
	for _, ev := range m.watch.Events() {
		if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
			res := &gomokuv1.Result{}
			if err := res.UnmarshalVT(ev.Result.Data); err != nil {
				t.Fatal(err)
			}
			return ev.Result, res
		}
	}
	t.Fatal("no match result")
	return nil, nil
}

func TestFiveInARowWins(t *testing.T) {
	tests := []struct {
		name   string
		black  [][2]uint32
		white  [][2]uint32
		winner uint32
	}{
		{name: "row", black: [][2]uint32{{0, 7}, {1, 7}, {2, 7}, {3, 7}, {4, 7}}, white: [][2]uint32{{0, 8}, {1, 8}, {2, 8}, {3, 8}}, winner: 1},
		{name: "column by white", black: [][2]uint32{{0, 0}, {2, 0}, {4, 0}, {6, 0}, {8, 0}, {10, 0}}, white: [][2]uint32{{14, 10}, {14, 11}, {14, 12}, {14, 13}, {14, 14}}, winner: 2},
		{name: "diagonal filled in the middle", black: [][2]uint32{{3, 3}, {4, 4}, {6, 6}, {7, 7}, {5, 5}}, white: [][2]uint32{{0, 14}, {1, 14}, {2, 14}, {3, 14}}, winner: 1},
		{name: "anti-diagonal", black: [][2]uint32{{0, 0}, {0, 2}, {0, 4}, {0, 6}, {0, 8}}, white: [][2]uint32{{10, 4}, {9, 5}, {8, 6}, {7, 7}, {6, 8}}, winner: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMatch(t, nil)
			for i := 0; m.room.Phase() == game.PhaseRunning; i++ {
				if i%2 == 0 {
					m.play(t, 1, tc.black[i/2][0], tc.black[i/2][1])
				} else {
					m.play(t, 2, tc.white[i/2][0], tc.white[i/2][1])
				}
			}
			res, data := m.result(t)
			if !slices.Equal(res.WinnerSeats, []uint32{tc.winner}) || res.Reason != "five_in_a_row" ||
				data.Outcome != gomokuv1.Outcome_OUTCOME_FIVE_IN_A_ROW || len(data.Line) != 5 {
				t.Fatalf("result %v %v", res, data)
			}
			for _, s := range data.Line {
				if s.Seat != tc.winner {
					t.Fatalf("line stone %v", s)
				}
			}
			if g := m.globals(t); g.TurnSeat != 0 {
				t.Fatalf("turn after the end: %v", g)
			}
			// A move after the end is refused.
			m.play(t, 2, 14, 0)
			if msgs := m.c[2].TakeMessages(); len(msgs) != 1 || msgs[0].Code != uint32(gomokuv1.ErrorCode_ERROR_CODE_NOT_RUNNING) {
				t.Fatalf("after end: %v", msgs)
			}
		})
	}
}

func TestIllegalMovesChangeNothing(t *testing.T) {
	m := newMatch(t, nil)
	m.play(t, 1, 7, 7)
	tests := []struct {
		name string
		seat uint32
		data []byte
		want gomokuv1.ErrorCode
	}{
		{"out of turn", 1, must((&gomokuv1.Move{X: 1, Y: 1}).MarshalVT()), gomokuv1.ErrorCode_ERROR_CODE_NOT_YOUR_TURN},
		{"occupied", 2, must((&gomokuv1.Move{X: 7, Y: 7}).MarshalVT()), gomokuv1.ErrorCode_ERROR_CODE_OCCUPIED},
		{"off the board", 2, must((&gomokuv1.Move{X: 15, Y: 3}).MarshalVT()), gomokuv1.ErrorCode_ERROR_CODE_OUT_OF_BOARD},
		{"malformed", 2, []byte{0xff, 0xff}, gomokuv1.ErrorCode_ERROR_CODE_MALFORMED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := m.watch.Entities()
			g0 := m.globals(t)
			m.send(t, tc.seat, tc.data)
			msgs := m.c[tc.seat].TakeMessages()
			if len(msgs) != 1 || msgs[0].Code != uint32(tc.want) || msgs[0].Text == "" {
				t.Fatalf("messages %v, want code %v", msgs, tc.want)
			}
			if other := m.c[3-tc.seat].TakeMessages(); len(other) != 0 {
				t.Fatalf("the other player got %v", other)
			}
			after, _ := m.watch.Entities()
			if len(after) != len(before) || !m.globals(t).EqualVT(g0) {
				t.Fatalf("state changed: %v -> %v", before, after)
			}
		})
	}
	if err := m.room.Input(3, 1, must((&gomokuv1.Move{X: 1, Y: 1}).MarshalVT())); err != game.ErrSpectator {
		t.Fatalf("spectator move: %v", err)
	}
}

func TestEndings(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		m := newMatch(t, map[string]string{"move_seconds": "2"})
		m.play(t, 1, 7, 7)
		m.e.Advance(t, 2500*time.Millisecond)
		res, data := m.result(t)
		if !slices.Equal(res.WinnerSeats, []uint32{1}) || data.Outcome != gomokuv1.Outcome_OUTCOME_TIMEOUT {
			t.Fatalf("result %v %v", res, data)
		}
	})
	t.Run("forfeit", func(t *testing.T) {
		m := newMatch(t, nil)
		if err := m.room.Leave(1); err != nil {
			t.Fatal(err)
		}
		m.e.Advance(t, 200*time.Millisecond)
		res, data := m.result(t)
		if !slices.Equal(res.WinnerSeats, []uint32{2}) || data.Outcome != gomokuv1.Outcome_OUTCOME_FORFEIT {
			t.Fatalf("result %v %v", res, data)
		}
		// The reported result, the match history's record, has both
		// players: the one who left loses it.
		rs := m.e.Results()
		if len(rs) != 1 || len(rs[0].Players) != 2 || rs[0].Players[0].UserID != "black" || rs[0].Winners()[0].UserID != "white" {
			t.Fatalf("reported %+v", rs)
		}
	})
	t.Run("draw on a full board", func(t *testing.T) {
		m := newMatch(t, map[string]string{"move_seconds": "0"})
		var black, white [][2]uint32
		for y := range uint32(gomoku.Size) {
			for x := range uint32(gomoku.Size) {
				if (x+2*y)%4 < 2 {
					black = append(black, [2]uint32{x, y})
				} else {
					white = append(white, [2]uint32{x, y})
				}
			}
		}
		for i := range black {
			m.play(t, 1, black[i][0], black[i][1])
			if i < len(white) {
				m.play(t, 2, white[i][0], white[i][1])
			}
		}
		res, data := m.result(t)
		if len(res.WinnerSeats) != 0 || data.Outcome != gomokuv1.Outcome_OUTCOME_DRAW {
			t.Fatalf("result %v %v", res, data)
		}
		if ents, _ := m.watch.Entities(); len(ents) != gomoku.Size*gomoku.Size {
			t.Fatalf("spectator sees %d stones", len(ents))
		}
	})
	t.Run("bad option", func(t *testing.T) {
		e := gametest.NewEnv(t, []game.Definition{gomoku.Definition()}, nil)
		_, err := e.RT.CreateRoom(game.RoomOptions{Game: "gomoku", Options: map[string]string{"move_seconds": "soon"}})
		if err == nil {
			t.Fatal("bad move_seconds accepted")
		}
		// The refusal a player reads names the game once.
		if n := strings.Count(err.Error(), "gomoku:"); n != 1 || !strings.Contains(err.Error(), "move_seconds") {
			t.Fatalf("refusal %q, want the game named once and the option", err)
		}
	})
	t.Run("one seat", func(t *testing.T) {
		// A match needs two players: a room of one seat would wait for an
		// opponent who can never sit down.
		e := gametest.NewEnv(t, []game.Definition{gomoku.Definition()}, nil)
		if _, err := e.RT.CreateRoom(game.RoomOptions{Game: "gomoku", MaxPlayers: 1}); !errors.Is(err, game.ErrInvalidOptions) {
			t.Fatalf("a one-seat room: %v", err)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzInput: no input crashes the game or changes a finished board, and
// every refused move leaves the stones as they were.
func FuzzInput(f *testing.F) {
	f.Add(must((&gomokuv1.Move{X: 7, Y: 7}).MarshalVT()), uint8(1))
	f.Add([]byte{0x08, 0x96, 0x01}, uint8(2))
	f.Add([]byte{0xff}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, seat uint8) {
		m := newMatch(t, nil)
		s := uint32(seat%2 + 1)
		before, _ := m.watch.Entities()
		m.send(t, s, data)
		after, _ := m.watch.Entities()
		msgs := m.c[s].TakeMessages()
		if len(msgs) == 0 && len(after) != len(before)+1 {
			t.Fatalf("accepted move added %d stones", len(after)-len(before))
		}
		if len(msgs) > 0 && len(after) != len(before) {
			t.Fatal("refused move changed the board")
		}
	})
}
