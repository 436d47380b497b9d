package hub_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// Joins a game refuses at the tick, after the room reserved their seat.

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

// A room whose creator's join the game refused at the tick is closed at
// once, not kept listed for the runtime's EmptyTimeout (30 s) that rooms
// others had left get, nor even the CreatorGoneTimeout (5 s) of a room
// its creator left: nobody was ever in it. One another player's join
// reached meanwhile stays theirs.
func TestRoomItsCreatorCouldNotJoinCloses(t *testing.T) {
	t.Parallel()
	const past = 5*time.Second + 100*time.Millisecond // hub.Config.CreatorGoneTimeout's default, and a tick
	noAliceGame := func(r *game.Registry) {
		newNoAlice := func(s game.Setup) (game.Game, error) { g, err := newTally(s); return noAlice{g}, err }
		if err := r.Register(game.Definition{Name: "noalice", New: newNoAlice, TickRate: 50, MaxPlayers: 4}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		msg  *tickroomv1.ClientMessage
		bob  bool // bob joins the room while alice's join is pending
	}{
		{"CreateRoom", newRoomMsg(&tickroomv1.CreateRoom{Game: "noalice"}), false},
		{"QuickMatch", quickMatch("noalice"), false},
		{"CreateRoom with bob joining", newRoomMsg(&tickroomv1.CreateRoom{Game: "noalice"}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := game.NewManualClock(time.Now()) // the rooms tick only when told
			e := start(t, options{hub: func(c *hub.Config) { c.Runtime.Clock = clock }, games: noAliceGame})
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
			if tc.bob {
				joined(t, b.Reply(bid))
			}
			// Past the shorter of the two timeouts for empty rooms.
			if err := rt.Advance(past); err != nil {
				t.Fatal(err)
			}
			list := b.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "noalice"}}}).GetRoomList()
			var listed []string
			for _, r := range list.GetRooms() {
				listed = append(listed, r.RoomId)
			}
			if want := tc.bob; slices.Contains(listed, room) != want {
				t.Fatalf("%v after the refusal: listed %v; want room %s listed: %v", past, listed, room, want)
			}
		})
	}
}
