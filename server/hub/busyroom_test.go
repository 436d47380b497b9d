package hub_test

import (
	"errors"
	"testing"

	"github.com/tickroom/tickroom/game"
)

// watcher is a seatless observer of a room, as a spectate feed's viewer
// is; the frames sent to it go nowhere.
type watcher struct{}

func (watcher) Congested() bool { return false }

// fillQueue queues observers on room until its queue of joins, leaves and
// observers waiting for its next tick is full: until that tick (which a
// manual clock holds back) the room refuses any join at once with
// game.ErrControlFull.
func fillQueue(t *testing.T, room *game.Room) {
	t.Helper()
	for range 1000 {
		switch err := room.Observe(game.ObserveRequest{Client: watcher{}}, nil); {
		case errors.Is(err, game.ErrControlFull):
			return
		case err != nil:
			t.Fatalf("observe %s: %v", room.ID(), err)
		}
	}
	t.Fatalf("room %s still takes observers after 1000", room.ID())
}

// A quick-match whose open room is busy (its queue of joins and leaves
// waiting for the tick is full, so it refuses at once) passes over it to
// the next room, or makes one, as it does for a room that filled since it
// was listed; the room's refusal was the answer.
func TestQuickMatchPassesOverABusyRoom(t *testing.T) {
	t.Parallel()
	e, rt, busy := startWithBobsRoom(t)
	room, _ := rt.Room(busy)
	fillQueue(t, room)

	a, _ := e.connect("alice")
	id := a.Send(quickMatch("tally"))
	if m := replyAsRoomsTick(t, rt, a, id); m.GetJoined() == nil {
		t.Fatalf("quick-match whose one open room is busy: %v, want Joined", m)
	}
}
