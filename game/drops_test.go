package game_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"google.golang.org/protobuf/proto"
)

// TestDroppedInputsAreToldAtTheNextTick: numbered inputs dropped with the
// inbox full are told to the seat's client at the next tick, one
// InputDropped with reason ERROR_CODE_INPUT_DROPPED listing their seqs,
// while the tick's State acks the last input taken; an input with seq 0
// is not told of, and a seat resumed on another connection before the tick
// does not hear of the old connection's drops.
func TestDroppedInputsAreToldAtTheNextTick(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.InboxSize = 3 })
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"}) // 40 inputs/s
	if err != nil {
		t.Fatal(err)
	}
	c := gametest.NewClient("a")
	seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: c}).Seat
	for seq := range uint32(6) {
		err := r.Input(seat, seq, []byte("+")) // 0 to 2 taken; 3, 4 and 5 dropped
		if seq >= 3 && !errors.Is(err, game.ErrInboxFull) {
			t.Fatalf("input %d: %v, want ErrInboxFull", seq, err)
		}
	}
	e.Advance(t, 50*time.Millisecond)
	want := []*tickroomv1.InputDropped{{RoomId: r.ID(), Reason: tickroomv1.ErrorCode_ERROR_CODE_INPUT_DROPPED, Runs: []uint32{3, 5}, Count: 3}}
	if got := c.TakeDrops(); len(got) != 1 || !proto.Equal(got[0], want[0]) {
		t.Fatalf("told %v, want %v", got, want)
	}
	if ack, _ := c.Ack(seat); ack != 2 {
		t.Fatalf("ack %d, want 2", ack)
	}
	e.Advance(t, 50*time.Millisecond)
	if got := c.TakeDrops(); len(got) != 0 {
		t.Fatalf("told again at the tick after: %v", got)
	}

	t.Run("seq 0", func(t *testing.T) {
		for range 4 {
			_ = r.Input(seat, 0, []byte("+"))
		}
		e.Advance(t, 50*time.Millisecond)
		if got := c.TakeDrops(); len(got) != 0 {
			t.Fatalf("inputs with seq 0 told of: %v", got)
		}
	})
	t.Run("resumed before the tick", func(t *testing.T) {
		for seq := uint32(10); seq < 15; seq++ {
			_ = r.InputFrom(c, seat, seq, []byte("+"))
		}
		c2 := gametest.NewClient("a2")
		if err := r.Join(game.JoinRequest{UserID: "a", Client: c2}, nil); err != nil {
			t.Fatal(err)
		}
		e.Advance(t, 50*time.Millisecond)
		if got := append(c.TakeDrops(), c2.TakeDrops()...); len(got) != 0 {
			t.Fatalf("the old connection's drops told after the resume: %v", got)
		}
	})
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
}

// sleepyCounter is counter that sleeps between inputs (Sleeper).
type sleepyCounter struct{ *counter }

func (sleepyCounter) Wake() uint64 { return game.NeverWake }

// TestDroppedInputsWakeASleepingRoom: an input over the seat's rate
// reaches no inbox, so nothing else wakes a room whose game sleeps
// between inputs; its drop does, and the seat is told at the next tick,
// not when the room next wakes (a minute on).
func TestDroppedInputsWakeASleepingRoom(t *testing.T) {
	def := game.Definition{Name: "sleepy", TickRate: 20, MaxPlayers: 2, InputRate: 2, New: func(s game.Setup) (game.Game, error) {
		g, err := newCounter(s)
		return sleepyCounter{g.(*counter)}, err
	}}
	e, r, c, seat := seatAfterBurst(t, def)
	e.Advance(t, 200*time.Millisecond)
	sleeps := r.Stats().Sleeps
	if sleeps == 0 {
		t.Fatal("the room never slept")
	}
	if err := r.Input(seat, 3, []byte("+")); !errors.Is(err, game.ErrRateLimited) {
		t.Fatalf("input 3: %v, want ErrRateLimited", err)
	}
	e.Advance(t, 50*time.Millisecond)
	want := &tickroomv1.InputDropped{RoomId: r.ID(), Reason: tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED, Runs: []uint32{3, 3}, Count: 1}
	if got := c.TakeDrops(); len(got) != 1 || !proto.Equal(got[0], want) {
		t.Fatalf("a tick after the drop, told %v, want %v", got, want)
	}
}

// seatAfterBurst makes a room of def's game (InputRate 2), seats user "a"
// in it with a client of its own, and sends inputs 1 and 2 from that
// client: the seat's burst, so that its next input is over the rate.
func seatAfterBurst(t *testing.T, def game.Definition) (*gametest.Env, *game.Room, *gametest.Client, uint32) {
	t.Helper()
	e := gametest.NewEnv(t, []game.Definition{def}, nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: def.Name})
	if err != nil {
		t.Fatal(err)
	}
	c := gametest.NewClient("a")
	seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: c}).Seat
	for seq := uint32(1); seq <= 2; seq++ { // the seat's burst
		if err := r.InputFrom(c, seat, seq, []byte("+")); err != nil {
			t.Fatal(err)
		}
	}
	return e, r, c, seat
}

// leavingCounter is counter whose Accept, for user "c", runs the hook
// before it lets c in: inside a tick, after the tick took its drop notes.
type leavingCounter struct {
	*counter
	hook func()
}

func (g leavingCounter) Accept(ctx *game.Context, p game.Player) error {
	if p.UserID == "c" && g.hook != nil {
		g.hook()
	}
	return g.counter.Accept(ctx, p)
}

