package main

import (
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/examples/pong/pongv1"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/tickroomtest"
	"google.golang.org/protobuf/proto"
)

// TestPongRules plays the game on a manual clock: paddles follow inputs
// and stop at the wall, a bad input is refused with its code, the ball is
// served a second after the start, and with nobody defending the first
// point ends a one-point match with the scorer as winner.
func TestPongRules(t *testing.T) {
	t.Parallel()
	env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
	room := env.Create(t, game.RoomOptions{Game: "pong", Options: map[string]string{"target": "1"}})
	left, right := env.Seat(t, room, "left"), env.Seat(t, room, "right")
	env.Advance(t, 100*time.Millisecond)
	if room.Phase() != game.PhaseRunning {
		t.Fatalf("phase %v with both players in", room.Phase())
	}

	right.SendMessage(t, &pongv1.Input{Dir: 5})
	right.SendMessage(t, &pongv1.Input{Dir: 1})
	env.Advance(t, 200*time.Millisecond)
	if m := right.TakeMessages(); len(m) != 1 || m[0].Code != codeBadDir {
		t.Fatalf("messages after dir 5: %v", m)
	}
	var p pongv1.Paddle
	if !right.Entity(t, 2, &p) || p.Y <= 0.5 || p.Y >= 0.9 {
		t.Fatalf("right paddle after moving down 0.2 s: %+v", &p)
	}
	env.Advance(t, time.Second)
	if right.Entity(t, 2, &p); p.Y != 1-paddleHalf {
		t.Fatalf("right paddle not stopped by the wall: y %v", p.Y)
	}
	// The serve comes a second after the start; the ball needs over 0.7 s
	// to reach an edge.
	var ball pongv1.Ball
	left.Entity(t, ballID, &ball)
	if ball.Vx == 0 {
		t.Fatalf("ball not served 1.3 s in: %+v", &ball)
	}
	for range 100 {
		if len(env.Results()) > 0 {
			break
		}
		env.Advance(t, 100*time.Millisecond)
	}
	res := env.Results()
	if len(res) != 1 || res[0].Outcome.Reason != "score" || len(res[0].Winners()) != 1 {
		t.Fatalf("results %+v", res)
	}
	var scores pongv1.Result
	if err := scores.UnmarshalVT(res[0].Outcome.Data); err != nil {
		t.Fatal(err)
	}
	w := res[0].Winners()[0].Seat
	if scores.Scores[w-1] != 1 || scores.Scores[2-w] != 0 {
		t.Fatalf("winner seat %d, scores %v", w, scores.Scores)
	}
}

// TestPongSameSeedSamePlay checks determinism: two rooms with the same seed
// and the same inputs serve the ball the same way.
func TestPongSameSeedSamePlay(t *testing.T) {
	t.Parallel()
	var balls [2]pongv1.Ball
	for i := range balls {
		env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
		room := env.Create(t, game.RoomOptions{Game: "pong", Seed: 42})
		a := env.Seat(t, room, "a")
		env.Seat(t, room, "b")
		a.SendMessage(t, &pongv1.Input{Dir: -1})
		env.Advance(t, 1500*time.Millisecond)
		a.Entity(t, ballID, &balls[i])
	}
	if balls[0].Vx == 0 || !proto.Equal(&balls[0], &balls[1]) {
		t.Fatalf("same seed, different balls: %+v / %+v", &balls[0], &balls[1])
	}
}

