package game_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func TestResume(t *testing.T) {
	tests := []struct {
		name      string
		idleTicks int  // changed ticks between the drop and the resume
		keyframe  bool // whether the resume must get a keyframe
	}{
		{name: "delta from ring", idleTicks: 2, keyframe: false},
		{name: "keyframe when the ring lost the tick", idleTicks: 10, keyframe: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.ResumeTicks = 4 })
			r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
			if err != nil {
				t.Fatal(err)
			}
			a, other := gametest.NewClient("a"), gametest.NewClient("o")
			seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a}).Seat
			oseat := e.Join(t, r, game.JoinRequest{UserID: "o", Client: other}).Seat
			if err := r.Drop(seat, a); err != nil {
				t.Fatal(err)
			}
			e.Advance(t, 50*time.Millisecond)
			_, seen := a.Entities()
			a.TakeStates()
			for i := range tc.idleTicks {
				if err := r.Input(oseat, uint32(i+1), []byte("+")); err != nil {
					t.Fatal(err)
				}
				e.Advance(t, 50*time.Millisecond)
			}
			if got := a.TakeStates(); len(got) != 0 {
				t.Fatalf("dropped client got state: %v", got)
			}
			b := gametest.NewClient("a2")
			res := e.Join(t, r, game.JoinRequest{UserID: "a", Client: b, ResumeTick: seen})
			if res.Err != nil || !res.Resumed || res.Seat != seat {
				t.Fatalf("resume: %+v", res)
			}
			st := b.TakeStates()
			if len(st) != 1 || st[0].Keyframe != tc.keyframe {
				t.Fatalf("resume state: %v", st)
			}
			if !tc.keyframe && st[0].BaseTick != seen {
				t.Fatalf("resume delta base %d, want %d", st[0].BaseTick, seen)
			}
			if kinds := other.EventKinds(); !slices.Contains(kinds, tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED) ||
				!slices.Contains(kinds, tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_RESUMED) {
				t.Fatalf("other's events: %v", kinds)
			}
			// A late drop of the replaced connection does not cut off b.
			_ = r.Drop(seat, a)
			e.Advance(t, 50*time.Millisecond)
			if err := r.Input(seat, 1, []byte("+")); err != nil {
				t.Fatalf("input after stale drop: %v", err)
			}
		})
	}
}

// TestResumeFromAnOldState: a client that resumes with a tick several
// states back gets one delta from that state, and applying it gives the
// room's entities exactly, though between the two ticks entities changed
// several times, appeared, vanished, and came back with other bytes.
func TestResumeFromAnOldState(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.ResumeTicks = 8 })
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	g := counterOf(t, r)
	a := gametest.NewClient("a")
	seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a}).Seat
	others := map[string]uint32{}
	clients := map[string]*gametest.Client{}
	for _, name := range []string{"b", "c", "d"} {
		clients[name] = gametest.NewClient(name)
		others[name] = e.Join(t, r, game.JoinRequest{UserID: name, Client: clients[name]}).Seat
	}
	e.Advance(t, 50*time.Millisecond)
	seq := map[string]uint32{}
	input := func(name, in string) {
		t.Helper()
		seq[name]++
		if err := r.Input(others[name], seq[name], []byte(in)); err != nil {
			t.Fatal(err)
		}
	}
	input("b", "+")
	input("c", "-")
	e.Advance(t, 50*time.Millisecond)
	if err := r.Drop(seat, a); err != nil {
		t.Fatal(err)
	}
	_, seen := a.Entities()
	for _, step := range [][2]string{{"c", "+"}, {"b", "+"}, {"d", "-"}, {"b", "+"}, {"c", "+"}, {"d", "+"}} {
		input(step[0], step[1])
		e.Advance(t, 50*time.Millisecond)
	}
	a.TakeStates()
	res := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a, ResumeTick: seen})
	if res.Err != nil || !res.Resumed || res.Seat != seat {
		t.Fatalf("resume: %+v", res)
	}
	st := a.TakeStates()
	if len(st) != 1 || st[0].Keyframe || st[0].BaseTick != seen {
		t.Fatalf("resume from tick %d: states %v, want one delta from it", seen, st)
	}
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Entities()
	if want := g.entities(); !maps.Equal(got, want) {
		t.Fatalf("resumed client has %v, room has %v", got, want)
	}
}

