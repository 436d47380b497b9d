package clustertest

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// watchedList is a watcher's copy of a watched room list.
type watchedList struct {
	t     *testing.T
	p     *player
	id    uint32
	rooms map[string]*tickroomv1.RoomInfo
}

// watchRooms starts watch id on p and keeps its list.
func watchRooms(t *testing.T, p *player, id uint32, q *tickroomv1.WatchRooms) *watchedList {
	t.Helper()
	q.WatchId = id
	m := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_WatchRooms{WatchRooms: q}})
	if m.GetRoomList() == nil {
		t.Fatalf("%s: WatchRooms: %v, want a RoomList", p.name, m)
	}
	l := &watchedList{t: t, p: p, id: id, rooms: map[string]*tickroomv1.RoomInfo{}}
	for _, r := range m.GetRoomList().Rooms {
		l.rooms[r.RoomId] = r
	}
	watchedLists.Store(watchKey{p, id}, l)
	t.Cleanup(func() { watchedLists.CompareAndDelete(watchKey{p, id}, l) })
	return l
}

// watchedLists finds a player's list by watch id, so that waiting on one
// watch applies the updates of the player's other watches instead of
// dropping them.
var watchedLists sync.Map // watchKey -> *watchedList

type watchKey struct {
	p  *player
	id uint32
}

// until applies the watch's pushed updates until cond holds; Next fails
// the test when none comes within its bound.
func (l *watchedList) until(what string, cond func(map[string]*tickroomv1.RoomInfo) bool) {
	l.t.Helper()
	for !cond(l.rooms) {
		u := l.p.c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetRoomListUpdate() != nil }).GetRoomListUpdate()
		if other, ok := watchedLists.Load(watchKey{l.p, u.WatchId}); ok {
			other.(*watchedList).apply(u)
		}
		l.t.Logf("%s: update %v", what, u)
	}
}

func (l *watchedList) apply(u *tickroomv1.RoomListUpdate) {
	for _, id := range u.Removed {
		delete(l.rooms, id)
	}
	for _, r := range u.Upserted {
		l.rooms[r.RoomId] = r
	}
}

func withPlayers(id string, n uint32) func(map[string]*tickroomv1.RoomInfo) bool {
	return func(rooms map[string]*tickroomv1.RoomInfo) bool { r := rooms[id]; return r != nil && r.Players == n }
}

// TestWatchRoomsAcrossNodes: a lobby watching the room list on n1 sees a
// room created on n2 appear, fill and vanish, pushed, without polling; a
// watch filtered on another game never lists it; and a connection still
// holds at most four watches. Without Redis a new watch is refused with
// UNAVAILABLE, and the watches held carry on once it is back.
func TestWatchRoomsAcrossNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	lobby := connect(t, n1, "lobby")
	all := watchRooms(t, lobby, 1, &tickroomv1.WatchRooms{Game: "gomoku"})
	other := watchRooms(t, lobby, 2, &tickroomv1.WatchRooms{Game: "arena"})
	if len(all.rooms) != 0 || len(other.rooms) != 0 {
		t.Fatalf("rooms listed before any was made: %v, %v", all.rooms, other.rooms)
	}

	black, white := connect(t, n2, "black"), connect(t, n2, "white")
	r := black.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku"}}})
	room := joined(t, "black", r).RoomId
	all.until("the room made on n2 listed on n1", withPlayers(room, 1))

	if r, hops := white.follow(joinRoom(room, 0)); len(hops) != 0 || joined(t, "white", r).Seat != 2 {
		t.Fatalf("white joining on n2: %v, redirects %v", r, hops)
	}
	all.until("the second player seen", withPlayers(room, 2))
	if info := all.rooms[room]; info.MaxPlayers != 2 || info.Game != "gomoku" {
		t.Fatalf("listed as %v", info)
	}

	// A fifth watch on the connection is refused, as on a single node.
	for id := uint32(3); id <= 4; id++ {
		watchRooms(t, lobby, id, &tickroomv1.WatchRooms{})
	}
	fifth := lobby.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_WatchRooms{WatchRooms: &tickroomv1.WatchRooms{WatchId: 5}}})
	if errorCode(fifth) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("a fifth watch: %v, want LIST_FULL", fifth)
	}

	for _, p := range []*player{black, white} {
		if m := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}); m.GetLeft() == nil {
			t.Fatalf("%s leaving: %v", p.name, m)
		}
	}
	all.until("the ended room gone", func(rooms map[string]*tickroomv1.RoomInfo) bool { return rooms[room] == nil })
	if len(other.rooms) != 0 {
		t.Fatalf("the arena watch lists %v", other.rooms)
	}

	// Redis goes away: a new watch is refused with UNAVAILABLE, and the
	// watches held keep working once Redis is back, with no new request.
	c.Redis.Stop(t)
	waitUntil(t, 30*time.Second, "n1 not ready without Redis", func() bool {
		code, _ := readyz(t, n1)
		return code == http.StatusServiceUnavailable
	})
	late := connect(t, n1, "late")
	if r := late.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_WatchRooms{WatchRooms: &tickroomv1.WatchRooms{WatchId: 1}}}); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
		t.Fatalf("a watch without Redis: %v, want UNAVAILABLE", r)
	}
	c.Redis.Restart(t)
	c.WaitRegistered(t, 30*time.Second, n1.ID, n2.ID)
	r = black.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku"}}})
	again := joined(t, "black", r).RoomId
	all.until("a room made after Redis came back", withPlayers(again, 1))
}
