package game_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func counterOf(t *testing.T, r *game.Room) *counter {
	t.Helper()
	g, ok := games.Load(r.ID())
	if !ok {
		t.Fatal("no game for room")
	}
	return g.(*counter)
}

func TestJoinErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    game.RoomOptions
		prepare func(t *testing.T, e *gametest.Env, r *game.Room)
		req     game.JoinRequest
		want    error
	}{
		{name: "full", opts: game.RoomOptions{Game: "counter", MaxPlayers: 1},
			prepare: func(t *testing.T, e *gametest.Env, r *game.Room) {
				e.Join(t, r, game.JoinRequest{UserID: "a", Client: gametest.NewClient("a")})
			},
			req: game.JoinRequest{UserID: "b"}, want: game.ErrRoomFull},
		{name: "wrong password", opts: game.RoomOptions{Game: "counter", Password: "s3cret"},
			req: game.JoinRequest{UserID: "b", Password: "guess"}, want: game.ErrWrongPassword},
		{name: "locked", opts: game.RoomOptions{Game: "counter"},
			prepare: func(t *testing.T, e *gametest.Env, r *game.Room) { r.Lock() },
			req:     game.JoinRequest{UserID: "b"}, want: game.ErrLocked},
		{name: "spectator seats full", opts: game.RoomOptions{Game: "counter", MaxSpectators: 1},
			prepare: func(t *testing.T, e *gametest.Env, r *game.Room) {
				e.Join(t, r, game.JoinRequest{UserID: "s", Spectator: true, Client: gametest.NewClient("s")})
			},
			req: game.JoinRequest{UserID: "b", Spectator: true}, want: game.ErrRoomFull},
		{name: "no client", opts: game.RoomOptions{Game: "counter"},
			req: game.JoinRequest{UserID: "b"}, want: game.ErrNoClient},
		{name: "finished", opts: game.RoomOptions{Game: "counter"},
			prepare: func(t *testing.T, e *gametest.Env, r *game.Room) {
				res := e.Join(t, r, game.JoinRequest{UserID: "a", Client: gametest.NewClient("a")})
				if err := r.Input(res.Seat, 1, []byte("end")); err != nil {
					t.Fatal(err)
				}
				e.Advance(t, 100*time.Millisecond)
			},
			req: game.JoinRequest{UserID: "b"}, want: game.ErrFinished},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := gametest.NewEnv(t, testDefinitions(), nil)
			r, err := e.RT.CreateRoom(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(t, e, r)
			}
			if tc.want != game.ErrNoClient {
				tc.req.Client = gametest.NewClient(tc.req.UserID)
			}
			if err := r.Join(tc.req, nil); !errors.Is(err, tc.want) {
				t.Fatalf("Join: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSpectatorSeats: spectators take the seats after the players' in
// order, up to MaxSpectators, get the room's state, and a seat a spectator
// left goes to the next one.
func TestSpectatorSeats(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter", MaxPlayers: 2, MaxSpectators: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res := e.Join(t, r, game.JoinRequest{UserID: "p", Client: gametest.NewClient("p")}); res.Err != nil || res.Seat != 1 {
		t.Fatalf("player: %+v", res)
	}
	var specs []*gametest.Client
	for i := range 2 {
		c := gametest.NewClient(fmt.Sprint("s", i))
		res := e.Join(t, r, game.JoinRequest{UserID: fmt.Sprint("s", i), Spectator: true, Client: c})
		if res.Err != nil || res.Seat != uint32(3+i) || !res.Spectator {
			t.Fatalf("spectator %d: %+v, want seat %d", i, res, 3+i)
		}
		specs = append(specs, c)
	}
	if err := r.Join(game.JoinRequest{UserID: "s9", Spectator: true, Client: gametest.NewClient("s9")}, nil); !errors.Is(err, game.ErrRoomFull) {
		t.Fatalf("third spectator: %v, want ErrRoomFull", err)
	}
	e.Advance(t, 100*time.Millisecond)
	for i, c := range specs {
		if frames, _ := c.Received(); frames == 0 {
			t.Fatalf("spectator %d got no state", i)
		}
	}
	if err := r.Leave(4); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if res := e.Join(t, r, game.JoinRequest{UserID: "s4", Spectator: true, Client: gametest.NewClient("s4")}); res.Err != nil || res.Seat != 4 {
		t.Fatalf("spectator after a leave: %+v, want seat 4", res)
	}
	if res := e.Join(t, r, game.JoinRequest{UserID: "p2", Client: gametest.NewClient("p2")}); res.Err != nil || res.Seat != 2 {
		t.Fatalf("second player: %+v, want seat 2", res)
	}
	if info := r.Info(); info.Players != 2 || info.Spectators != 2 {
		t.Fatalf("info %+v, want 2 players and 2 spectators", info)
	}
}

func TestJoinRefusedByGame(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter", MaxPlayers: 1})
	if err != nil {
		t.Fatal(err)
	}
	res := e.Join(t, r, game.JoinRequest{UserID: "banned", Client: gametest.NewClient("x")})
	var re *game.RefusedError
	if !errors.As(res.Err, &re) || re.Reason != "banned user" || !errors.Is(res.Err, game.ErrRefused) {
		t.Fatalf("got %v, want refusal with reason", res.Err)
	}
	// The refused join's seat is free again.
	if res := e.Join(t, r, game.JoinRequest{UserID: "ok", Client: gametest.NewClient("ok")}); res.Err != nil || res.Seat != 1 {
		t.Fatalf("second join: %+v", res)
	}
}

func TestConcurrentJoinsNeverOverfill(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter", MaxPlayers: 3})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			errs[i] = r.Join(game.JoinRequest{UserID: fmt.Sprint("u", i), Client: gametest.NewClient("c")}, nil)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, game.ErrRoomFull):
			t.Fatalf("unexpected error %v", err)
		}
	}
	e.Advance(t, 100*time.Millisecond)
	if info := r.Info(); ok != 3 || info.Players != 3 {
		t.Fatalf("accepted %d, room has %d players; want 3", ok, info.Players)
	}
}