func TestDropGraceExpires(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.DropGrace = time.Second })
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := gametest.NewClient("a"), gametest.NewClient("b")
	seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a}).Seat
	e.Join(t, r, game.JoinRequest{UserID: "b", Client: b})
	if err := r.Drop(seat, a); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 1100*time.Millisecond)
	if !slices.ContainsFunc(e.Removals(), func(rm game.Removal) bool {
		return rm.UserID == "a" && rm.Reason == game.RemovedGraceExpired
	}) {
		t.Fatalf("removals: %+v", e.Removals())
	}
	if info := r.Info(); info.Players != 1 {
		t.Fatalf("players %d, want 1", info.Players)
	}
	if ents, _ := b.Entities(); len(ents) != 1 {
		t.Fatalf("b still sees %v", ents)
	}
	// The user is gone: a join with its id is a new join.
	if res := e.Join(t, r, game.JoinRequest{UserID: "a", Client: gametest.NewClient("a3")}); res.Resumed {
		t.Fatal("expired seat resumed")
	}
}

// TestDropGracesRunOutOneByOne: members dropped at different times each
// lose their seat when their own grace runs out, and one that resumed in
// time keeps it.
func TestDropGracesRunOutOneByOne(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.DropGrace = time.Second })
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter", MaxPlayers: 4})
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*gametest.Client{}
	seats := map[string]uint32{}
	for _, u := range []string{"a", "b", "c", "d"} {
		clients[u] = gametest.NewClient(u)
		seats[u] = e.Join(t, r, game.JoinRequest{UserID: u, Client: clients[u]}).Seat
	}
	expired := func(u string) bool {
		return slices.ContainsFunc(e.Removals(), func(rm game.Removal) bool {
			return rm.UserID == u && rm.Reason == game.RemovedGraceExpired
		})
	}
	drop := func(u string) {
		if err := r.Drop(seats[u], clients[u]); err != nil {
			t.Fatal(err)
		}
	}
	drop("a")
	e.Advance(t, 600*time.Millisecond)
	drop("b")
	drop("c")
	e.Advance(t, 200*time.Millisecond)
	if res := e.Join(t, r, game.JoinRequest{UserID: "c", Client: gametest.NewClient("c2")}); !res.Resumed {
		t.Fatal("c did not resume")
	}
	e.Advance(t, 300*time.Millisecond) // 1.1 s after a's drop, 0.5 s after b's
	if !expired("a") || expired("b") {
		t.Fatalf("at 1.1 s: removals %+v; want a's grace expired, not b's", e.Removals())
	}
	e.Advance(t, 600*time.Millisecond)
	if !expired("b") || expired("c") || expired("d") {
		t.Fatalf("at 1.7 s: removals %+v; want b's grace expired too, c and d seated", e.Removals())
	}
	if info := r.Info(); info.Players != 2 {
		t.Fatalf("players %d, want 2 (c and d)", info.Players)
	}
}

