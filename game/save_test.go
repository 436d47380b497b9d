package game_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// saving is a counter that implements game.Saver: its state is written as
// "applied;seat=value,...". A room with option "save"="fail" fails to save;
// a state starting with "bad" fails to restore.
type saving struct {
	counter
	failSave bool
}

func newSaving(s game.Setup) (game.Game, error) {
	g := &saving{counter: counter{vals: map[uint64]int{}}, failSave: s.Options["save"] == "fail"}
	games.Store(s.RoomID, &g.counter)
	return g, nil
}

func (g *saving) Save(ctx *game.Context) ([]byte, error) {
	if g.failSave {
		return nil, errors.New("cannot save")
	}
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(g.vals)) {
		parts = append(parts, fmt.Sprintf("%d=%d", id, g.vals[id]))
	}
	return fmt.Appendf(nil, "%d;%s", g.applied, strings.Join(parts, ",")), nil
}

func (g *saving) Restore(ctx *game.Context, data []byte) error {
	applied, vals, ok := strings.Cut(string(data), ";")
	if !ok || strings.HasPrefix(applied, "bad") {
		return errors.New("unreadable state")
	}
	n, err := strconv.Atoi(applied)
	if err != nil {
		return err
	}
	g.applied = n
	for kv := range strings.SplitSeq(vals, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		id, _ := strconv.ParseUint(k, 10, 64)
		val, _ := strconv.Atoi(v)
		g.vals[id] = val
	}
	return nil
}

func savingDefinitions() []game.Definition {
	return append(testDefinitions(), game.Definition{Name: "saving", TickRate: 20, MaxPlayers: 2, MinPlayers: 2, MaxSpectators: 1, New: newSaving})
}

// handoff asks r to hand off and advances e until the callback ran.
func handoff(t testing.TB, e *gametest.Env, r *game.Room) (*tickroomv1.SavedRoom, error) {
	t.Helper()
	type out struct {
		s   *tickroomv1.SavedRoom
		err error
	}
	var got *out
	if err := r.Handoff(func(s *tickroomv1.SavedRoom, err error) { got = &out{s, err} }); err != nil {
		t.Fatalf("handoff: %v", err)
	}
	for range 200 {
		if got != nil {
			return got.s, got.err
		}
		e.Advance(t, time.Millisecond)
	}
	t.Fatal("handoff: no callback")
	return nil, nil
}