// TestPongOverLoopback runs the command's server with real clients: two
// players log in, quick-match into one room, one steers its paddle and
// both see it move, and a one-point match ends with the result reported
// to both and to OnResult.
func TestPongOverLoopback(t *testing.T) {
	t.Parallel()
	results := make(chan game.Result, 1)
	srv := tickroomtest.Start(t, tickroom.Options{Games: []game.Definition{Definition()}, OnResult: func(r game.Result) { results <- r }})
	ann, bob := tickroomtest.Join(t, srv, "ann"), tickroomtest.Join(t, srv, "bob")
	target := map[string]string{"target": "1"}
	ann.QuickMatch("pong", target)
	if j := bob.QuickMatch("pong", target); j.GetRoomId() != ann.Room {
		t.Fatalf("bob in room %s, ann in %s", j.GetRoomId(), ann.Room)
	}

	ann.Send(&pongv1.Input{Dir: -1})
	var p pongv1.Paddle
	bob.WaitFor("ann's paddle moving up on bob's screen", func() bool {
		return bob.Entity(uint64(ann.Seat), &p) && p.Y < 0.3 && p.Name == "ann"
	})
	ann.Send(&pongv1.Input{Dir: 9})
	if m := ann.GameMessage(); m.GetCode() != codeBadDir {
		t.Fatalf("refusal %v", m)
	}

	var ends [2]*tickroomv1.MatchResult
	for i, pl := range []*tickroomtest.Player{ann, bob} {
		ends[i] = pl.MatchEnded()
	}
	if ends[0].GetReason() != "score" || len(ends[0].GetWinnerSeats()) != 1 || ends[1].GetWinnerSeats()[0] != ends[0].GetWinnerSeats()[0] {
		t.Fatalf("ends %v / %v", ends[0], ends[1])
	}
	select {
	case r := <-results:
		if r.Game != "pong" || r.RoomID != ann.Room || len(r.Players) != 2 || r.Winners()[0].Seat != ends[0].GetWinnerSeats()[0] {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result reported")
	}
}

// TestPongStateInTheMonitor reads a running match from the admin API, as
// the monitor's inspector does: the game's Schema decodes the paddles, the
// ball and the globals into fields.
func TestPongStateInTheMonitor(t *testing.T) {
	t.Parallel()
	srv := tickroomtest.Start(t, tickroom.Options{Games: []game.Definition{Definition()}, AdminAddr: "127.0.0.1:0"})
	ann, bob := tickroomtest.Join(t, srv, "ann"), tickroomtest.Join(t, srv, "bob")
	ann.QuickMatch("pong", map[string]string{"target": "7"})
	bob.QuickMatch("pong", map[string]string{"target": "7"})
	var p pongv1.Paddle
	bob.WaitFor("ann's paddle", func() bool { return bob.Entity(uint64(ann.Seat), &p) })

	st := tickroomtest.RoomState(t, srv, ann.Room)
	var g struct{ Target int }
	if err := json.Unmarshal(st.Globals, &g); err != nil || st.GlobalsType != "pong.v1.Globals" || g.Target != 7 {
		t.Fatalf("globals %s %s (%v)", st.GlobalsType, st.Globals, err)
	}
	seen := map[string]string{}
	for _, e := range st.Entities {
		var v struct{ Name string }
		_ = json.Unmarshal(e.Value, &v)
		seen[e.ID] = e.Type + " " + v.Name
	}
	want := map[string]string{
		strconv.Itoa(int(ann.Seat)): "pong.v1.Paddle ann",
		strconv.Itoa(int(bob.Seat)): "pong.v1.Paddle bob",
		strconv.Itoa(ballID):        "pong.v1.Ball ",
	}
	if !maps.Equal(seen, want) {
		t.Fatalf("entities %v, want %v", seen, want)
	}
}

// TestPongForfeitKeepsScores checks the result of a match a player leaves:
// the one who stays wins by forfeit, and the result's scores are both
// players' scores at the moment of leaving, the leaver's included.
func TestPongForfeitKeepsScores(t *testing.T) {
	t.Parallel()
	env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
	room := env.Create(t, game.RoomOptions{Game: "pong", Options: map[string]string{"target": "5"}})
	left, right := env.Seat(t, room, "left"), env.Seat(t, room, "right")
	// Nobody defends: the ball is served and someone scores.
	var scored *pongv1.Paddle
	for range 100 {
		env.Advance(t, 100*time.Millisecond)
		for _, pl := range []*gametest.Player{left, right} {
			var p pongv1.Paddle
			if left.Entity(t, uint64(pl.Seat), &p) && p.Score > 0 {
				scored = &p
			}
		}
		if scored != nil {
			break
		}
	}
	if scored == nil {
		t.Fatal("no point in 10 s")
	}
	if err := room.Leave(scored.Seat); err != nil {
		t.Fatal(err)
	}
	env.Advance(t, 100*time.Millisecond)
	res := env.Results()
	if len(res) != 1 || res[0].Outcome.Reason != "forfeit" || res[0].Winners()[0].Seat != 3-scored.Seat {
		t.Fatalf("results %+v", res)
	}
	var scores pongv1.Result
	if err := scores.UnmarshalVT(res[0].Outcome.Data); err != nil {
		t.Fatal(err)
	}
	if scores.Scores[scored.Seat-1] != scored.Score {
		t.Fatalf("seat %d left with %d points; the result says %v", scored.Seat, scored.Score, scores.Scores)
	}
}

// TestPongNeedsTwoSeats: a room asked with one player seat would wait for
// an opponent who can never sit down, so it is refused.
func TestPongNeedsTwoSeats(t *testing.T) {
	t.Parallel()
	env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
	if _, err := env.RT.CreateRoom(game.RoomOptions{Game: "pong", MaxPlayers: 1}); !errors.Is(err, game.ErrInvalidOptions) {
		t.Fatalf("a one-seat room: %v", err)
	}
}

// TestPongFastBallMeetsThePaddle: a room may run pong below its 30 Hz
// (tick_rate 10), where a fast ball moves further in a tick than the
// paddle's reach; a ball that crosses the paddle's line where the paddle
// is must still bounce, not pass through it.
func TestPongFastBallMeetsThePaddle(t *testing.T) {
	t.Parallel()
	gg, err := newPong(game.Setup{MaxPlayers: 2, TickRate: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := gg.(*pong)
	g.paddles[1] = &paddle{msg: pongv1.Paddle{Seat: 1, Y: 0.5}}
	g.ball = pongv1.Ball{X: 0.1, Y: 0.5, Vx: -maxSpeed}
	g.Update(nil, 100*time.Millisecond)
	if g.ball.Vx <= 0 || g.ball.X < paddleX {
		t.Fatalf("ball met the paddle at 0.5 and went on: %+v", &g.ball)
	}
}