func TestInputLimits(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.InboxSize = 4; c.MaxInputSize = 8 })
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter", TickRate: 2}) // 4 inputs/s
	if err != nil {
		t.Fatal(err)
	}
	seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: gametest.NewClient("a")}).Seat
	spec := e.Join(t, r, game.JoinRequest{UserID: "s", Spectator: true, Client: gametest.NewClient("s")}).Seat
	tests := []struct {
		name string
		seat uint32
		data []byte
		want error
	}{
		{"too large", seat, make([]byte, 9), game.ErrInputTooLarge},
		{"spectator", spec, []byte("+"), game.ErrSpectator},
		{"no such seat", 99, []byte("+"), game.ErrNotSeated},
		{"empty seat", 2, []byte("+"), game.ErrNotSeated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.Input(tc.seat, 1, tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("rate limit then inbox", func(t *testing.T) {
		var limited int
		for i := range 10 {
			if err := r.Input(seat, uint32(i+1), []byte("+")); errors.Is(err, game.ErrRateLimited) {
				limited++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if limited != 6 || r.Stats().RateLimited != 6 {
			t.Fatalf("limited %d (stats %d), want 6", limited, r.Stats().RateLimited)
		}
	})
	t.Run("inbox full", func(t *testing.T) {
		e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.InboxSize = 3 })
		r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"}) // 40 inputs/s
		if err != nil {
			t.Fatal(err)
		}
		seat := e.Join(t, r, game.JoinRequest{UserID: "a", Client: gametest.NewClient("a")}).Seat
		var full int
		for i := range 5 {
			if err := r.Input(seat, uint32(i+1), []byte("+")); errors.Is(err, game.ErrInboxFull) {
				full++
			}
		}
		if full != 2 || r.Stats().InboxDrops != 2 {
			t.Fatalf("full %d, want 2", full)
		}
		e.Advance(t, 50*time.Millisecond)
		if got := counterOf(t, r).vals[uint64(seat)]; got != 3 {
			t.Fatalf("applied %d inputs, want 3", got)
		}
	})
	t.Run("a burst leaves the others their share", func(t *testing.T) {
		// Eight pending inputs for four seats: two each. A player's burst
		// (its rate allows 40) takes what the seated players have not
		// used, and the others still get their two.
		e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.InboxSize = 8 })
		r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
		if err != nil {
			t.Fatal(err)
		}
		seats, clients := make([]uint32, 3), make([]*gametest.Client, 3)
		for i, u := range []string{"a", "b", "c"} {
			clients[i] = gametest.NewClient(u)
			seats[i] = e.Join(t, r, game.JoinRequest{UserID: u, Client: clients[i]}).Seat
		}
		var taken int
		for i := range 20 {
			if r.Input(seats[0], uint32(i+1), []byte("+")) == nil {
				taken++
			}
		}
		if taken != 4 {
			t.Fatalf("the burst of 20 got %d inputs in, want 4: 8 less the shares of the two other players", taken)
		}
		for _, s := range seats[1:] {
			for i := range 2 {
				if err := r.Input(s, uint32(i+1), []byte("+")); err != nil {
					t.Fatalf("seat %d's input %d after another seat's burst: %v, want it taken", s, i+1, err)
				}
			}
		}
		e.Advance(t, 50*time.Millisecond)
		if got := counterOf(t, r).vals; got[uint64(seats[0])] != 4 || got[uint64(seats[1])] != 2 || got[uint64(seats[2])] != 2 {
			t.Fatalf("applied %v, want 4, 2 and 2", got)
		}
		// The shares start again at each tick.
		for i := range 2 {
			if err := r.Input(seats[1], uint32(i+3), []byte("+")); err != nil {
				t.Fatalf("seat %d's input at the next tick: %v", seats[1], err)
			}
		}
		e.Advance(t, 50*time.Millisecond)
		// A dropped player's seat is held for its resume, and its share
		// with it: back before the tick, it finds room, and so does b.
		clientC := gametest.NewClient("c")
		if err := r.Drop(seats[2], clients[2]); err != nil {
			t.Fatal(err)
		}
		e.Advance(t, 50*time.Millisecond)
		taken = 0
		for i := range 20 {
			if r.Input(seats[0], uint32(i+100), []byte("+")) == nil {
				taken++
			}
		}
		if taken != 4 {
			t.Fatalf("the burst of 20 beside a dropped seat got %d inputs in, want 4", taken)

		}
		// The resume takes the seat at once; the tick confirms it.
		if err := r.Join(game.JoinRequest{UserID: "c", Client: clientC}, func(game.JoinResult) {}); err != nil {
			t.Fatal(err)
		}
		for _, s := range seats[1:] {
			if err := r.Input(s, 100, []byte("+")); err != nil {
				t.Fatalf("seat %d's input beside the burst, c resumed: %v, want it taken", s, err)
			}
		}
	})
}

func TestRoomLifecycle(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), func(c *game.Config) { c.EmptyTimeout = time.Second })
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "duel", Metadata: map[string]string{"mode": "ranked"}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := gametest.NewClient("a"), gametest.NewClient("b")
	sa := e.Join(t, r, game.JoinRequest{UserID: "a", Client: a}).Seat
	if r.Phase() != game.PhaseWaiting {
		t.Fatalf("phase %v with one of two players", r.Phase())
	}
	if l := e.RT.Rooms(game.RoomFilter{Joinable: true}); len(l) != 1 || l[0].Metadata["mode"] != "ranked" {
		t.Fatalf("listing: %+v", l)
	}
	e.Join(t, r, game.JoinRequest{UserID: "b", Client: b})
	e.Advance(t, 100*time.Millisecond)
	if r.Phase() != game.PhaseRunning {
		t.Fatalf("phase %v with two players", r.Phase())
	}
	if l := e.RT.Rooms(game.RoomFilter{Joinable: true}); len(l) != 0 {
		t.Fatalf("full room listed as joinable: %+v", l)
	}
	if err := r.Input(sa, 1, []byte("end")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if r.Phase() != game.PhaseFinished {
		t.Fatalf("phase %v after end", r.Phase())
	}
	var ended *tickroomv1.RoomEvent
	for _, ev := range b.Events() {
		if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED {
			ended = ev
		}
	}
	if ended == nil || !slices.Equal(ended.Result.WinnerSeats, []uint32{sa}) || ended.Result.Reason != "test" {
		t.Fatalf("match ended event: %v", ended)
	}
	for _, s := range []uint32{1, 2} {
		if err := r.Leave(s); err != nil {
			t.Fatal(err)
		}
	}
	e.Advance(t, 500*time.Millisecond)
	if _, ok := e.RT.Room(r.ID()); !ok {
		t.Fatal("room disposed before the empty timeout")
	}
	e.Advance(t, time.Second)
	if _, ok := e.RT.Room(r.ID()); ok || r.Phase() != game.PhaseDisposed {
		t.Fatalf("empty room not disposed: phase %v", r.Phase())
	}
	if err := r.Join(game.JoinRequest{UserID: "c", Client: gametest.NewClient("c")}, nil); !errors.Is(err, game.ErrFinished) {
		t.Fatalf("join disposed room: %v", err)
	}
}

