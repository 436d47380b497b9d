package game_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// FuzzRestoreRoom: a saved room read back from Redis, as another node
// wrote it, is restored or refused with one of RestoreRoom's documented
// errors, never a crash; a refused one leaves no room behind, and a
// restored one holds exactly the saved members, each in a seat of its
// kind and dropped until it comes back, and ticks.
func FuzzRestoreRoom(f *testing.F) {
	good := savedPair(f)
	wire, err := good.MarshalVT()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wire)
	for _, mod := range []func(s *tickroomv1.SavedRoom){
		func(s *tickroomv1.SavedRoom) { s.Members[0].Seat = 0 },
		func(s *tickroomv1.SavedRoom) { s.Members[1].Seat = 3; s.Members[1].Spectator = true },
		func(s *tickroomv1.SavedRoom) { s.MaxSpectators = 1 << 31; s.TickRate = 1 << 31 },
		func(s *tickroomv1.SavedRoom) { s.RunningMs = -1 << 62; s.Tick = 1<<64 - 1 },
		func(s *tickroomv1.SavedRoom) { s.Members[0].UserId = s.Members[1].UserId },
	} {
		s := good.CloneVT()
		mod(s)
		b, _ := s.MarshalVT()
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s tickroomv1.SavedRoom
		if s.UnmarshalVT(data) != nil {
			return
		}
		e := gametest.NewEnv(t, savingDefinitions(), nil)
		r, err := e.RT.RestoreRoom(&s)
		if err != nil {
			if !errors.Is(err, game.ErrBadSave) && !errors.Is(err, game.ErrUnknownGame) && !errors.Is(err, game.ErrNotSaver) {
				t.Fatalf("refused with %v, not a documented error", err)
			}
			if n := e.RT.RoomCount(); n != 0 {
				t.Fatalf("a refused save left %d rooms", n)
			}
			return
		}
		info := r.Info()
		players, specs := 0, 0
		for _, m := range s.Members {
			if m.Spectator {
				specs++
			} else {
				players++
			}
		}
		occ := r.Players()
		if len(occ) != players || info.Players != players || info.Spectators != specs {
			t.Fatalf("restored %d players (info %d) and %d spectators of %d and %d saved", len(occ), info.Players, info.Spectators, players, specs)
		}
		for _, o := range occ {
			if o.Connected || o.Seat < 1 || int(o.Seat) > info.MaxPlayers {
				t.Fatalf("player %+v in a room of %d players", o, info.MaxPlayers)
			}
		}
		if info.Players > info.MaxPlayers || info.Spectators > info.MaxSpectators {
			t.Fatalf("room info %+v past its seats", info)
		}
		e.Advance(t, 100*time.Millisecond)
	})
}
