package game_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// fragile is a counter with a bug a client reaches: the input "boom"
// panics in Input, "later" makes the next Update panic, and a user id
// "crash" panics in Accept.
type fragile struct {
	counter
	later bool
}

func (g *fragile) Accept(ctx *game.Context, p game.Player) error {
	if p.UserID == "crash" {
		panic("fragile: accept")
	}
	return g.counter.Accept(ctx, p)
}

func (g *fragile) Input(ctx *game.Context, seat uint32, data []byte) error {
	switch string(data) {
	case "boom":
		var m map[string]int
		m["x"]++ // a nil map: the kind of bug a game ships
	case "later":
		g.later = true
		return nil
	}
	return g.counter.Input(ctx, seat, data)
}

func (g *fragile) Update(ctx *game.Context, dt time.Duration) {
	if g.later {
		panic("fragile: update")
	}
	g.counter.Update(ctx, dt)
}

// A game's panic ends its own room (the match ends with reason "error",
// its members are removed, a join it was answering is refused) and no
// other: the shard's other rooms tick on, and the process lives.
func TestGamePanicEndsItsRoomAlone(t *testing.T) {
	for _, input := range []string{"boom", "later"} {
		t.Run(input, func(t *testing.T) {
			defs := []game.Definition{{Name: "fragile", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
				return &fragile{counter: counter{vals: map[uint64]int{}}}, nil
			}}}
			e := gametest.NewEnv(t, defs, func(c *game.Config) { c.Shards = 1 })
			bad, good := e.Create(t, game.RoomOptions{Game: "fragile"}), e.Create(t, game.RoomOptions{Game: "fragile"})
			a, b := e.Seat(t, bad, "a"), e.Seat(t, good, "b")
			e.Advance(t, 100*time.Millisecond)

			a.Send(t, []byte(input))
			b.Send(t, []byte("+"))
			e.Advance(t, 200*time.Millisecond)

			if ph := bad.Phase(); ph != game.PhaseDisposed {
				t.Fatalf("the room whose game panicked is %v", ph)
			}
			if _, ok := e.RT.Room(bad.ID()); ok {
				t.Fatal("the room whose game panicked is still listed")
			}
			var ended *tickroomv1.RoomEvent
			for _, ev := range a.Events() {
				if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
					ended = ev
				}
			}
			if ended == nil || ended.GetResult().GetReason() != "error" {
				t.Fatalf("its player's events: %v", a.Events())
			}
			removed := false
			for _, rm := range e.Removals() {
				removed = removed || rm.RoomID == bad.ID() && rm.Reason == game.RemovedRoomClosed
			}
			if !removed {
				t.Fatalf("removals %+v", e.Removals())
			}
			if res := e.Results(); len(res) != 1 || res[0].RoomID != bad.ID() || res[0].Outcome.Reason != "error" {
				t.Fatalf("results %+v", res)
			}

			// The other room of the shard plays on.
			b.Send(t, []byte("+"))
			e.Advance(t, 100*time.Millisecond)
			if ents, _ := b.Entities(); ents[uint64(b.Seat)] != "2" {
				t.Fatalf("the other room's player holds %v, want seat %d at 2", ents, b.Seat)
			}
			if good.Phase() != game.PhaseRunning {
				t.Fatalf("the other room is %v", good.Phase())
			}
		})
	}
}

// A join whose Accept panics is answered: refused as the room ends.
func TestGamePanicInAcceptAnswersTheJoin(t *testing.T) {
	defs := []game.Definition{{Name: "fragile", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
		return &fragile{counter: counter{vals: map[uint64]int{}}}, nil
	}}}
	e := gametest.NewEnv(t, defs, nil)
	r := e.Create(t, game.RoomOptions{Game: "fragile"})
	var got []game.JoinResult
	for _, id := range []string{"crash", "after"} {
		if err := r.Join(game.JoinRequest{UserID: id, Client: gametest.NewClient(id)}, func(res game.JoinResult) { got = append(got, res) }); err != nil {
			t.Fatal(err)
		}
	}
	e.Advance(t, 100*time.Millisecond)
	if len(got) != 2 || got[0].Err == nil || got[1].Err == nil {
		t.Fatalf("join results %+v", got)
	}
	if r.Phase() != game.PhaseDisposed {
		t.Fatalf("room %v", r.Phase())
	}
}