// TestDeterministicDeltas checks the exact frames a client gets for inputs
// given at known ticks.
func TestDeterministicDeltas(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := gametest.NewClient("a"), gametest.NewClient("b")
	ra := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a})
	join := a.LastState()
	if ents, _ := a.Entities(); join == nil || !join.Keyframe || join.RoomId != r.ID() || join.RoomRef != r.Ref() ||
		!slices.Equal(join.Upserted, []uint64{uint64(ra.Seat)}) || ents[uint64(ra.Seat)] != "0" || !join.GlobalsChanged || string(a.Globals()) != "0" {
		t.Fatalf("join keyframe: %v", join)
	}
	a.TakeStates()
	tick := join.Tick
	period := 50 * time.Millisecond

	// An unchanged tick sends nothing.
	e.Advance(t, period)
	if got := a.TakeStates(); len(got) != 0 {
		t.Fatalf("unchanged tick sent %v", got)
	}
	tick++

	// Two inputs in one tick: one delta with the entity, globals and ack.
	for seq := uint32(1); seq <= 2; seq++ {
		if err := r.Input(ra.Seat, seq, []byte("+")); err != nil {
			t.Fatal(err)
		}
	}
	e.Advance(t, period)
	tick++
	got := a.TakeStates()
	// The base is the last state the client got: idle ticks add none.
	// The patch: flags (globals, acks, changes), globals "2", no ack rose
	// by one, one other (seat gap 1, zigzag(2-0)+1), the change bitset
	// {entity 0}, and the entity whole (its bytes are not protobuf).
	want := &tickroomv1.State{Tick: tick, BaseTick: join.Tick, RoomRef: r.Ref(),
		Patch: []byte{7, 1, '2', 0, 1, 1, 5, 1, 1, statesync.HeadWhole, 1, '2'}}
	if len(got) != 1 || !got[0].EqualVT(want) {
		t.Fatalf("delta:\n got %v\nwant %v", got, want)
	}
	if ack, _ := a.Ack(1); ack != 2 || string(a.Globals()) != "2" {
		t.Fatalf("ack %d, globals %q", ack, a.Globals())
	}

	// b joins: b gets a keyframe with both, a gets a delta adding b.
	rb := e.Join(t, r, game.JoinRequest{UserID: "b", Client: b})
	ka := a.TakeStates()
	kb := b.TakeStates()
	if len(kb) != 1 || !kb[0].Keyframe || len(kb[0].Upserted) != 2 {
		t.Fatalf("b keyframe: %v", kb)
	}
	if len(ka) != 1 || ka[0].Keyframe || !slices.Equal(ka[0].Upserted, []uint64{uint64(rb.Seat)}) {
		t.Fatalf("a delta on b join: %v", ka)
	}

	// A refused input changes nothing and tells only its sender.
	if err := r.Input(rb.Seat, 1, []byte("!")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, period)
	if m := b.TakeMessages(); len(m) != 1 || m[0].Code != 7 || m[0].Text != "bang refused" {
		t.Fatalf("b messages: %v", m)
	}
	if m := a.TakeMessages(); len(m) != 0 {
		t.Fatalf("a got b's error: %v", m)
	}
	if st := a.TakeStates(); len(st) != 1 || len(st[0].Upserted) != 0 || st[0].GlobalsChanged ||
		!slices.Equal(st[0].Acks, []statesync.Ack{{Seat: rb.Seat, Seq: 1}}) {
		t.Fatalf("after refused input (only b's ack changes): %v", st)
	}

	// b removes its entity: a delta with a removal.
	if err := r.Input(rb.Seat, 2, []byte("-")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, period)
	if st := a.TakeStates(); len(st) != 1 || !slices.Equal(st[0].Removed, []uint64{uint64(rb.Seat)}) {
		t.Fatalf("removal: %v", st)
	}
	// A stale sequence number is dropped.
	if err := r.Input(rb.Seat, 2, []byte("+")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, period)
	if ents, _ := b.Entities(); len(ents) != 1 {
		t.Fatalf("stale input applied: %v", ents)
	}
	for _, c := range []*gametest.Client{a, b} {
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClientsConverge: clients that apply every frame end with the room's
// entities, whatever the mix of inputs, congestion, drops and resumes.
func TestClientsConverge(t *testing.T) {
	for _, gameName := range []string{"counter", "private", "versioned"} {
		t.Run(gameName, func(t *testing.T) {
			e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.ResumeTicks = 4 })
			r, err := e.RT.CreateRoom(game.RoomOptions{Game: gameName})
			if err != nil {
				t.Fatal(err)
			}
			g := counterOf(t, r)
			clients := make([]*gametest.Client, 4)
			seats := make([]uint32, 4)
			seqs := make([]uint32, 4)
			for i := range clients {
				clients[i] = gametest.NewClient(fmt.Sprint("c", i))
				seats[i] = e.Join(t, r, game.JoinRequest{UserID: fmt.Sprint("u", i), Client: clients[i]}).Seat
			}
			rng := uint64(42)
			next := func(n uint64) uint64 { rng = rng*6364136223846793005 + 1442695040888963407; return (rng >> 33) % n }
			for step := range 300 {
				i := next(4)
				c := clients[i]
				switch next(10) {
				case 0:
					c.SetCongested(!c.Congested())
				case 1:
					if step%7 == 0 {
						_, tick := c.Entities()
						if err := r.Drop(seats[i], c); err == nil {
							e.Advance(t, 50*time.Millisecond)
							res := e.Join(t, r, game.JoinRequest{UserID: fmt.Sprint("u", i), Client: c, ResumeTick: tick})
							if res.Err != nil || !res.Resumed {
								t.Fatalf("resume: %+v", res)
							}
						}
					}
				default:
					seqs[i]++
					in := "+"
					if next(20) == 0 {
						in = "-"
					}
					_ = r.Input(seats[i], seqs[i], []byte(in))
				}
				e.Advance(t, 50*time.Millisecond)
			}
			for _, c := range clients {
				c.SetCongested(false)
			}
			e.Advance(t, 100*time.Millisecond)
			truth := g.entities()
			for i, c := range clients {
				got, _ := c.Entities()
				want := truth
				if gameName == "private" {
					want = map[uint64]string{}
					if v, ok := truth[uint64(seats[i])]; ok {
						want[uint64(seats[i])] = v
					}
				}
				if !maps.Equal(got, want) {
					t.Fatalf("client %d has %v, room has %v", i, got, want)
				}
				if err := c.Err(); err != nil {
					t.Fatal(err)
				}
			}
			if st := r.Stats(); st.StateSkipped == 0 {
				t.Fatalf("test never skipped a congested client: %+v", st)
			}
		})
	}
}

