package tickroom_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// stall holds one room's tick worker in its game's Update, once armed,
// until released: the room's queue of joins, leaves and observers
// waiting for its tick fills meanwhile.
type stall struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *stall) free() { s.once.Do(func() { close(s.release) }) }

// stallRace is race whose room may be stalled.
type stallRace struct {
	*race
	stall *stall
}

func (g *stallRace) Update(*game.Context, time.Duration) {
	if g.stall != nil && g.stall.armed.CompareAndSwap(true, false) {
		close(g.stall.entered)
		<-g.stall.release
	}
}

// watcher is a seatless observer of a room, as a spectate feed's viewer
// is; the frames sent to it go nowhere.
type watcher struct{}

func (watcher) Congested() bool { return false }

// A quick-match on a node of a cluster whose pool's open room is busy (its
// queue of joins and leaves waiting for the tick is full, so it refuses at
// once) passes over it and makes a room, as a single node's does. Before,
// the room's refusal was the answer: "request_id:1
// error:{code:ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT message:"game: room
// control queue is full"}".
func TestClusterQuickMatchPassesOverABusyRoom(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	st := &stall{entered: make(chan struct{}), release: make(chan struct{})}
	var made atomic.Int32
	def := raceDefinition()
	def.New = func(game.Setup) (game.Game, error) {
		g := &stallRace{race: &race{at: map[uint32]byte{}}}
		if made.Add(1) == 1 {
			g.stall = st // bob's room
		} else {
			st.free() // another room is made: its shard may be the stalled one
		}
		return g, nil
	}
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL()})
	t.Cleanup(st.free) // before the server shuts down
	bob := dial(t, srv, "bob")
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}
	busy := bob.Request(create).GetJoined().GetRoomId()
	if busy == "" {
		t.Fatal("bob could not create a room")
	}
	alice := dial(t, srv, "alice")
	st.armed.Store(true)
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("bob's room did not tick")
	}
	room, ok := srv.Runtime().Room(busy)
	if !ok {
		t.Fatalf("room %s is gone", busy)
	}
	for n := 0; ; n++ {
		err := room.Observe(game.ObserveRequest{Client: watcher{}}, nil)
		if errors.Is(err, game.ErrControlFull) {
			break
		}
		if err != nil || n == 1000 {
			t.Fatalf("observer %d of bob's room: %v, want its queue to fill", n, err)
		}
	}

	quick := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	if m := alice.Request(quick); m.GetJoined() == nil {
		t.Fatalf("quick-match whose one open room is busy: %v, want Joined", m)
	}
}
