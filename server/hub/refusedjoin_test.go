package hub_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// Joins a game refuses at the tick, after the room reserved their seat:
// a quick-match tries on, and a room its creator could not join closes.

// solo is tally whose rooms take one player: its game refuses any other,
// though the room lists free seats (a rule the lobby cannot see). asks
// counts the joins alice asked of it, in every room.
type solo struct {
	game.Game
	asks   *atomic.Int32
	seated bool
}

func (g *solo) Accept(ctx *game.Context, p game.Player) error {
	if p.UserID == "alice" {
		g.asks.Add(1)
	}
	if g.seated && !p.Spectator {
		return game.Refuse("this room has its player")
	}
	g.seated = g.seated || !p.Spectator
	return g.Game.Accept(ctx, p)
}

// settle runs the rooms of a runtime on a manual clock once c's requests
// sent so far have reached the hub (answered in order, a Ping's Pong
// comes after them), for d.
func settle(t *testing.T, rt *game.Runtime, c *client, d time.Duration) {
	t.Helper()
	c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	if err := rt.Advance(d); err != nil {
		t.Fatal(err)
	}
}

// replyAsRoomsTick returns c's reply to request id, moving the rooms'
// manual clock on a tick at a time while it waits: a quick-match refused
// at the tick goes on off the tick worker, so its next join is queued
// after the step that refused the last one, and needs a step of its own.
// With until, it returns the first message until takes instead.
func replyAsRoomsTick(t *testing.T, rt *game.Runtime, c *client, id uint32, until ...func(*tickroomv1.ServerMessage) bool) *tickroomv1.ServerMessage {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = rt.Advance(20 * time.Millisecond)
		}
	}()
	var m *tickroomv1.ServerMessage
	if len(until) > 0 {
		m = c.Next(until[0])
	} else {
		m = c.Reply(id)
	}
	close(stop)
	<-done
	return m
}

// A quick-match whose room's game refuses the player at the tick tries
// the pool's other rooms, hub.QuickMatchTries of them at most, and then
// makes a room, rather than answering the refusal.
func TestQuickMatchRefusedAtTheTickTriesOn(t *testing.T) {
	t.Parallel()
	var asks atomic.Int32
	e := startSolo(t, &asks, nil)
	rt := e.hub.Runtime()
	// More open rooms of the pool than a quick-match tries, each with
	// the one player its game takes.
	var full []string
	for i := range hub.QuickMatchTries + 2 {
		o, _ := e.connect("owner" + string(rune('a'+i)))
		id := o.Send(newRoomMsg(&tickroomv1.CreateRoom{Game: "solo"}))
		settle(t, rt, o, 100*time.Millisecond)
		full = append(full, joined(t, o.Reply(id)).RoomId)
	}

	a, _ := e.connect("alice")
	id := a.Send(quickMatch("solo"))
	m := replyAsRoomsTick(t, rt, a, id)
	if m.GetJoined() == nil {
		t.Fatalf("quick-match with rooms whose game refuses alice, and room to make one: %v, want Joined in a new room", m)
	}
	if j := m.GetJoined(); slices.Contains(full, j.RoomId) {
		t.Fatalf("alice joined %s, one of the rooms that have their player", j.RoomId)
	}
	if n := asks.Load(); n != hub.QuickMatchTries+1 {
		t.Fatalf("alice's join was asked of %d rooms, want %d refused and her own", n, hub.QuickMatchTries+1)
	}
}

// nobody is tally whose game refuses every player at the tick.
type nobody struct{ game.Game }

func (nobody) Accept(*game.Context, game.Player) error { return game.Refuse("no seats here") }

// A room whose creator's join the game refused at the tick is closed at
// once, not kept listed for the runtime's EmptyTimeout (30 s) that rooms
// others had left get, nor even the CreatorGoneTimeout (5 s) of a room
// its creator left: nobody was ever in it. One another player's join
// reached meanwhile stays theirs; when the game refuses that join too, the
// room closes then.
func TestRoomItsCreatorCouldNotJoinCloses(t *testing.T) {
	t.Parallel()
	const past = 5*time.Second + 100*time.Millisecond // hub.Config.CreatorGoneTimeout's default, and a tick
	games := func(r *game.Registry) {
		noAliceGames(t)(r)
		newNobody := func(s game.Setup) (game.Game, error) { g, err := newTally(s); return nobody{g}, err }
		if err := r.Register(game.Definition{Name: "nobody", New: newNobody, TickRate: 50, MaxPlayers: 4}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		msg  *tickroomv1.ClientMessage
		bob  bool // bob joins the room while alice's join is pending
		kept bool // the room stays listed: bob took its seat
	}{
		{"CreateRoom", newRoomMsg(&tickroomv1.CreateRoom{Game: "noalice"}), false, false},
		{"QuickMatch", quickMatch("noalice"), false, false},
		{"CreateRoom with bob joining", newRoomMsg(&tickroomv1.CreateRoom{Game: "noalice"}), true, true},
		{"CreateRoom with bob's join refused too", newRoomMsg(&tickroomv1.CreateRoom{Game: "nobody"}), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := game.NewManualClock(time.Now()) // the rooms tick only when told
			e := start(t, options{hub: func(c *hub.Config) { c.Runtime.Clock = clock }, games: games})
			rt := e.hub.Runtime()
			a, _ := e.connect("alice")
			b, _ := e.connect("bob")
			id := a.Send(tc.msg)
			waitFor(t, "alice's room made", func() bool { return rt.RoomCount() == 1 })
			room := rt.Rooms(game.RoomFilter{})[0].ID
			var bid uint32
			if tc.bob {
				bid = b.Send(joinRoom(room, 0))
				settle(t, rt, b, 0)
			}
			settle(t, rt, a, 100*time.Millisecond)
			if code := errCode(t, a.Reply(id)); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
				t.Fatalf("alice's join the game refuses: %v, want FORBIDDEN", code)
			}
			switch {
			case tc.kept:
				joined(t, b.Reply(bid))
			case tc.bob:
				if code := errCode(t, b.Reply(bid)); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
					t.Fatalf("bob's join the game refuses: %v, want FORBIDDEN", code)
				}
			}
			// Past the shorter of the two timeouts for empty rooms.
			if err := rt.Advance(past); err != nil {
				t.Fatal(err)
			}
			list := b.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}).GetRoomList()
			var listed []string
			for _, r := range list.GetRooms() {
				listed = append(listed, r.RoomId)
			}
			if want := tc.kept; slices.Contains(listed, room) != want {
				t.Fatalf("%v after the refusal: listed %v; want room %s listed: %v", past, listed, room, want)
			}
		})
	}
}

