package game_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

func counterDef() game.Definition {
	return game.Definition{Name: "counter", New: newCounter, TickRate: 20, MaxPlayers: 2, MaxSpectators: 2}
}

// TestLeaveAsIgnoresALeaveOvertakenByAResume: a connection's leave that
// was queued after the seat was resumed on another connection must not take
// the seat from the new one.
func TestLeaveAsIgnoresALeaveOvertakenByAResume(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{counterDef()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := gametest.NewClient("old"), gametest.NewClient("new")
	res := e.Join(t, r, game.JoinRequest{UserID: "u", Client: old})
	// The resume is queued first, then the old connection's leave.
	var resumed *game.JoinResult
	if err := r.Join(game.JoinRequest{UserID: "u", Client: fresh}, func(jr game.JoinResult) { resumed = &jr }); err != nil {
		t.Fatal(err)
	}
	if err := r.LeaveAs(res.Seat, "u", old); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if resumed == nil || !resumed.Resumed || resumed.Seat != res.Seat {
		t.Fatalf("resume result %+v", resumed)
	}
	if got := r.Players(); len(got) != 1 || got[0].Seat != res.Seat || !got[0].Connected {
		t.Fatalf("players after the stale leave: %+v", got)
	}
	// The new connection can still leave.
	if err := r.LeaveAs(res.Seat, "u", fresh); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if got := r.Players(); len(got) != 0 {
		t.Fatalf("players after the real leave: %+v", got)
	}
}

func TestLeaveAsChecksTheUser(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{counterDef()}, nil)
	r, _ := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	res := e.Join(t, r, game.JoinRequest{UserID: "u", Client: gametest.NewClient("u")})
	if err := r.LeaveAs(res.Seat, "someone-else", nil); !errors.Is(err, game.ErrNotSeated) {
		t.Fatalf("leave of another user's seat: %v, want ErrNotSeated", err)
	}
}

// TestResumeReportsTheSeatsKind: a resume is reported with the seat's own
// spectator flag, whatever the request asked.
func TestResumeReportsTheSeatsKind(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{counterDef()}, nil)
	r, _ := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	for _, tc := range []struct {
		user               string
		spectate, resumeAs bool
	}{
		{"player", false, true},
		{"watcher", true, false},
	} {
		first := e.Join(t, r, game.JoinRequest{UserID: tc.user, Spectator: tc.spectate, Client: gametest.NewClient(tc.user)})
		if first.Spectator != tc.spectate {
			t.Fatalf("%s joined with spectator %v, want %v", tc.user, first.Spectator, tc.spectate)
		}
		again := e.Join(t, r, game.JoinRequest{UserID: tc.user, Spectator: tc.resumeAs, Client: gametest.NewClient(tc.user)})
		if !again.Resumed || again.Seat != first.Seat || again.Spectator != tc.spectate {
			t.Fatalf("%s resumed %+v, want seat %d spectator %v", tc.user, again, first.Seat, tc.spectate)
		}
	}
}

// TestDropOvertakenByAResumeKeepsInputFlowing: the drop of a connection
// that a resume already replaced (a second login's old connection closing
// after the new one resumed) is refused at once, so the new connection's
// inputs are taken without waiting for the next tick.
func TestDropOvertakenByAResumeKeepsInputFlowing(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{counterDef()}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := gametest.NewClient("old"), gametest.NewClient("new")
	res := e.Join(t, r, game.JoinRequest{UserID: "u", Client: old})
	if err := r.Join(game.JoinRequest{UserID: "u", Client: fresh}, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Drop(res.Seat, old); !errors.Is(err, game.ErrNotSeated) {
		t.Fatalf("drop of the replaced connection: %v, want ErrNotSeated", err)
	}
	if err := r.Input(res.Seat, 1, []byte("+")); err != nil {
		t.Fatalf("input of the resumed connection before the tick: %v", err)
	}
	e.Advance(t, 100*time.Millisecond)
	if got := r.Players(); len(got) != 1 || !got[0].Connected {
		t.Fatalf("players after the stale drop: %+v", got)
	}
	// The new connection's own drop still holds the seat.
	if err := r.Drop(res.Seat, fresh); err != nil {
		t.Fatal(err)
	}
}
