package game_test

import (
	"errors"
	"maps"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// observe queues req and advances time until its callback runs.
func observe(t *testing.T, e *gametest.Env, r *game.Room, req game.ObserveRequest) {
	t.Helper()
	done := false
	var res error
	if err := r.Observe(req, func(err error) { done, res = true, err }); err != nil {
		t.Fatalf("observe: %v", err)
	}
	for range 200 {
		if done {
			if res != nil {
				t.Fatalf("observe: %v", res)
			}
			return
		}
		e.Advance(t, time.Millisecond)
	}
	t.Fatal("observe: no result")
}

// TestObserverTakesNoSeat: an observer gets the state and the room's
// events, but the members hear nothing of it and no seat is taken.
func TestObserverTakesNoSeat(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{counterDef()}, nil)
	r, _ := e.RT.CreateRoom(game.RoomOptions{Game: "counter", MaxSpectators: 1})
	ann := gametest.NewClient("ann")
	seat := e.Join(t, r, game.JoinRequest{UserID: "ann", Client: ann}).Seat
	obs, second := gametest.NewClient("observer"), gametest.NewClient("second")
	observe(t, e, r, game.ObserveRequest{Client: obs})
	observe(t, e, r, game.ObserveRequest{Client: second}) // more than the one spectator seat
	if err := r.Input(seat, 1, []byte("+")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	if info := r.Info(); info.Spectators != 0 || info.Observers != 2 {
		t.Fatalf("info %+v: want 2 observers and no spectator seat taken", info)
	}
	want, _ := ann.Entities()
	if got, _ := obs.Entities(); !maps.Equal(got, want) || len(got) != 1 {
		t.Fatalf("observer's state %v, the player's %v", got, want)
	}
	r.Unobserve(obs)
	e.Advance(t, 100*time.Millisecond)
	if n := r.Info().Observers; n != 1 {
		t.Fatalf("observers after Unobserve: %d", n)
	}
	// A member's leave reaches the remaining observer.
	if err := r.Leave(seat); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)
	for _, ev := range ann.Events() {
		if ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_JOINED && ev.UserId != "ann" {
			t.Fatalf("the player got a join for an observer: %v", ev)
		}
	}
	if k := second.EventKinds(); len(k) == 0 || k[len(k)-1] != tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_LEFT {
		t.Fatalf("observer's events %v, want ann's leave last", k)
	}
	if _, ok := e.RT.Room(r.ID()); !ok {
		t.Fatal("room gone")
	}
}

// TestObserverLimits: the per-room cap, rooms without spectators, and an
// empty room that an observer does not keep alive.
func TestObserverLimits(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{counterDef(), {Name: "private", New: newCounter, TickRate: 20, MaxPlayers: 2, MaxSpectators: -1}}, func(c *game.Config) {
		c.MaxObservers = 1
		c.EmptyTimeout = time.Second
	})
	r, _ := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	obs := gametest.NewClient("obs")
	observe(t, e, r, game.ObserveRequest{Client: obs})
	if err := r.Observe(game.ObserveRequest{Client: gametest.NewClient("x")}, nil); !errors.Is(err, game.ErrRoomFull) {
		t.Fatalf("observer over the cap: %v, want ErrRoomFull", err)
	}
	closed, _ := e.RT.CreateRoom(game.RoomOptions{Game: "private"})
	if err := closed.Observe(game.ObserveRequest{Client: gametest.NewClient("y")}, nil); !errors.Is(err, game.ErrRoomFull) {
		t.Fatalf("observer of a room without spectator seats: %v, want ErrRoomFull", err)
	}
	e.Advance(t, 2*time.Second)
	if r.Phase() != game.PhaseDisposed {
		t.Fatalf("an empty room with an observer is %v, want disposed", r.Phase())
	}
	var gone bool
	for _, rm := range e.Removals() {
		if rm.Client == obs && rm.Reason == game.RemovedRoomClosed {
			gone = true
		}
	}
	if !gone {
		t.Fatalf("removals %+v: the observer was not told the room closed", e.Removals())
	}
}