// savePanics is a fragile game whose Save panics.
type savePanics struct{ fragile }

func (g *savePanics) Save(*game.Context) ([]byte, error)  { panic("fragile: save") }
func (g *savePanics) Restore(*game.Context, []byte) error { return nil }

// A handoff whose Save panics is answered, and the room ends.
func TestGamePanicInSaveAnswersTheHandoff(t *testing.T) {
	defs := []game.Definition{{Name: "fragile", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
		return &savePanics{fragile{counter: counter{vals: map[uint64]int{}}}}, nil
	}}}
	e := gametest.NewEnv(t, defs, nil)
	r := e.Create(t, game.RoomOptions{Game: "fragile"})
	e.Seat(t, r, "a")
	var got []error
	if err := r.Handoff(func(_ *tickroomv1.SavedRoom, err error) { got = append(got, err) }); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if len(got) != 1 || got[0] == nil {
		t.Fatalf("handoff answers %v", got)
	}
	if r.Phase() != game.PhaseDisposed {
		t.Fatalf("room %v", r.Phase())
	}
}

// restorePanics is a fragile game whose Restore panics on the saved state
// "boom".
type restorePanics struct{ fragile }

func (g *restorePanics) Save(*game.Context) ([]byte, error) { return []byte("boom"), nil }
func (g *restorePanics) Restore(_ *game.Context, data []byte) error {
	if string(data) == "boom" {
		panic("fragile: restore")
	}
	return nil
}

// A game whose New panics on the room's options (a client's), or whose
// Restore panics on a saved state, refuses that room alone with
// ErrGamePanicked: the runtime goes on creating rooms.
func TestGamePanicInNewOrRestoreRefusesTheRoom(t *testing.T) {
	defs := []game.Definition{{Name: "fragile", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
		if s.Options["mode"] == "boom" {
			var m map[string]int
			m["x"]++
		}
		return &restorePanics{fragile{counter: counter{vals: map[uint64]int{}}}}, nil
	}}}
	e := gametest.NewEnv(t, defs, nil)
	if _, err := e.RT.CreateRoom(game.RoomOptions{Game: "fragile", Options: map[string]string{"mode": "boom"}}); !errors.Is(err, game.ErrGamePanicked) {
		t.Fatalf("a room whose New panicked: %v, want ErrGamePanicked", err)
	}
	r := e.Create(t, game.RoomOptions{Game: "fragile"})
	e.Seat(t, r, "a")
	var saved *tickroomv1.SavedRoom
	if err := r.Handoff(func(s *tickroomv1.SavedRoom, err error) {
		if err != nil {
			t.Errorf("handoff: %v", err)
		}
		saved = s
	}); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if saved == nil {
		t.Fatal("no saved room")
	}
	if _, err := e.RT.RestoreRoom(saved); !errors.Is(err, game.ErrGamePanicked) {
		t.Fatalf("a room whose Restore panicked: %v, want ErrGamePanicked", err)
	}
	after := e.Create(t, game.RoomOptions{Game: "fragile"})
	b := e.Seat(t, after, "b")
	b.Send(t, []byte("+"))
	e.Advance(t, 100*time.Millisecond)
	if ents, _ := b.Entities(); ents[uint64(b.Seat)] != "1" {
		t.Fatalf("a room made after them holds %v, want seat %d at 1", ents, b.Seat)
	}
}

// saverFragile is a fragile game that saves itself.
type saverFragile struct{ fragile }

func (g *saverFragile) Save(*game.Context) ([]byte, error)  { return []byte("x"), nil }
func (g *saverFragile) Restore(*game.Context, []byte) error { return nil }