// A quick-match that no room takes, the one it makes included, is
// answered with the last refusal, and leaves no room of its own behind.
func TestQuickMatchNoRoomTakesIsRefused(t *testing.T) {
	t.Parallel()
	clock := game.NewManualClock(time.Now()) // the rooms tick only when told
	e := start(t, options{hub: func(c *hub.Config) { c.Runtime.Clock = clock }, games: noAliceGames(t)})
	rt := e.hub.Runtime()
	room := bobsRoom(t, e, "noalice")
	a, _ := e.connect("alice")
	id := a.Send(quickMatch("noalice"))
	if code := errCode(t, replyAsRoomsTick(t, rt, a, id)); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("quick-match no room takes: %v, want FORBIDDEN", code)
	}
	// The room the quick-match made closes at its shard's next turn.
	waitFor(t, "the room alice's quick-match made to close", func() bool {
		_ = rt.Advance(20 * time.Millisecond)
		rooms := rt.Rooms(game.RoomFilter{})
		return len(rooms) == 1 && rooms[0].ID == room
	})
}

// A quick-match refused at the tick goes on from a goroutine of its own; a
// retry that starts once its connection has closed makes no room and asks
// none for a seat: nobody would play in it, and the seat would be held,
// counting against the user, for the resume window.
func TestQuickMatchRetryOfAClosedConnectionMakesNoRoom(t *testing.T) {
	t.Parallel()
	var asks atomic.Int32
	var retried <-chan struct{}
	e := startSolo(t, &asks, func(h *hub.Hub) { retried = h.RetryQuickMatchesOnceClosed() })
	rt := e.hub.Runtime()
	o, _ := e.connect("owner")
	oid := o.Send(newRoomMsg(&tickroomv1.CreateRoom{Game: "solo"}))
	settle(t, rt, o, 100*time.Millisecond)
	full := joined(t, o.Reply(oid)).RoomId

	a, _ := e.connect("alice")
	a.Send(quickMatch("solo"))
	waitFor(t, "alice's join queued", func() bool {
		r, ok := rt.Room(full)
		return ok && r.Seated() == 2
	})
	_ = rt.Advance(100 * time.Millisecond) // refused: the retry waits for the close
	if n := asks.Load(); n != 1 {
		t.Fatalf("alice's join asked of %d rooms, want 1", n)
	}
	a.WS.Close()
	select {
	case <-retried:
	case <-time.After(10 * time.Second):
		t.Fatal("the retry did not end")
	}
	_ = rt.Advance(100 * time.Millisecond) // a join the retry asked for is settled
	for _, r := range rt.Rooms(game.RoomFilter{}) {
		if r.ID != full {
			t.Fatalf("room %s (players %v) made by the retry of a closed connection; want only %s", r.ID, r.PlayerNames, full)
		}
	}
	if n := e.hub.RoomsOf("alice"); n != 0 {
		t.Fatalf("alice is counted in %d rooms after her connection closed, want 0", n)
	}
}

// startSolo starts a hub with the solo game, counting its joins in asks,
// whose rooms tick only when the test advances their clock; made, when
// not nil, runs before the hub starts.
func startSolo(t *testing.T, asks *atomic.Int32, made func(*hub.Hub)) *env {
	t.Helper()
	clock := game.NewManualClock(time.Now())
	return start(t, options{
		hub: func(c *hub.Config) { c.Runtime.Clock = clock },
		games: func(r *game.Registry) {
			newSolo := func(s game.Setup) (game.Game, error) { g, err := newTally(s); return &solo{Game: g, asks: asks}, err }
			if err := r.Register(game.Definition{Name: "solo", New: newSolo, TickRate: 50, MaxPlayers: 4}); err != nil {
				t.Fatal(err)
			}
		},
		made: made,
	})
}
