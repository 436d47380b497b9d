package hub_test

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// A ListRooms whose filter keeps few rooms used to walk, copy and sort
// every room of the server on its loop, so that a guest repeating one at
// its message rate held a loop for milliseconds a message on a busy
// server (thousands of rooms). One call now looks at a bounded number of
// rooms past its page token and returns a short page with a token to go
// on from.
func TestListRoomsLooksAtABoundedNumberOfRooms(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) {
		c.MaxRoomsPerUser = 1000
		c.RoomCreateBurst, c.MaxRoomCostPerUser = 1<<20, 1<<20
		// The flood below times the listings themselves, which the
		// connection's ListRooms bucket would refuse past its burst.
		c.ListRoomsRate = math.Inf(1)
	}})
	const makers, each = 6, 200 // 1,200 rooms, past the 1,000 one call looks at
	var wg sync.WaitGroup
	var rare string
	var mu sync.Mutex
	for m := range makers {
		c, _ := e.connect(fmt.Sprint("maker", m))
		wg.Go(func() {
			ids := make([]uint32, 0, each)
			for i := range each {
				meta := map[string]string{"kind": "common"}
				if m == 0 && i == 0 {
					meta["kind"] = "rare"
				}
				ids = append(ids, c.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
					Game: "tally", TickRate: 10, Metadata: meta,
				}}}))
				time.Sleep(10 * time.Millisecond) // under the message rate
			}
			// Joins end at their rooms' ticks, so the replies come in any
			// order.
			for range ids {
				rep := c.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId != 0 })
				j := rep.GetJoined()
				if j == nil {
					t.Errorf("maker %d: a creation was not joined: %v", m, rep)
					return
				}
				if m == 0 && rep.RequestId == ids[0] {
					mu.Lock()
					rare = j.RoomId
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	a, _ := e.connect("attacker")
	list := func(q *tickroomv1.ListRooms) *tickroomv1.RoomList {
		t.Helper()
		l := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: q}}).GetRoomList()
		if l == nil {
			t.Fatal("no RoomList")
		}
		return l
	}
	// A filter that keeps one room of 1,200: the first page ends where
	// its scan did, and the pages together find the room.
	q := &tickroomv1.ListRooms{Metadata: map[string]string{"kind": "rare"}}
	first := list(q)
	if first.NextPageToken == "" {
		t.Fatalf("a listing that keeps 1 room of %d looked at them all in one call (no next_page_token; %d rooms)", makers*each, len(first.Rooms))
	}
	var found []string
	pages := 0
	for l := first; ; {
		pages++
		for _, r := range l.Rooms {
			found = append(found, r.RoomId)
		}
		if l.NextPageToken == "" {
			break
		}
		if pages > 10 {
			t.Fatal("more than 10 pages")
		}
		q.PageToken = l.NextPageToken
		l = list(q)
	}
	if len(found) != 1 || found[0] != rare {
		t.Fatalf("pages found %v, want [%s]", found, rare)
	}
	if pages != 2 {
		t.Fatalf("%d pages, want 2 (1,000 rooms looked at a call)", pages)
	}
	// A listing whose filter keeps every room still fills its pages.
	full := list(&tickroomv1.ListRooms{Limit: 30})
	if len(full.Rooms) != 30 || full.NextPageToken != full.Rooms[29].RoomId {
		t.Fatalf("unfiltered page: %d rooms, token %q", len(full.Rooms), full.NextPageToken)
	}
	// The flood itself: a burst of such listings, each now a thousand
	// comparisons rather than a copy of every room.
	q.PageToken = ""
	start := time.Now()
	var last uint32
	for range 200 {
		last = a.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: q}})
	}
	a.Reply(last)
	t.Logf("200 filtered listings of %d rooms answered in %v", makers*each, time.Since(start))
}