// A tick that took a handoff and an operator's state request and whose
// game then panics (here in Input, before either is served) answers both
// as the room ends: the handoff with an error, the state request with
// ErrFinished, rather than leaving them waiting for ever.
func TestGamePanicAnswersWhatItsTickTook(t *testing.T) {
	defs := []game.Definition{{Name: "fragile", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
		return &saverFragile{fragile{counter: counter{vals: map[uint64]int{}}}}, nil
	}}}
	e := gametest.NewEnv(t, defs, nil)
	r := e.Create(t, game.RoomOptions{Game: "fragile"})
	a := e.Seat(t, r, "a")
	e.Advance(t, 100*time.Millisecond)
	a.Send(t, []byte("boom"))
	handoffs := make(chan error, 2)
	if err := r.Handoff(func(_ *tickroomv1.SavedRoom, err error) { handoffs <- err }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	states := make(chan error, 1)
	go func() { _, err := r.State(ctx); states <- err }()
	// Let the state request reach the room before its tick runs (one that
	// came after would find the room ended and get ErrFinished at once).
	time.Sleep(100 * time.Millisecond)
	e.Advance(t, 100*time.Millisecond)
	if r.Phase() != game.PhaseDisposed {
		t.Fatalf("room %v", r.Phase())
	}
	select {
	case err := <-handoffs:
		if err == nil {
			t.Fatal("the handoff of a room whose game panicked succeeded")
		}
	default:
		t.Fatal("the handoff was never answered")
	}
	if err := <-states; !errors.Is(err, game.ErrFinished) {
		t.Fatalf("the state request: %v, want ErrFinished", err)
	}
	select {
	case err := <-handoffs:
		t.Fatalf("the handoff was answered twice (%v)", err)
	default:
	}
}

// TestCostPanicLogsAreSpaced: a game's Cost runs on a client's room
// options at the client's message rate, before any budget is spent, so a
// Cost that panics on some options let one client write a stack trace to
// the log with each message; the stacks are now logged at most once every
// 10 s, while every such request is still refused.
func TestCostPanicLogsAreSpaced(t *testing.T) {
	var logged atomic.Int64
	prev := slog.Default()
	slog.SetDefault(slog.New(countHandler{n: &logged}))
	defer slog.SetDefault(prev)
	d := game.Definition{Name: "pricey", MaxPlayers: 2, New: func(game.Setup) (game.Game, error) { return nil, nil },
		Cost: func(s game.Setup) int { panic("no price for " + s.Options["mode"]) }}
	for range 100 {
		if err := d.CheckOptions(game.RoomOptions{Game: "pricey", Options: map[string]string{"mode": "x"}}); !errors.Is(err, game.ErrGamePanicked) {
			t.Fatalf("CheckOptions: %v, want ErrGamePanicked", err)
		}
	}
	if n := logged.Load(); n > 1 {
		t.Fatalf("%d log records for 100 panics within a second, want at most 1", n)
	}
}

// countHandler counts the records logged through it whose message
// starts with prefix (every record for "").
type countHandler struct {
	n      *atomic.Int64
	prefix string
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// broken is a Marshaler that always fails.
type broken struct{}

func (broken) SizeVT() int                                { return 1 }
func (broken) MarshalToSizedBufferVT([]byte) (int, error) { return 0, errors.New("broken: no bytes") }

// unencodable is a counter whose Encode fails on one entity every tick.
type unencodable struct{ counter }

func (g *unencodable) Encode(s *game.Snapshot) {
	g.counter.Encode(s)
	s.Entity(999, broken{})
}

// A game whose Encode fails every tick logged a line every tick of every
// room of it: at 120 Hz, 120 lines a second a room. The lines are spaced
// to one every 10 s with the count left out, and the room plays on with
// the entities that encoded.
func TestEncodeErrorLogsAreSpaced(t *testing.T) {
	var logged atomic.Int64
	defs := []game.Definition{{Name: "unencodable", TickRate: 120, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
		return &unencodable{counter{vals: map[uint64]int{}}}, nil
	}}}
	e := gametest.NewEnv(t, defs, func(c *game.Config) {
		c.Shards = 1
		c.Logger = slog.New(countHandler{n: &logged, prefix: "encode state"})
	})
	rooms := []*game.Room{e.Create(t, game.RoomOptions{Game: "unencodable"}), e.Create(t, game.RoomOptions{Game: "unencodable"})}
	a := e.Seat(t, rooms[0], "a")
	e.Seat(t, rooms[1], "b")
	a.Send(t, []byte("+"))
	e.Advance(t, time.Second)
	if n := logged.Load(); n != 1 {
		t.Fatalf("%d encode lines in a second of two 120 Hz rooms whose every Encode failed, want 1", n)
	}
	if got, _ := a.Entities(); len(got) != 1 || got[uint64(a.Seat)] != "1" {
		t.Fatalf("a sees %v, want its own entity (seat %d) at 1 and no other", got, a.Seat)
	}
}

