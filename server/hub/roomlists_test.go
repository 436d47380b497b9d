package hub_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// Room lists of one client address: a ListRooms looks at up to 1,000
// rooms and a WatchRooms's first list at every room of the node, on the
// connection's loop. Each connection has its own bucket of either
// (ListRoomsRate, RoomWatchRate), taken first, and the connections of one
// address share a budget (RoomListAddressRate, RoomListAddressBurst)
// past which either is refused with ERROR_CODE_RATE_LIMITED and a retry
// hint. These tests run behind a trusted proxy on loopback, which they
// count as any address (countLoopback).

func listRoomsMsg() *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}
}

// behindProxy counts loopback and trusts it to name the client address.
func behindProxy(hubCfg func(*hub.Config)) options {
	return options{
		hub: func(c *hub.Config) {
			countLoopback(c)
			hubCfg(c)
		},
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
	}
}

// served tells a served list from a refusal, which must be RATE_LIMITED
// with a retry hint.
func served(t *testing.T, what string, m *tickroomv1.ServerMessage) bool {
	t.Helper()
	switch {
	case m.GetRoomList() != nil:
		return true
	case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
		if m.GetError().RetryAfterMs == 0 {
			t.Fatalf("a refused %s carries no retry_after_ms: %v", what, m)
		}
		return false
	}
	t.Fatalf("%s: %v", what, m)
	return false
}

// The connections of one address, each well inside its own buckets, were
// each served: 256 of them had 256 times a connection's room lists
// walked. Past the address's budget (here a burst of 8 that refills once
// in 100 s) either request is refused, and a held watch whose WatchRooms
// is refused keeps its filter and its updates; another address is served.
func TestRoomListsOfOneAddressShareABudget(t *testing.T) {
	t.Parallel()
	e := start(t, behindProxy(func(c *hub.Config) {
		c.RoomListAddressRate = 0.01
		c.RoomListAddressBurst = 8
	}))
	const ip = "198.51.100.7"
	first := e.connectFrom("guest0", ip)
	held := watch(t, first, 1, &tickroomv1.WatchRooms{Game: "tally"})
	got, refused := 1, 0
	for i := 1; i < 10; i++ {
		c := e.connectFrom(fmt.Sprint("guest", i), ip)
		for _, m := range []*tickroomv1.ClientMessage{listRoomsMsg(), watchRooms(1, nil)} {
			if served(t, "a room list", c.Request(m)) {
				got++
			} else {
				refused++
			}
		}
	}
	if refused == 0 {
		t.Fatalf("19 room lists (ListRooms, WatchRooms) from one address's 10 connections, each within its own bounds: %d served, none refused", got)
	}
	if got < 8 {
		t.Fatalf("%d room lists of one address served, want its burst of 8", got)
	}

	// The held watch asked again with another filter is refused and goes
	// on as it was.
	if served(t, "WatchRooms", first.Request(watchRooms(1, &tickroomv1.WatchRooms{Game: "none"}))) {
		t.Fatal("a WatchRooms past its address's budget was served")
	}
	maker := e.connectFrom("maker", "198.51.100.8")
	r := joined(t, maker.Request(createSized("tally", 2))).RoomId
	held.until("the new tally room in the refused watch's list", players(r, 1))

	// Another address has a budget of its own.
	if !served(t, "ListRooms", maker.Request(listRoomsMsg())) || !served(t, "WatchRooms", maker.Request(watchRooms(1, nil))) {
		t.Fatal("another address's room lists refused")
	}
	// Each refusal is counted (tickroom_room_lists_rate_limited_total),
	// as the address's: every connection here was within its own bounds.
	if got, want := e.hub.Stats().RoomListsAddressRate.Load(), uint64(refused+1); got != want {
		t.Fatalf("RoomListsAddressRate %d, want the %d refusals", got, want)
	}
	if n := e.hub.Stats().RoomListsConnectionRate.Load(); n != 0 {
		t.Fatalf("RoomListsConnectionRate %d, want 0", n)
	}
}