// makeHeavyRooms has a user "maker" create n rooms whose metadata is as
// large as a client may make it (16 entries of 64 + 256 bytes: ~5.3 KB a
// room), gap apart, and waits until it has joined them all.
func makeHeavyRooms(t *testing.T, e *env, n int, gap time.Duration) {
	t.Helper()
	meta := map[string]string{}
	for i := range 16 {
		meta[fmt.Sprintf("%02d", i)+strings.Repeat("k", 62)] = strings.Repeat("v", 256)
	}
	c, _ := e.connect("maker")
	ids := map[uint32]bool{}
	for range n {
		ids[c.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "tally", TickRate: 10, Metadata: meta}}})] = true
		time.Sleep(gap)
	}
	for range n {
		joined(t, c.Next(func(m *tickroomv1.ServerMessage) bool { return ids[m.RequestId] }))
	}
}

// A room's metadata may take 16 entries of 64 + 256 bytes: a hundred such
// rooms made one RoomList reply of half a megabyte for a ListRooms of a
// few bytes, sent as often as a guest asked and read. A reply now ends at
// 64 KiB with a token to go on from.
func TestRoomListRepliesAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) {
		c.MaxRoomsPerUser = 100
		c.RoomCreateBurst, c.MaxRoomCostPerUser = 1<<20, 1<<20
	}})
	const rooms = 30 // ~5.3 KB each: 160 KB in one page before
	makeHeavyRooms(t, e, rooms, 10*time.Millisecond)
	a, _ := e.connect("lister")
	seen := map[string]bool{}
	q := &tickroomv1.ListRooms{}
	for pages := 1; ; pages++ {
		m := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: q}})
		if n := m.SizeVT(); n > 65<<10 {
			t.Fatalf("page %d: a RoomList of %d bytes (%d rooms)", pages, n, len(m.GetRoomList().Rooms))
		}
		l := m.GetRoomList()
		for _, r := range l.Rooms {
			if seen[r.RoomId] {
				t.Fatalf("room %s listed twice", r.RoomId)
			}
			seen[r.RoomId] = true
		}
		if l.NextPageToken == "" {
			break
		}
		if pages > rooms {
			t.Fatal("pages never end")
		}
		q.PageToken = l.NextPageToken
	}
	if len(seen) != rooms {
		t.Fatalf("the pages listed %d rooms of %d", len(seen), rooms)
	}
	// A WatchRooms, which a client may send again with the same id as
	// often as a ListRooms, is answered within the same bytes; the watch
	// keeps to the rooms its first list held.
	for range 3 {
		m := a.Request(watchRooms(1, nil))
		if n := m.SizeVT(); n > 65<<10 {
			t.Fatalf("a WatchRooms answered with %d bytes (%d rooms)", n, len(m.GetRoomList().Rooms))
		}
		if got := len(m.GetRoomList().GetRooms()); got == 0 || got >= rooms {
			t.Fatalf("a WatchRooms listed %d rooms of %d", got, rooms)
		}
	}
}

// A watch's first list met the bytes of a RoomList reply, but its updates
// did not: rooms made after it, each with ~5 KB of metadata, were pushed
// the watch's limit at once, a hundred rooms to an update of half a
// megabyte, four times a second. An update now ends at 64 KiB too, and
// the rooms it leaves out come in the next ones.
func TestRoomListUpdatesAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) {
		c.MaxRoomsPerUser = 100
		c.RoomCreateBurst, c.MaxRoomCostPerUser = 1<<20, 1<<20
		c.RoomWatchInterval = time.Second // the rooms come within one pass
	}})
	a, _ := e.connect("watcher")
	l := watch(t, a, 1, nil)
	const rooms = 30 // ~5.3 KB each: 160 KB in one update before
	makeHeavyRooms(t, e, rooms, 0)
	updates := 0
	for len(l.rooms) < rooms {
		m := a.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetRoomListUpdate() != nil })
		if m == nil {
			t.Fatalf("no update with %d rooms listed of %d", len(l.rooms), rooms)
		}
		if n := m.SizeVT(); n > 65<<10 {
			t.Fatalf("an update of %d bytes (%d rooms)", n, len(m.GetRoomListUpdate().Upserted))
		}
		l.apply(m.GetRoomListUpdate())
		if updates++; updates > rooms {
			t.Fatal("updates never end")
		}
	}
	if updates < 2 {
		t.Fatalf("%d rooms of 5 KB in %d update", rooms, updates)
	}
	for id, r := range l.rooms {
		if len(r.Metadata) != 16 {
			t.Fatalf("room %s listed with %d metadata entries", id, len(r.Metadata))
		}
	}
}