// gameLines counts, per game, the records logged through it whose
// message starts with prefix; the game is the record's "game" attribute
// or, as a room's logger carries it, one given to With.
type gameLines struct {
	mu     *sync.Mutex
	n      map[string]int
	prefix string
	game   string
}

func (h gameLines) Enabled(context.Context, slog.Level) bool { return true }
func (h gameLines) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, h.prefix) {
		return nil
	}
	name := h.game
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "game" {
			name = a.Value.String()
			return false
		}
		return true
	})
	if name != "" {
		h.mu.Lock()
		h.n[name]++
		h.mu.Unlock()
	}
	return nil
}
func (h gameLines) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == "game" {
			h.game = a.Value.String()
		}
	}
	return h
}
func (h gameLines) WithGroup(string) slog.Handler { return h }

// TestEachBrokenGameIsLogged: the lines of games whose Encode fails are
// spaced per game, so a game failing every tick does not hide another
// game's failure from the log; rooms of one game share its spacing (see
// TestEncodeErrorLogsAreSpaced).
func TestEachBrokenGameIsLogged(t *testing.T) {
	h := gameLines{mu: new(sync.Mutex), n: map[string]int{}, prefix: "encode state"}
	var defs []game.Definition
	for _, name := range []string{"unencodable", "alsounencodable"} {
		defs = append(defs, game.Definition{Name: name, TickRate: 120, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
			return &unencodable{counter{vals: map[uint64]int{}}}, nil
		}})
	}
	e := gametest.NewEnv(t, defs, func(c *game.Config) {
		c.Shards = 1
		c.Logger = slog.New(h)
	})
	for _, d := range defs {
		e.Seat(t, e.Create(t, game.RoomOptions{Game: d.Name}), "p")
	}
	e.Advance(t, time.Second)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range defs {
		if h.n[d.Name] == 0 {
			t.Errorf("no encode line of %s in a second of its room failing at every tick (lines per game: %v)", d.Name, h.n)
		}
	}
}

// A panic in Config.OnResult (the server's code, not the game's: here
// one that reads the first winner of a result with none) while it is told
// of a match whose game panicked is logged and goes no further: the room
// whose game failed ends as without it, and the shard's other rooms and
// the process play on.
func TestOnResultPanicAfterAGamePanicEndsNoMoreThanItsRoom(t *testing.T) {
	defs := []game.Definition{{Name: "fragile", TickRate: 20, MaxPlayers: 4, New: func(s game.Setup) (game.Game, error) {
		return &fragile{counter: counter{vals: map[uint64]int{}}}, nil
	}}}
	var told atomic.Int32
	e := gametest.NewEnv(t, defs, func(c *game.Config) {
		c.Shards = 1
		c.OnResult = func(r game.Result) {
			told.Add(1)
			_ = r.Winners()[0].Name // a result with no winners: index out of range
		}
	})
	bad, good := e.Create(t, game.RoomOptions{Game: "fragile"}), e.Create(t, game.RoomOptions{Game: "fragile"})
	a, b := e.Seat(t, bad, "a"), e.Seat(t, good, "b")
	e.Advance(t, 100*time.Millisecond)

	a.Send(t, []byte("later")) // its next Update panics
	b.Send(t, []byte("+"))
	e.Advance(t, 200*time.Millisecond)
	if told.Load() != 1 || bad.Phase() != game.PhaseDisposed {
		t.Fatalf("OnResult told %d times; the room whose game panicked is %v", told.Load(), bad.Phase())
	}
	b.Send(t, []byte("+"))
	e.Advance(t, 100*time.Millisecond)
	if ents, _ := b.Entities(); ents[uint64(b.Seat)] != "2" || good.Phase() != game.PhaseRunning {
		t.Fatalf("the other room is %v, its player holds %v, want seat %d at 2", good.Phase(), ents, b.Seat)
	}
}
