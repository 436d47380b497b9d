package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/examples/pong/pongv1"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// FuzzInput: any input bytes from either seat are applied or refused with
// the code that says why (malformed, a direction out of -1..1), never a
// crash; an applied one moves the paddle its way and never off the court.
func FuzzInput(f *testing.F) {
	for _, in := range []*pongv1.Input{{Dir: 1}, {Dir: -1}, {Dir: 0}, {Dir: 2}, {Dir: -2147483648}} {
		b, _ := in.MarshalVT()
		f.Add(b, uint8(0))
	}
	f.Add([]byte{0x08}, uint8(1))
	f.Add([]byte{0xff, 0xff}, uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		env := gametest.NewEnv(t, []game.Definition{Definition()}, nil)
		room := env.Create(t, game.RoomOptions{Game: "pong", Seed: 1})
		ps := []*gametest.Player{env.Seat(t, room, "left"), env.Seat(t, room, "right")}
		env.Advance(t, 100*time.Millisecond)
		p := ps[which%2]
		var before pongv1.Paddle
		p.Entity(t, uint64(p.Seat), &before)
		p.Send(t, data)
		env.Advance(t, 200*time.Millisecond)
		if err := p.Err(); err != nil {
			t.Fatal(err)
		}
		var in pongv1.Input
		want := uint32(0)
		switch {
		case in.UnmarshalVT(data) != nil:
			want = codeMalformed
		case in.Dir < -1 || in.Dir > 1:
			want = codeBadDir
		}
		msgs := p.TakeMessages()
		if want != 0 {
			if len(msgs) != 1 || msgs[0].Code != want {
				t.Fatalf("input %x: messages %v, want one of code %d", data, msgs, want)
			}
			return
		}
		if len(msgs) != 0 {
			t.Fatalf("input %x (dir %d) refused: %v", data, in.Dir, msgs)
		}
		var after pongv1.Paddle
		p.Entity(t, uint64(p.Seat), &after)
		if after.Y < paddleHalf || after.Y > 1-paddleHalf {
			t.Fatalf("dir %d: paddle left the court at y %v", in.Dir, after.Y)
		}
		if d := after.Y - before.Y; in.Dir == 0 && d != 0 || in.Dir > 0 && d <= 0 || in.Dir < 0 && d >= 0 {
			t.Fatalf("dir %d moved the paddle from %v to %v", in.Dir, before.Y, after.Y)
		}
	})
}

// FuzzOptions: a room's "target" option is taken exactly when it is a
// whole number 1..21, and the match plays to that; a room of fewer than
// two player seats is refused whatever the options.
func FuzzOptions(f *testing.F) {
	for _, v := range []string{"1", "5", "21", "0", "22", "-1", "+7", " 5", "5x", "", "99999999999999999999"} {
		f.Add(v, true, 2)
	}
	f.Add("5", true, 1)
	f.Add("", false, 2)
	f.Fuzz(func(t *testing.T, v string, set bool, maxPlayers int) {
		opts := map[string]string{}
		if set {
			opts["target"] = v
		}
		g, err := newPong(game.Setup{Options: opts, MaxPlayers: maxPlayers, TickRate: 30})
		n, aerr := strconv.Atoi(v)
		good := maxPlayers >= 2 && (!set || aerr == nil && n >= 1 && n <= 21)
		if (err == nil) != good {
			t.Fatalf("target %q set %v, %d seats: err %v", v, set, maxPlayers, err)
		}
		if err != nil {
			return
		}
		want := uint32(5)
		if set {
			want = uint32(n)
		}
		if got := g.(*pong).target; got != want {
			t.Fatalf("target %q: the match plays to %d", v, got)
		}
	})
}