// TestHandoffAndRestoreOnAnotherRuntime moves a running room between two
// runtimes, as between two nodes: the seats, the game's state, the tick
// numbers and the input numbering carry over, the members leave the first
// runtime with RemovedMoved and no result, and resume on the second.
func TestHandoffAndRestoreOnAnotherRuntime(t *testing.T) {
	t.Parallel()
	a := gametest.NewEnv(t, savingDefinitions(), nil)
	b := gametest.NewEnv(t, savingDefinitions(), nil)
	r := a.Create(t, game.RoomOptions{Game: "saving", Metadata: map[string]string{"mode": "ranked"}, Password: "pw"})
	p1 := a.Join(t, r, game.JoinRequest{UserID: "u1", Name: "One", Password: "pw", Client: gametest.NewClient("u1")})
	p2 := a.Join(t, r, game.JoinRequest{UserID: "u2", Name: "Two", Password: "pw", Client: gametest.NewClient("u2")})
	a.Join(t, r, game.JoinRequest{UserID: "s", Spectator: true, Password: "pw", Client: gametest.NewClient("s")})
	for seq := uint32(1); seq <= 3; seq++ {
		if err := r.Input(p1.Seat, seq, []byte("+")); err != nil {
			t.Fatal(err)
		}
		a.Advance(t, 50*time.Millisecond)
	}
	if err := r.Input(p2.Seat, 1, []byte("+")); err != nil {
		t.Fatal(err)
	}
	a.Advance(t, 50*time.Millisecond)
	if r.Phase() != game.PhaseRunning {
		t.Fatalf("phase %v before the handoff", r.Phase())
	}

	saved, err := handoff(t, a, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.RT.Room(r.ID()); ok {
		t.Fatal("the room is still live on the runtime it left")
	}
	var reasons []game.RemoveReason
	for _, rm := range a.Removals() {
		reasons = append(reasons, rm.Reason)
	}
	if want := []game.RemoveReason{game.RemovedMoved, game.RemovedMoved, game.RemovedMoved}; !slices.Equal(reasons, want) {
		t.Fatalf("removals %v, want %v", reasons, want)
	}
	if res := a.Results(); len(res) != 0 {
		t.Fatalf("a moved match reported results %+v", res)
	}
	if saved.Tick == 0 || saved.Phase != tickroomv1.RoomPhase_ROOM_PHASE_RUNNING || len(saved.Members) != 3 {
		t.Fatalf("saved tick %d phase %v members %d", saved.Tick, saved.Phase, len(saved.Members))
	}
	// What the other node gets is bytes.
	wire, err := saved.MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	in := &tickroomv1.SavedRoom{}
	if err := in.UnmarshalVT(wire); err != nil {
		t.Fatal(err)
	}

	moved, err := b.RT.RestoreRoom(in)
	if err != nil {
		t.Fatal(err)
	}
	info := moved.Info()
	if moved.ID() != r.ID() || info.Players != 2 || info.Spectators != 1 || info.Phase != game.PhaseRunning || info.Tick != saved.Tick || info.Metadata["mode"] != "ranked" || !info.HasPassword {
		t.Fatalf("restored room %+v", info)
	}
	for _, o := range moved.Players() {
		if o.Connected {
			t.Fatalf("seat %d connected before any resume", o.Seat)
		}
		// Rosters show how long the seat waits, as after any drop.
		if !o.HeldUntil.After(b.Clock.Now()) {
			t.Fatalf("seat %d held until %v, now %v", o.Seat, o.HeldUntil, b.Clock.Now())
		}
	}
	// A stranger cannot take a held seat; the room is full.
	if err := moved.Join(game.JoinRequest{UserID: "u3", Password: "pw", Client: gametest.NewClient("u3")}, nil); !errors.Is(err, game.ErrRoomFull) {
		t.Fatalf("stranger's join: %v, want ErrRoomFull", err)
	}
	c1, c2 := gametest.NewClient("u1b"), gametest.NewClient("u2b")
	j1 := b.Join(t, moved, game.JoinRequest{UserID: "u1", Client: c1, ResumeTick: saved.Tick})
	j2 := b.Join(t, moved, game.JoinRequest{UserID: "u2", Client: c2, ResumeTick: saved.Tick})
	if !j1.Resumed || j1.Seat != p1.Seat || !j2.Resumed || j2.Seat != p2.Seat {
		t.Fatalf("resumes %+v %+v, want seats %d %d resumed", j1, j2, p1.Seat, p2.Seat)
	}
	b.Advance(t, 100*time.Millisecond)
	want := map[uint64]string{uint64(p1.Seat): "3", uint64(p2.Seat): "1"}
	if got, tick := c1.Entities(); !maps.Equal(got, want) || tick <= saved.Tick {
		t.Fatalf("after the move u1 sees %v at tick %d, want %v after tick %d", got, tick, want, saved.Tick)
	}
	// The input numbering carries over: seq 3 was applied before the move
	// and is stale; seq 4 counts.
	if err := moved.Input(p1.Seat, 3, []byte("+")); err != nil {
		t.Fatal(err)
	}
	if err := moved.Input(p1.Seat, 4, []byte("+")); err != nil {
		t.Fatal(err)
	}
	b.Advance(t, 100*time.Millisecond)
	if got, _ := c1.Entities(); got[uint64(p1.Seat)] != "4" {
		t.Fatalf("after seq 3 (stale) and 4, u1's count is %q, want 4", got[uint64(p1.Seat)])
	}
	if ack, _ := c1.Ack(p1.Seat); ack != 4 {
		t.Fatalf("ack %d, want 4", ack)
	}
	if err := errors.Join(c1.Err(), c2.Err()); err != nil {
		t.Fatal(err)
	}
}

// TestHandoffRefusals covers the handoffs that cannot happen and what the
// room does meanwhile.
func TestHandoffRefusals(t *testing.T) {
	t.Parallel()
	e := gametest.NewEnv(t, savingDefinitions(), nil)
	nop := func(*tickroomv1.SavedRoom, error) {}

	t.Run("game without Saver", func(t *testing.T) {
		r := e.Create(t, game.RoomOptions{Game: "counter"})
		if r.CanSave() {
			t.Fatal("CanSave true for a game without Saver")
		}
		if err := r.Handoff(nop); !errors.Is(err, game.ErrNotSaver) {
			t.Fatalf("got %v, want ErrNotSaver", err)
		}
	})
	t.Run("new joins wait, resumes pass", func(t *testing.T) {
		r := e.Create(t, game.RoomOptions{Game: "saving"})
		p := e.Seat(t, r, "u1")
		if err := r.Handoff(nop); err != nil {
			t.Fatal(err)
		}
		if err := r.Handoff(nop); !errors.Is(err, game.ErrMoving) {
			t.Fatalf("second handoff: %v, want ErrMoving", err)
		}
		if err := r.Join(game.JoinRequest{UserID: "u2", Client: gametest.NewClient("u2")}, nil); !errors.Is(err, game.ErrMoving) {
			t.Fatalf("new join while moving: %v, want ErrMoving", err)
		}
		var res *game.JoinResult
		if err := r.Join(game.JoinRequest{UserID: "u1", Client: gametest.NewClient("u1b")}, func(jr game.JoinResult) { res = &jr }); err != nil {
			t.Fatalf("resume while moving: %v", err)
		}
		e.Advance(t, 100*time.Millisecond)
		if res == nil || res.Err != nil || !res.Resumed || res.Seat != p.Seat {
			t.Fatalf("resume while moving: %+v", res)
		}
	})
	t.Run("save fails: the room plays on", func(t *testing.T) {
		r := e.Create(t, game.RoomOptions{Game: "saving", Options: map[string]string{"save": "fail"}})
		p := e.Seat(t, r, "u1")
		if _, err := handoff(t, e, r); err == nil || !strings.Contains(err.Error(), "cannot save") {
			t.Fatalf("handoff of a failing save: %v", err)
		}
		if _, ok := e.RT.Room(r.ID()); !ok {
			t.Fatal("the room is gone after a failed save")
		}
		e.Seat(t, r, "u2") // joins again
		if err := r.Input(p.Seat, 1, []byte("+")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("finished room", func(t *testing.T) {
		r := e.Create(t, game.RoomOptions{Game: "saving"})
		p := e.Seat(t, r, "u1")
		e.Seat(t, r, "u2")
		p.Send(t, []byte("end"))
		e.Advance(t, 100*time.Millisecond)
		if err := r.Handoff(nop); !errors.Is(err, game.ErrFinished) {
			t.Fatalf("got %v, want ErrFinished", err)
		}
	})
	t.Run("closed before the tick", func(t *testing.T) {
		r := e.Create(t, game.RoomOptions{Game: "saving"})
		e.Seat(t, r, "u1")
		var got error
		if err := r.Handoff(func(_ *tickroomv1.SavedRoom, err error) { got = err }); err != nil {
			t.Fatal(err)
		}
		r.Close("test")
		e.Advance(t, 100*time.Millisecond)
		if !errors.Is(got, game.ErrFinished) {
			t.Fatalf("callback got %v, want ErrFinished", got)
		}
	})
}

// savedPair is the save of a room where u1 and u2 are seated, handed off
// from a runtime of its own.
func savedPair(t testing.TB) *tickroomv1.SavedRoom {
	t.Helper()
	a := gametest.NewEnv(t, savingDefinitions(), nil)
	r := a.Create(t, game.RoomOptions{Game: "saving"})
	a.Seat(t, r, "u1")
	a.Seat(t, r, "u2")
	saved, err := handoff(t, a, r)
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// TestRestoreRefusals feeds RestoreRoom saves it must refuse; none of them
// leaves a room behind.
func TestRestoreRefusals(t *testing.T) {
	t.Parallel()
	good := savedPair(t)
	b := gametest.NewEnv(t, savingDefinitions(), nil)
	tests := []struct {
		name string
		mod  func(s *tickroomv1.SavedRoom)
		want error
	}{
		{"unknown version", func(s *tickroomv1.SavedRoom) { s.Version = 2 }, game.ErrBadSave},
		{"unknown game", func(s *tickroomv1.SavedRoom) { s.Game = "chess" }, game.ErrUnknownGame},
		{"game without Saver", func(s *tickroomv1.SavedRoom) { s.Game = "duel" }, game.ErrNotSaver},
		{"finished", func(s *tickroomv1.SavedRoom) { s.Phase = tickroomv1.RoomPhase_ROOM_PHASE_FINISHED }, game.ErrBadSave},
		{"no room id", func(s *tickroomv1.SavedRoom) { s.RoomId = "" }, game.ErrBadSave},
		{"seat out of range", func(s *tickroomv1.SavedRoom) { s.Members[0].Seat = 9 }, game.ErrBadSave},
		{"seat twice", func(s *tickroomv1.SavedRoom) { s.Members[1].Seat = s.Members[0].Seat }, game.ErrBadSave},
		{"spectator in a player seat", func(s *tickroomv1.SavedRoom) { s.Members[0].Spectator = true }, game.ErrBadSave},
		{"too many players", func(s *tickroomv1.SavedRoom) { s.MaxPlayers = 3 }, game.ErrBadSave},
		{"game state refused", func(s *tickroomv1.SavedRoom) { s.GameState = []byte("bad;") }, game.ErrBadSave},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good.CloneVT()
			tt.mod(s)
			if _, err := b.RT.RestoreRoom(s); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if n := b.RT.RoomCount(); n != 0 {
				t.Fatalf("%d rooms left behind", n)
			}
		})
	}
	if _, err := b.RT.RestoreRoom(good.CloneVT()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RT.RestoreRoom(good.CloneVT()); !errors.Is(err, game.ErrRoomExists) {
		t.Fatalf("restoring twice: %v, want ErrRoomExists", err)
	}
}

// TestRestoredSeatExpires: a member that never comes back to the restored
// room leaves it after the grace window, as a dropped one would.
func TestRestoredSeatExpires(t *testing.T) {
	t.Parallel()
	saved := savedPair(t)
	b := gametest.NewEnv(t, savingDefinitions(), func(c *game.Config) { c.DropGrace = 2 * time.Second })
	moved, err := b.RT.RestoreRoom(saved)
	if err != nil {
		t.Fatal(err)
	}
	b.Join(t, moved, game.JoinRequest{UserID: "u1", Client: gametest.NewClient("u1b")})
	b.Advance(t, 2500*time.Millisecond)
	var got []string
	for _, rm := range b.Removals() {
		got = append(got, rm.UserID+":"+rm.Reason.String())
	}
	if !slices.Equal(got, []string{"u2:grace_expired"}) {
		t.Fatalf("removals %v, want u2:grace_expired", got)
	}
	if ps := moved.Players(); len(ps) != 1 || ps[0].UserID != "u1" || !ps[0].Connected {
		t.Fatalf("players %+v", ps)
	}
}

// TestRestoredSeatsExpireOnAClockAtZero: restored members who never come
// back lose their seats when the grace runs out, whatever the clock reads
// (here a manual clock started at the Unix epoch, where a time stored as
// Unix nanoseconds would read as "not set").
func TestRestoredSeatsExpireOnAClockAtZero(t *testing.T) {
	saved := savedPair(t)
	b := gametest.NewEnv(t, savingDefinitions(), func(c *game.Config) {
		c.DropGrace = 2 * time.Second
		c.Clock = game.NewManualClock(time.Unix(0, 0))
	})
	moved, err := b.RT.RestoreRoom(saved)
	if err != nil {
		t.Fatal(err)
	}
	b.Advance(t, 10*time.Second)
	var got []string
	for _, rm := range b.Removals() {
		got = append(got, rm.UserID+":"+rm.Reason.String())
	}
	if !slices.Equal(got, []string{"u1:grace_expired", "u2:grace_expired"}) {
		t.Fatalf("removals %v, want both grace_expired; players %+v", got, moved.Players())
	}
}

// announcing is saving that, restored, broadcasts a message and starts
// the match from Restore, before the room is on a shard.
type announcing struct{ saving }

func (g *announcing) Restore(ctx *game.Context, data []byte) error {
	ctx.Broadcast(game.Message{Code: 7, Text: "restored"})
	ctx.Start()
	return g.saving.Restore(ctx, data)
}

// A game may use its Context's sends in Restore: they reach no one (no
// member is connected yet), and the room comes up and ticks.
func TestRestoreMaySend(t *testing.T) {
	t.Parallel()
	saved := savedPair(t)
	saved.Game = "announcing"
	defs := append(savingDefinitions(), game.Definition{Name: "announcing", TickRate: 20, MaxPlayers: 2, MinPlayers: 2, MaxSpectators: 1,
		New: func(s game.Setup) (game.Game, error) {
			g, err := newSaving(s)
			return &announcing{saving: *g.(*saving)}, err
		}})
	b := gametest.NewEnv(t, defs, nil)
	r, err := b.RT.RestoreRoom(saved)
	if err != nil {
		t.Fatal(err)
	}
	b.Advance(t, 200*time.Millisecond)
	if r.Phase() != game.PhaseRunning || r.Stats().Ticks < 3 {
		t.Fatalf("restored room: phase %v, %d ticks", r.Phase(), r.Stats().Ticks)
	}
}