// TestDropsOfALeavingSeatAreNotToldToItsNextPlayer: an input a leaving
// player had dropped within a tick, after the tick took its notes, was
// told at the next tick to whoever had taken the freed seat meanwhile, as
// seqs of its own; the seat's notes now go with it.
func TestDropsOfALeavingSeatAreNotToldToItsNextPlayer(t *testing.T) {
	var hook func()
	def := game.Definition{Name: "leaving", TickRate: 20, MaxPlayers: 4, InputRate: 2, New: func(s game.Setup) (game.Game, error) {
		g, err := newCounter(s)
		return leavingCounter{g.(*counter), func() { hook() }}, err
	}}
	e, r, a, seatA := seatAfterBurst(t, def)
	// c's join and then a's leave wait for the same tick; c's Accept runs
	// first, with a's seat leaving, after the tick took its drop notes.
	hook = func() {
		if err := r.InputFrom(a, seatA, 77, []byte("+")); !errors.Is(err, game.ErrRateLimited) {
			t.Errorf("a's input 77: %v, want ErrRateLimited", err)
		}
	}
	if err := r.Join(game.JoinRequest{UserID: "c", Client: gametest.NewClient("c")}, nil); err != nil {
		t.Fatal(err)
	}
	r.Leave(seatA)
	e.Advance(t, 50*time.Millisecond)
	hook = func() {}
	b := gametest.NewClient("b")
	if seatB := e.Join(t, r, game.JoinRequest{UserID: "b", Client: b}).Seat; seatB != seatA {
		t.Fatalf("b took seat %d, not a's freed seat %d", seatB, seatA)
	}
	e.Advance(t, 100*time.Millisecond)
	if got := b.TakeDrops(); len(got) != 0 {
		t.Fatalf("b, in the seat a left, was told of a's drops: %v", got)
	}
}

// savingWithHook is saving whose Save first runs saveHook: what a client
// sends while the tick that saves the room runs.
type savingWithHook struct{ *saving }

var saveHook func()

func (g savingWithHook) Save(ctx *game.Context) ([]byte, error) {
	if saveHook != nil {
		saveHook()
	}
	return g.saving.Save(ctx)
}

// TestDropsDuringTheSavingTickAreResentAfterTheMove: a handoff does not
// carry the notes of inputs dropped while the tick that saves the room
// runs, and tells no one of them; like the inputs queued then, which the
// room never applies, they are above the seat's saved last seq, so a
// client that sends them again after the resume on the new node (as it
// does any input not acknowledged) has them applied there, or told of
// when they are dropped there.
func TestDropsDuringTheSavingTickAreResentAfterTheMove(t *testing.T) {
	defs := []game.Definition{{Name: "hooked", TickRate: 20, MaxPlayers: 2, InputRate: 2, New: func(s game.Setup) (game.Game, error) {
		g, err := newSaving(s)
		return savingWithHook{g.(*saving)}, err
	}}}
	a := gametest.NewEnv(t, defs, nil)
	b := gametest.NewEnv(t, defs, nil)
	r := a.Create(t, game.RoomOptions{Game: "hooked"})
	c := gametest.NewClient("u1")
	seat := a.Join(t, r, game.JoinRequest{UserID: "u1", Client: c}).Seat
	if err := r.Input(seat, 1, []byte("+")); err != nil {
		t.Fatal(err)
	}
	a.Advance(t, 50*time.Millisecond)
	// While the saving tick runs: 2 is taken (the last of the burst), 3
	// and 4 are dropped over the rate.
	var errs []error
	saveHook = func() {
		for seq := uint32(2); seq <= 4; seq++ {
			errs = append(errs, r.InputFrom(c, seat, seq, []byte("+")))
		}
	}
	defer func() { saveHook = nil }()
	c.TakeDrops()
	saved, err := handoff(t, a, r)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], game.ErrRateLimited) || !errors.Is(errs[2], game.ErrRateLimited) {
		t.Fatalf("inputs 2 to 4 during the save: %v", errs)
	}
	a.Advance(t, 200*time.Millisecond)
	if got := c.TakeDrops(); len(got) != 0 {
		t.Fatalf("the room left told %v", got)
	}
	if len(saved.Members) != 1 || saved.Members[0].LastSeq != 1 {
		t.Fatalf("saved members %v, want seat %d's last seq 1", saved.Members, seat)
	}

	moved, err := b.RT.RestoreRoom(saved)
	if err != nil {
		t.Fatal(err)
	}
	c2 := gametest.NewClient("u1b")
	j := b.Join(t, moved, game.JoinRequest{UserID: "u1", Client: c2, ResumeTick: saved.Tick})
	if !j.Resumed || j.LastSeq != 1 {
		t.Fatalf("resume %+v, want last seq 1", j)
	}
	// Sent again at once: 2 and 3 take the new seat's burst, 4 is
	// dropped over its rate there, and told of.
	for seq := uint32(2); seq <= 4; seq++ {
		err := moved.InputFrom(c2, seat, seq, []byte("+"))
		if (seq < 4) != (err == nil) {
			t.Fatalf("input %d sent again: %v", seq, err)
		}
	}
	b.Advance(t, 100*time.Millisecond)
	if got, _ := c2.Entities(); got[uint64(seat)] != "3" {
		t.Fatalf("after the move, the count is %q, want 3", got[uint64(seat)])
	}
	if ack, _ := c2.Ack(seat); ack != 3 {
		t.Fatalf("ack %d, want 3", ack)
	}
	want := &tickroomv1.InputDropped{RoomId: r.ID(), Reason: tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED, Runs: []uint32{4, 4}, Count: 1}
	if got := c2.TakeDrops(); len(got) != 1 || !proto.Equal(got[0], want) {
		t.Fatalf("the new node told %v, want %v", got, want)
	}
}