func TestCloseRemovesMembers(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	a := gametest.NewClient("a")
	e.Join(t, r, game.JoinRequest{UserID: "a", Client: a})
	r.Close("test")
	e.Advance(t, 100*time.Millisecond)
	if _, ok := e.RT.Room(r.ID()); ok {
		t.Fatal("closed room still listed")
	}
	if rm := e.Removals(); len(rm) != 1 || rm[0].Reason != game.RemovedRoomClosed || rm[0].Client != game.Client(a) {
		t.Fatalf("removals %+v", rm)
	}
	kinds := a.EventKinds()
	if !slices.Contains(kinds, tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED) ||
		kinds[len(kinds)-1] != tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PHASE_CHANGED {
		t.Fatalf("events %v", kinds)
	}
}

// TestWorkersTickAndShutdown runs real shard workers on the system clock.
func TestWorkersTickAndShutdown(t *testing.T) {
	reg := game.NewRegistry()
	for _, d := range testDefinitions() {
		if err := reg.Register(d); err != nil {
			t.Fatal(err)
		}
	}
	tr := &gametest.Transport{}
	rt, err := game.NewRuntime(game.Config{Registry: reg, Transport: tr, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	rt.Start()
	var rooms []*game.Room
	clients := make([]*gametest.Client, 6)
	for i := range clients {
		r, err := rt.CreateRoom(game.RoomOptions{Game: "counter", TickRate: 100})
		if err != nil {
			t.Fatal(err)
		}
		rooms = append(rooms, r)
		clients[i] = gametest.NewClient("c")
		joined := make(chan game.JoinResult, 1)
		if err := r.Join(game.JoinRequest{UserID: "u", Client: clients[i]}, func(jr game.JoinResult) { joined <- jr }); err != nil {
			t.Fatal(err)
		}
		select {
		case jr := <-joined:
			if jr.Err != nil {
				t.Fatal(jr.Err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("join never confirmed")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range rooms {
		for r.Info().Tick < 5 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if r.Info().Tick < 5 {
			t.Fatalf("room %s did not tick", r.ID())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rt.Rooms(game.RoomFilter{Private: true})); n != 0 {
		t.Fatalf("%d rooms after shutdown", n)
	}
	if _, err := rt.CreateRoom(game.RoomOptions{Game: "counter"}); !errors.Is(err, game.ErrRuntimeClosed) {
		t.Fatalf("create after shutdown: %v", err)
	}
	st := rt.Stats()
	if st.Total.Ticks < 30 || st.Total.Lateness.Count == 0 || len(st.Shards) != 2 {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range clients {
		if kinds := c.EventKinds(); kinds[len(kinds)-1] != tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PHASE_CHANGED {
			t.Fatalf("client events %v", kinds)
		}
	}
}

// A lobby never shows a player count without the names behind it: a join
// still queued for the next tick already counts, and so does its name.
func TestInfoNamesEveryCountedPlayer(t *testing.T) {
	e := gametest.NewEnv(t, testDefinitions(), nil)
	r, err := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	e.Join(t, r, game.JoinRequest{UserID: "a", Name: "ann", Client: gametest.NewClient("a")})
	if err := r.Join(game.JoinRequest{UserID: "b", Name: "bob", Client: gametest.NewClient("b")}, func(game.JoinResult) {}); err != nil {
		t.Fatal(err)
	}
	info := r.Info() // bob's join is queued, not yet applied
	if info.Players != 2 || !slices.Equal(info.PlayerNames, []string{"ann", "bob"}) {
		t.Fatalf("players %d, names %q; want 2, [ann bob]", info.Players, info.PlayerNames)
	}
	e.Advance(t, 100*time.Millisecond)
	if info := r.Info(); info.Players != 2 || !slices.Equal(info.PlayerNames, []string{"ann", "bob"}) {
		t.Fatalf("after the tick: players %d, names %q", info.Players, info.PlayerNames)
	}
}
