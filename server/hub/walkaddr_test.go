package hub_test

import (
	"fmt"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// A ListRooms looks at up to a thousand rooms and a WatchRooms's first
// list at every room of the node, on the connection's loop, and their
// bounds were each connection's: one address holding its 256
// connections had 256 times them walked. The walks of one address's
// connections now share its budget (Config.RoomWalkAddressRate,
// RoomWalkAddressBurst); past it either request is refused with
// ERROR_CODE_RATE_LIMITED and a retry hint, while another address is
// served. The budget here is a burst of 8 that refills once in 100 s,
// and the address asks for 40 walks, each connection well inside its own
// bounds.
func TestRoomWalksShareTheirAddressBudget(t *testing.T) {
	t.Parallel()
	e := start(t, options{
		hub: func(c *hub.Config) {
			countLoopback(c)
			c.RoomWalkAddressRate = 0.01
			c.RoomWalkAddressBurst = 8
		},
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
	})
	list := func(c *client) *tickroomv1.ServerMessage {
		return c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}})
	}
	served, refused := 0, 0
	count := func(what string, m *tickroomv1.ServerMessage) {
		switch {
		case m.GetRoomList() != nil:
			served++
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
			refused++
			if m.GetError().RetryAfterMs == 0 {
				t.Fatalf("a refused %s carries no retry_after_ms: %v", what, m)
			}
		default:
			t.Fatalf("%s: %v", what, m)
		}
	}
	for i := range 10 {
		c := e.connectFrom(fmt.Sprint("guest", i), "198.51.100.7")
		count("ListRooms", list(c))
		count("ListRooms", list(c))
		count("WatchRooms", c.Request(watchRooms(1, nil)))
		count("WatchRooms", c.Request(watchRooms(2, nil)))
	}
	if refused == 0 {
		t.Fatalf("40 ListRooms and WatchRooms from one address's 10 connections: %d walked the rooms, none refused", served)
	}
	if served < 8 {
		t.Fatalf("%d walks of one address served, want its burst of 8", served)
	}
	other := e.connectFrom("neighbour", "198.51.100.8")
	if m := list(other); m.GetRoomList() == nil {
		t.Fatalf("ListRooms from another address: %v, want its rooms", m)
	}
	if m := other.Request(watchRooms(1, nil)); m.GetRoomList() == nil {
		t.Fatalf("WatchRooms from another address: %v, want its rooms", m)
	}
}