// TestViewResumeFromTheViewBeforeTheLast: in a game with per-member views
// a client whose last view was lost with its connection resumes from the
// one before, which the room still holds (its last two): it gets a delta
// from it, as protocol/README.md says, not a keyframe.
func TestViewResumeFromTheViewBeforeTheLast(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "private"})
	if err != nil {
		t.Fatal(err)
	}
	old := gametest.NewClient("old")
	seat := e.Join(t, r, game.JoinRequest{UserID: "u", Client: old}).Seat
	e.Advance(t, 50*time.Millisecond)
	// The page applies the states up to its first "+"; the view of the
	// second is lost with the connection.
	page := gametest.NewClient("page")
	for i := uint32(1); i <= 2; i++ {
		if err := r.Input(seat, i, []byte("+")); err != nil {
			t.Fatal(err)
		}
		e.Advance(t, 50*time.Millisecond)
		if i == 1 {
			for _, st := range old.TakeStates() {
				if err := page.Apply(st.State); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if got, _ := old.Entities(); got[uint64(seat)] != "2" {
		t.Fatalf("the connection holds %v, want the second +", got)
	}
	_, tick := page.Entities()
	if err := r.Drop(seat, old); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 50*time.Millisecond)
	if res := e.Join(t, r, game.JoinRequest{UserID: "u", Client: page, ResumeTick: tick}); res.Err != nil || !res.Resumed {
		t.Fatalf("resume: %+v", res)
	}
	e.Advance(t, 50*time.Millisecond)
	st := page.LastState()
	if st == nil || st.Keyframe || st.BaseTick != tick {
		t.Fatalf("resumed from tick %d, first state %+v: want a delta from it", tick, st)
	}
	if got, _ := page.Entities(); got[uint64(seat)] != "2" || page.Err() != nil {
		t.Fatalf("page holds %v (%v), want the second +", got, page.Err())
	}
}

// retainingTransport keeps a reference per recipient, as a server that
// queues frames would, and releases them later.
type retainingTransport struct {
	mu   sync.Mutex
	held []*frame.Frame
}

func (rt *retainingTransport) Deliver(f *frame.Frame, to []game.Client, reliable bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for range to {
		f.Retain()
		rt.held = append(rt.held, f)
	}
}

// TestFramesOutliveDelivery: frames kept by the transport stay valid after
// the tick and go back to the pool only with the transport's last release.
func TestFramesOutliveDelivery(t *testing.T) {
	tr := &retainingTransport{}
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.Transport = tr })
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.Join(t, r, game.JoinRequest{UserID: fmt.Sprint(i), Client: gametest.NewClient("c")})
	}
	for seq := uint32(1); seq <= 5; seq++ {
		_ = r.Input(1, seq, []byte("+"))
		e.Advance(t, 50*time.Millisecond)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.held) < 3*5 {
		t.Fatalf("held %d frames", len(tr.held))
	}
	counts := map[*frame.Frame]int32{}
	for _, f := range tr.held {
		counts[f]++
	}
	for f, n := range counts {
		if f.Refs() != n {
			t.Fatalf("frame has %d refs, transport holds %d", f.Refs(), n)
		}
		if len(f.Payload()) == 0 {
			t.Fatal("held frame is empty")
		}
	}
	for _, f := range tr.held {
		f.Release()
	}
}