// TestObserverResumeBase: an observer that resumes from a held tick with
// ResumeBase gets the room's state at that tick, then a delta from it.
func TestObserverResumeBase(t *testing.T) {
	e := gametest.NewEnv(t, []game.Definition{counterDef()}, nil)
	r, _ := e.RT.CreateRoom(game.RoomOptions{Game: "counter"})
	ann := gametest.NewClient("ann")
	seat := e.Join(t, r, game.JoinRequest{UserID: "ann", Client: ann}).Seat
	e.Advance(t, 100*time.Millisecond)
	_, seen := ann.Entities()
	if err := r.Input(seat, 1, []byte("+")); err != nil {
		t.Fatal(err)
	}
	e.Advance(t, 100*time.Millisecond)

	for _, tc := range []struct {
		name   string
		resume uint64
		want   []bool // keyframe flags of the states received
	}{
		{"held tick", seen, []bool{true, false}},
		{"unknown tick", 1 << 40, []bool{true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := gametest.NewClient("obs")
			observe(t, e, r, game.ObserveRequest{Client: obs, ResumeTick: tc.resume, ResumeBase: true})
			e.Advance(t, 100*time.Millisecond)
			states := obs.TakeStates()
			if len(states) != len(tc.want) {
				t.Fatalf("%d states, want %d", len(states), len(tc.want))
			}
			for i, st := range states {
				if st.Keyframe != tc.want[i] {
					t.Fatalf("state %d keyframe=%v, want %v", i, st.Keyframe, tc.want[i])
				}
			}
			if len(states) == 2 && (states[0].Tick != seen || states[1].BaseTick != seen) {
				t.Fatalf("states at %d and from %d, want the base %d and a delta from it", states[0].Tick, states[1].BaseTick, seen)
			}
			want, _ := ann.Entities()
			if got, _ := obs.Entities(); !maps.Equal(got, want) {
				t.Fatalf("observer's state %v, the player's %v", got, want)
			}
			r.Unobserve(obs)
		})
	}
}

// watched is a counter whose players see only their own entity and
// whose spectators see them all; it counts the views it builds for
// spectators.
type watched struct {
	counter
	spectatorViews atomic.Int64
}

func (g *watched) View(ctx *game.Context, p game.Player, v *game.Snapshot) {
	if !p.Spectator {
		v.Share(uint64(p.Seat))
		return
	}
	g.spectatorViews.Add(1)
	for id := range g.vals {
		v.Share(id)
	}
}

// TestObserversShareOneView: the observers of a room whose game builds
// each member's view (game.Viewer) are all viewed as the same spectator,
// so the view is built once a tick for all of them, however many there
// are, and each gets it: a keyframe first, deltas after, and an observer
// that was congested catches up.
func TestObserversShareOneView(t *testing.T) {
	var g *watched
	def := game.Definition{Name: "watched", TickRate: 20, MaxPlayers: 2, MaxSpectators: 8, New: func(s game.Setup) (game.Game, error) {
		g = &watched{counter: counter{vals: map[uint64]int{}}}
		return g, nil
	}}
	e := gametest.NewEnv(t, []game.Definition{def}, nil)
	r, _ := e.RT.CreateRoom(game.RoomOptions{Game: "watched"})
	ann := e.Join(t, r, game.JoinRequest{UserID: "ann", Client: gametest.NewClient("ann")}).Seat
	e.Join(t, r, game.JoinRequest{UserID: "bob", Client: gametest.NewClient("bob")})
	const observers = 6
	var obs []*gametest.Client
	for i := range observers {
		c := gametest.NewClient("observer" + strconv.Itoa(i))
		observe(t, e, r, game.ObserveRequest{Client: c})
		obs = append(obs, c)
	}
	slow := obs[0]
	slow.SetCongested(true)
	before, ticks := g.spectatorViews.Load(), r.Stats().Ticks
	for seq := range uint32(5) {
		if err := r.Input(ann, seq+1, []byte("+")); err != nil {
			t.Fatal(err)
		}
		e.Advance(t, 50*time.Millisecond)
	}
	views, ran := g.spectatorViews.Load()-before, r.Stats().Ticks-ticks
	if views > int64(ran) {
		t.Fatalf("%d spectator views built over %d ticks for %d observers, want at most one a tick", views, ran, observers)
	}
	slow.SetCongested(false)
	e.Advance(t, 100*time.Millisecond)
	want := map[uint64]string{1: "5", 2: "0"}
	for i, c := range obs {
		if err := c.Err(); err != nil {
			t.Fatalf("observer %d: %v", i, err)
		}
		if got, _ := c.Entities(); !maps.Equal(got, want) {
			t.Fatalf("observer %d sees %v, want %v", i, got, want)
		}
	}
}