// One connection sending ListRooms as fast as its message rate lets was
// served each time, and, once the address has a budget, would spend it
// for every other user behind the address (a NAT). Its own bucket (here
// a burst of 10 that refills once in 100 s) is taken first: past it the
// connection is refused and takes nothing from the address's budget (20
// here), so another connection of the address still lists and watches.
func TestOneConnectionsRoomListsTakeOnlyItsShare(t *testing.T) {
	t.Parallel()
	e := start(t, behindProxy(func(c *hub.Config) {
		c.ListRoomsRate, c.ListRoomsBurst = 0.01, 10
		c.RoomListAddressRate, c.RoomListAddressBurst = 0.01, 20
	}))
	const ip = "198.51.100.9"
	flood := e.connectFrom("flood", ip)
	const n = 40
	ids := map[uint32]bool{}
	for range n {
		ids[flood.Send(listRoomsMsg())] = true
	}
	got, refused := 0, 0
	for range n {
		m := flood.Next(func(m *tickroomv1.ServerMessage) bool { return ids[m.RequestId] })
		if served(t, "ListRooms", m) {
			got++
		} else {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("%d ListRooms of one connection: %d served, none refused", n, got)
	}
	if st := e.hub.Stats(); st.RoomListsConnectionRate.Load() != uint64(refused) || st.RoomListsAddressRate.Load() != 0 {
		t.Fatalf("RoomListsConnectionRate %d, RoomListsAddressRate %d; want the %d refusals the connection's", st.RoomListsConnectionRate.Load(), st.RoomListsAddressRate.Load(), refused)
	}
	neighbour := e.connectFrom("neighbour", ip)
	if !served(t, "ListRooms", neighbour.Request(listRoomsMsg())) {
		t.Fatalf("after one connection's %d ListRooms (%d served), another connection of its address is refused ListRooms", n, got)
	}
	for id := uint32(1); id <= 4; id++ {
		if !served(t, "WatchRooms", neighbour.Request(watchRooms(id, nil))) {
			t.Fatalf("after one connection's %d ListRooms (%d served), another connection of its address is refused watch %d", n, got, id)
		}
	}
}

// A NAT's players all reconnecting at once (a node restarted), each
// watching its 4 lists again and listing once, are all served by the
// address's default burst alone (its refill made too slow to count):
// server.Config.MaxConnsPerIP's 256 connections, 1,280 room lists.
func TestANATReconnectingAtOnceGetsItsWatches(t *testing.T) {
	t.Parallel()
	e := start(t, behindProxy(func(c *hub.Config) { c.RoomListAddressRate = 0.001 }))
	const ip = "198.51.100.10"
	maker := e.connectFrom("maker", "198.51.100.11")
	room := joined(t, maker.Request(createSized("tally", 2))).RoomId
	const players, watches = 256, 4
	conns := make([]*client, players)
	for i := range conns {
		conns[i] = e.connectFrom(fmt.Sprint("player", i), ip)
	}
	ids := make([]map[uint32]bool, players)
	for i, c := range conns {
		ids[i] = map[uint32]bool{}
		for w := uint32(1); w <= watches; w++ {
			ids[i][c.Send(watchRooms(w, &tickroomv1.WatchRooms{Game: "tally"}))] = true
		}
		ids[i][c.Send(listRoomsMsg())] = true
	}
	for i, c := range conns {
		for range watches + 1 {
			m := c.Next(func(m *tickroomv1.ServerMessage) bool { return ids[i][m.RequestId] })
			l := m.GetRoomList()
			if l == nil {
				t.Fatalf("player %d of %d behind one address, reconnecting with %d watches and a listing: %v", i, players, watches, m)
			}
			if len(l.Rooms) != 1 || l.Rooms[0].RoomId != room {
				t.Fatalf("player %d's list: %v, want room %s", i, l.Rooms, room)
			}
		}
	}
}

// A WatchRooms refused before it looks at any room (here LIST_FULL, the
// connection's 4 watches held; on a node of a cluster also its lobby
// requests in flight) took a token of the
// connection's WatchRooms bucket and one of its address's room lists,
// and kept them: a client asking again spent both, and then its
// address's other users were refused their lists. Such a refusal now
// gives both back.
func TestAWatchRefusedBeforeListingTakesNoRoomList(t *testing.T) {
	t.Parallel()
	e := start(t, behindProxy(func(c *hub.Config) {
		c.RoomWatchRate, c.RoomWatchBurst = 0.01, 6
		c.RoomListAddressRate, c.RoomListAddressBurst = 0.01, 6
	}))
	const ip = "198.51.100.12"
	c := e.connectFrom("full", ip)
	for id := uint32(1); id <= 4; id++ {
		watch(t, c, id, nil)
	}
	for i := 1; i <= 10; i++ {
		if m := c.Request(watchRooms(5, nil)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
			t.Fatalf("a fifth watch, its 4 held, asked %d times (buckets of 6): %v, want LIST_FULL", i, m)
		}
	}
	// What is left of both buckets, 2 each, still serves.
	if !served(t, "WatchRooms", c.Request(watchRooms(1, nil))) {
		t.Fatal("after refused watches, a held watch asked again is refused")
	}
	neighbour := e.connectFrom("neighbour", ip)
	if !served(t, "ListRooms", neighbour.Request(listRoomsMsg())) {
		t.Fatal("after one connection's refused watches, another connection of its address is refused ListRooms")
	}
}

// A ListRooms its address refuses gives back the token it took of the
// connection's own bucket: a connection whose neighbours spent their
// address's room lists, and that asked meanwhile, has its whole burst
// once the address has lists again (the hub's clock moved past their
// refill, too short for the connection's own).
func TestAConnectionRefusedByItsAddressKeepsItsOwnBurst(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	e := start(t, behindProxy(func(c *hub.Config) {
		c.ListRoomsRate, c.ListRoomsBurst = 0.001, 5
		c.RoomListAddressRate, c.RoomListAddressBurst = 0.01, 5
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}))
	const ip = "198.51.100.13"
	neighbour := e.connectFrom("neighbour", ip)
	for i := 1; i <= 5; i++ {
		if !served(t, "ListRooms", neighbour.Request(listRoomsMsg())) {
			t.Fatalf("the neighbour's ListRooms %d of its address's burst of 5 refused", i)
		}
	}
	c := e.connectFrom("waiting", ip)
	for i := 1; i <= 10; i++ {
		if m := c.Request(listRoomsMsg()); served(t, "ListRooms", m) {
			t.Fatalf("ListRooms %d, its address's lists spent, served", i)
		}
	}
	skew.Store(int64(500 * time.Second)) // the address's 5 again; the connection's bucket gains half a token
	for i := 1; i <= 5; i++ {
		if m := c.Request(listRoomsMsg()); !served(t, "ListRooms", m) {
			t.Fatalf("refused by its address 10 times, then with the address's lists back, the connection's ListRooms %d of its own burst of 5: %v", i, m)
		}
	}
}