// TestListingSumFollowsTheListing: the checksum a cluster directory keeps
// a listing by stays the same while ticks run and changes when a player
// joins, another user takes a seat, the room is locked, or it finishes.
func TestListingSumFollowsTheListing(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r := e.Create(t, game.RoomOptions{Game: "counter", MaxPlayers: 2})
	seen := map[uint64]string{} // checksum → the step that gave it
	distinct := func(what string) {
		t.Helper()
		s := r.ListingSum()
		if prev, ok := seen[s]; ok {
			t.Fatalf("%s: listing checksum %x as after %s", what, s, prev)
		}
		seen[s] = what
	}
	distinct("created")
	a := e.Seat(t, r, "a")
	distinct("a joined")
	before := r.ListingSum()
	e.Advance(t, time.Second)
	if r.ListingSum() != before {
		t.Fatal("listing checksum changed with ticks alone")
	}
	if err := r.Leave(a.Seat); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	e.Seat(t, r, "b")
	distinct("b in a's seat")
	r.Lock()
	distinct("locked")
}

// A game's tick figures count every tick its rooms ran, those of rooms
// that have ended included, and the census counts the live rooms and
// their players without listing them.
func TestGameStatsOutliveRooms(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.Shards = 2 })
	ended := e.Create(t, game.RoomOptions{Game: "counter"})
	live := e.Create(t, game.RoomOptions{Game: "counter"})
	e.Seat(t, live, "a")
	e.Seat(t, live, "b")
	e.Seat(t, ended, "c")
	e.Advance(t, time.Second)
	census := func() (rooms, players int) {
		for _, c := range e.RT.Census() {
			if c.Game != "counter" {
				t.Fatalf("census of game %q", c.Game)
			}
			rooms += c.Rooms
			players += c.Players
		}
		return rooms, players
	}
	if rooms, players := census(); rooms != 2 || players != 3 {
		t.Fatalf("census: %d rooms, %d players; want 2, 3", rooms, players)
	}
	ended.Close("done")
	e.Advance(t, time.Second)
	if _, ok := e.RT.Room(ended.ID()); ok {
		t.Fatal("the closed room is still live")
	}
	if rooms, players := census(); rooms != 1 || players != 2 {
		t.Fatalf("census after the close: %d rooms, %d players; want 1, 2", rooms, players)
	}
	gs, ok := e.RT.GameStats()["counter"]
	if !ok {
		t.Fatal("no figures for the game")
	}
	es, ls := ended.Stats(), live.Stats()
	if gs.Ticks != es.Ticks+ls.Ticks || gs.Lateness.Count != es.Lateness.Count+ls.Lateness.Count || es.Ticks < 20 {
		t.Fatalf("game: %d ticks, %d timed; the rooms: %d + %d ticks, %d + %d timed",
			gs.Ticks, gs.Lateness.Count, es.Ticks, ls.Ticks, es.Lateness.Count, ls.Lateness.Count)
	}
	if total := e.RT.Stats().Total; total.Ticks != gs.Ticks || total.FramesEncoded != gs.FramesEncoded {
		t.Fatalf("shards' total %d ticks, %d frames; the game's %d, %d", total.Ticks, total.FramesEncoded, gs.Ticks, gs.FramesEncoded)
	}
}

