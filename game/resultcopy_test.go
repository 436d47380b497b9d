package game_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// reuser is a game that ends its match with its own buffers ("end") and
// reuses them in Encode, as a game that encodes into scratch does.
type reuser struct {
	seats  []uint32
	buf    []byte
	scores []game.SeatScore
}

func (g *reuser) Accept(*game.Context, game.Player) error            { return nil }
func (g *reuser) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *reuser) Update(*game.Context, time.Duration)                {}

func (g *reuser) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) == "end" {
		g.seats = append(g.seats[:0], seat)
		g.buf = append(g.buf[:0], "winner-data"...)
		g.scores = append(g.scores[:0], game.SeatScore{Seat: seat, Score: 7})
		ctx.End(game.MatchResult{WinnerSeats: g.seats, Reason: "won", Data: g.buf, Scores: g.scores})
	}
	return nil
}

func (g *reuser) Encode(s *game.Snapshot) {
	g.seats = append(g.seats[:0], 99)
	g.buf = append(g.buf[:0], "ENTITYBYTES"...)
	g.scores = append(g.scores[:0], game.SeatScore{Seat: 99, Score: 1})
	s.EntityBytes(1, g.buf)
}

func matchEnded(c *gametest.Client) *tickroomv1.MatchResult {
	for _, ev := range c.Events() {
		if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
			return ev.Result
		}
	}
	return nil
}

// TestResultSentIsTheResultRecorded: a game that ends its match with its
// own slices and reuses them once End returns (in Encode, the same tick)
// had its members sent what it wrote there, while the match history got
// the result it ended with.
func TestResultSentIsTheResultRecorded(t *testing.T) {
	t.Parallel()
	e := gametest.NewEnv(t, []game.Definition{{Name: "reuser", TickRate: 10, MaxPlayers: 2, MaxSpectators: 1,
		New: func(game.Setup) (game.Game, error) { return &reuser{}, nil }}}, nil)
	r := e.Create(t, game.RoomOptions{Game: "reuser"})
	ada, bob, sam := e.Seat(t, r, "ada"), e.Seat(t, r, "bob"), e.Watch(t, r, "sam")
	e.Advance(t, 200*time.Millisecond)
	bob.Send(t, []byte("end"))
	e.Advance(t, 200*time.Millisecond)
	results := e.Results()
	if len(results) != 1 {
		t.Fatalf("%d results recorded, want 1", len(results))
	}
	rec := results[0].Outcome
	if !slices.Equal(rec.WinnerSeats, []uint32{bob.Seat}) || string(rec.Data) != "winner-data" {
		t.Fatalf("recorded %v %q, want bob's win with \"winner-data\"", rec.WinnerSeats, rec.Data)
	}
	for _, p := range []*gametest.Player{ada, bob, sam} {
		res := matchEnded(p.Client)
		if res == nil {
			t.Errorf("%s: no MATCH_ENDED", p.Name())
			continue
		}
		if !slices.Equal(res.WinnerSeats, rec.WinnerSeats) || string(res.Data) != string(rec.Data) ||
			len(res.Scores) != 1 || res.Scores[0].Seat != bob.Seat || res.Scores[0].Score != 7 {
			t.Errorf("%s: sent winners %v, data %q, scores %v; recorded %v, %q, %v", p.Name(), res.WinnerSeats, res.Data, res.Scores, rec.WinnerSeats, rec.Data, rec.Scores)
		}
	}
}
