package hub_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// A QuickMatch copied the listing of every room of its pool (Room.Info:
// its metadata, its players' names) on its loop, full rooms included,
// and sorted them all, to try the fullest first. On a busy node, a pool
// of thousands of rooms, each QuickMatch of a few bytes cost the loop
// milliseconds (18 ms for 10,000 rooms of the metadata any client may
// give a room) and megabytes of garbage, and a guest whose creation
// budget was spent could send them at its message rate: each walked the
// pool before it was refused. A quick-match now looks at each room of
// its pool with one check, copies none of the full ones, and copies at
// most the fullest 64 with a free seat. The test counts what the
// server's process allocates while one user sends QuickMatches over a
// pool of 600 full rooms: work, not time, so a loaded box passes it too.
// It runs alone (not t.Parallel): the count is the process's.
func TestQuickMatchCopiesABoundedNumberOfRooms(t *testing.T) {
	const makers, each = 2, 300
	e := start(t, options{
		games: func(r *game.Registry) {
			// One player seat: a room its maker sits in is full.
			if err := r.Register(game.Definition{Name: "solo", New: newTally, TickRate: 1, MaxPlayers: 1}); err != nil {
				t.Fatal(err)
			}
		},
		hub: func(c *hub.Config) {
			c.MaxRoomsPerUser = 1000
			c.RoomCreateBurst, c.MaxRoomCostPerUser = each, each
		},
	})
	// The most metadata a client may give a room: 16 entries, keys of
	// 64 bytes, values of 256.
	meta := map[string]string{}
	for i := range 16 {
		meta[fmt.Sprintf("%064d", i)] = strings.Repeat("v", 256)
	}
	users := make([]*client, makers)
	var wg sync.WaitGroup
	for m := range makers {
		c, _ := e.connect(fmt.Sprint("maker", m))
		users[m] = c
		wg.Go(func() {
			ids := make([]uint32, 0, each)
			for range each {
				ids = append(ids, c.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
					Game: "solo", Metadata: meta,
				}}}))
				time.Sleep(10 * time.Millisecond) // under the message rate
			}
			for range ids {
				if rep := c.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId != 0 }); rep.GetJoined() == nil {
					t.Errorf("maker %d: a creation was not joined: %v", m, rep)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// maker0's rooms cost all it may spend: each QuickMatch finds no room
	// with a free seat, then is refused the creation of one.
	a := users[0]
	qm := func() {
		t.Helper()
		if code := errCode(t, a.Request(quickMatch("solo"))); code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT {
			t.Fatalf("QuickMatch: %v, want ERROR_CODE_ROOM_LIMIT", code)
		}
	}
	qm()
	allocated := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.TotalAlloc
	}
	const n = 20
	before := allocated()
	for range n {
		qm()
	}
	// Besides the QuickMatches, the rooms' ticks (one a second) and the
	// makers' reading of their states allocate a little meanwhile.
	per := (allocated() - before) / n
	if per > 64<<10 {
		t.Fatalf("a QuickMatch over a pool of %d full rooms allocated %d bytes on the server, want under %d: it copies rooms it cannot join", makers*each, per, 64<<10)
	}
}