// madeTransport records when each delivered frame says it was made.
type madeTransport struct {
	mu   sync.Mutex
	made []int64
}

func (mt *madeTransport) Deliver(f *frame.Frame, to []game.Client, reliable bool) {
	mt.mu.Lock()
	mt.made = append(mt.made, f.Made())
	mt.mu.Unlock()
}

func (mt *madeTransport) stamps() []int64 {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	return slices.Clone(mt.made)
}

// TestFramesSayWhenTheirTickBegan: on the system clock a room's frames say
// when the tick that made them began (frame.Made, which the transport's
// send wait counts from); on a ManualClock, whose time is not the
// transport's, they say nothing.
func TestFramesSayWhenTheirTickBegan(t *testing.T) {
	t.Run("system clock", func(t *testing.T) {
		mt := &madeTransport{}
		reg := game.NewRegistry()
		for _, d := range testDefinitions() {
			if err := reg.Register(d); err != nil {
				t.Fatal(err)
			}
		}
		rt, err := game.NewRuntime(game.Config{Registry: reg, Transport: mt})
		if err != nil {
			t.Fatal(err)
		}
		rt.Start()
		t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
		start := frame.Stamp(time.Now())
		r, err := rt.CreateRoom(game.RoomOptions{Game: "counter"})
		if err != nil {
			t.Fatal(err)
		}
		joined := make(chan game.JoinResult, 1)
		if err := r.Join(game.JoinRequest{UserID: "ann", Client: gametest.NewClient("ann")}, func(jr game.JoinResult) { joined <- jr }); err != nil {
			t.Fatal(err)
		}
		seat := (<-joined).Seat
		deadline := time.Now().Add(10 * time.Second)
		for seq := uint32(1); len(mt.stamps()) < 5 && time.Now().Before(deadline); seq++ {
			_ = r.Input(seat, seq, []byte("+")) // a state that changes has a delta to send
			time.Sleep(20 * time.Millisecond)
		}
		made, end := mt.stamps(), frame.Stamp(time.Now())
		if len(made) < 5 {
			t.Fatalf("%d frames delivered, want 5", len(made))
		}
		for i, m := range made {
			if m < start || m > end || (i > 0 && m < made[i-1]) {
				t.Fatalf("frame %d says it was made at %d, not between %d and %d after the one before (%v)", i, m, start, end, made)
			}
		}
	})
	t.Run("manual clock", func(t *testing.T) {
		mt := &madeTransport{}
		e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.Transport = mt })
		r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
		if err != nil {
			t.Fatal(err)
		}
		e.Join(t, r, game.JoinRequest{UserID: "ann", Client: gametest.NewClient("ann")})
		e.Advance(t, 200*time.Millisecond)
		made := mt.stamps()
		if len(made) == 0 {
			t.Fatal("no frames delivered")
		}
		for _, m := range made {
			if m != 0 {
				t.Fatalf("a frame of a manual-clock runtime says it was made at %d", m)
			}
		}
	})
}
