package hub_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

func watchRooms(watchID uint32, q *tickroomv1.WatchRooms) *tickroomv1.ClientMessage {
	if q == nil {
		q = &tickroomv1.WatchRooms{}
	}
	q.WatchId = watchID
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_WatchRooms{WatchRooms: q}}
}

func unwatchRooms(watchID uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_UnwatchRooms{UnwatchRooms: &tickroomv1.UnwatchRooms{WatchId: watchID}}}
}

func createSized(gameName string, maxPlayers uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: gameName, MaxPlayers: maxPlayers}}}
}

// roomList is a client's copy of a watched room list.
type roomList struct {
	t       *testing.T
	c       *client
	id      uint32
	rooms   map[string]*tickroomv1.RoomInfo
	updates int
}

// watch starts watch id on c and keeps its list.
func watch(t *testing.T, c *client, id uint32, q *tickroomv1.WatchRooms) *roomList {
	t.Helper()
	m := c.Request(watchRooms(id, q))
	if m.GetRoomList() == nil {
		t.Fatalf("WatchRooms: want RoomList, got %v", m)
	}
	l := &roomList{t: t, c: c, id: id, rooms: map[string]*tickroomv1.RoomInfo{}}
	for _, r := range m.GetRoomList().Rooms {
		l.rooms[r.RoomId] = r
	}
	watchLists.Store(watchKey{c, id}, l)
	t.Cleanup(func() { watchLists.CompareAndDelete(watchKey{c, id}, l) })
	return l
}

// watchLists finds a client's list by watch id, so that waiting on one
// watch applies the updates of the client's other watches instead of
// dropping them.
var watchLists sync.Map // watchKey -> *roomList

type watchKey struct {
	c  *client
	id uint32
}

// until applies the watch's updates until cond holds.
func (l *roomList) until(what string, cond func(map[string]*tickroomv1.RoomInfo) bool) {
	l.t.Helper()
	defer func() {
		if !cond(l.rooms) {
			l.t.Logf("%s: list %v", what, l.rooms)
		}
	}()
	for !cond(l.rooms) {
		m := l.c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetRoomListUpdate() != nil })
		if m == nil {
			l.t.Fatalf("no update while waiting for %s", what)
		}
		u := m.GetRoomListUpdate()
		if other, ok := watchLists.Load(watchKey{l.c, u.WatchId}); ok {
			other.(*roomList).apply(u)
		}
	}
}

func (l *roomList) apply(u *tickroomv1.RoomListUpdate) {
	l.updates++
	for _, id := range u.Removed {
		delete(l.rooms, id)
	}
	for _, r := range u.Upserted {
		l.rooms[r.RoomId] = r
	}
}

func players(id string, n uint32) func(map[string]*tickroomv1.RoomInfo) bool {
	return func(rooms map[string]*tickroomv1.RoomInfo) bool { r := rooms[id]; return r != nil && r.Players == n }
}

func absent(id string) func(map[string]*tickroomv1.RoomInfo) bool {
	return func(rooms map[string]*tickroomv1.RoomInfo) bool { return rooms[id] == nil }
}

// TestWatchRoomsPushesChanges: a lobby that watches the room list sees a
// room appear when it is created, its player count follow joins and
// leaves, and the room go when it closes, without asking again.
func TestWatchRoomsPushesChanges(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.CreatorGoneTimeout = 50 * time.Millisecond }})
	lobby, _ := e.connect("lobby")
	l := watch(t, lobby, 7, &tickroomv1.WatchRooms{Game: "tally"})
	if len(l.rooms) != 0 {
		t.Fatalf("first list %v, want empty", l.rooms)
	}

	a, _ := e.connect("a")
	room := joined(t, a.Request(quickMatch("tally"))).RoomId
	l.until("the new room with one player", players(room, 1))
	if r := l.rooms[room]; r.Game != "tally" || r.MaxPlayers != 4 || len(r.PlayerNames) != 1 || r.PlayerNames[0] != "name-a" {
		t.Fatalf("listed %v", r)
	}
	b, _ := e.connect("b")
	joined(t, b.Request(joinRoom(room, 0)))
	l.until("two players", players(room, 2))
	if names := l.rooms[room].PlayerNames; len(names) != 2 || names[0] != "name-a" || names[1] != "name-b" {
		t.Fatalf("player names %v, want [name-a name-b]", names)
	}
	b.Request(leaveRoom(room))
	l.until("back to one", players(room, 1))
	a.Request(leaveRoom(room))
	l.until("the closed room gone", absent(room))

	// A room of another game is not this watch's business.
	other := watch(t, lobby, 8, nil)
	c, _ := e.connect("c")
	room2 := joined(t, c.Request(quickMatch("tally"))).RoomId
	other.until("the unfiltered watch sees it", players(room2, 1))
}

// TestWatchRoomsCoalesces: changes within one interval reach a watcher as
// one update with the latest counts, not one update per change.
func TestWatchRoomsCoalesces(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.RoomWatchInterval = time.Second }})
	lobby, _ := e.connect("lobby")
	l := watch(t, lobby, 1, nil)
	a, _ := e.connect("a")
	// The room and six membership changes, far quicker than the interval
	// on an idle box; a loaded one may spread them over more intervals,
	// each of which may bring one update, so those are counted.
	began := time.Now()
	room := joined(t, a.Request(quickMatch("tally"))).RoomId
	var others []*client
	for _, u := range []string{"b", "c", "d"} {
		c, _ := e.connect(u)
		joined(t, c.Request(joinRoom(room, 0)))
		others = append(others, c)
	}
	for _, c := range others[:2] {
		c.Request(leaveRoom(room))
	}
	spread := time.Since(began)
	l.until("the final count", players(room, 2))
	for _, m := range lobby.Drain(1500 * time.Millisecond) {
		if u := m.GetRoomListUpdate(); u != nil {
			l.apply(u)
		}
	}
	// One update for each interval boundary the changes spanned, and one
	// more for the boundary they may straddle.
	most := 2 + int(spread/time.Second)
	if l.updates > most || l.rooms[room].Players != 2 {
		t.Fatalf("%d updates for 6 changes over %v, last count %d; want at most %d ending at 2", l.updates, spread.Round(time.Millisecond), l.rooms[room].Players, most)
	}
}

// TestWatchRoomsFiltersAndLimit: a free-seats watch drops a room that
// fills; a watch limited to one room shows the first and takes the next
// in when that one goes.
func TestWatchRoomsFiltersAndLimit(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.CreatorGoneTimeout = 50 * time.Millisecond }})
	lobby, _ := e.connect("lobby")
	free := watch(t, lobby, 1, &tickroomv1.WatchRooms{FreeSeatsOnly: true})

	a, _ := e.connect("a")
	r1 := joined(t, a.Request(createSized("tally", 2))).RoomId
	b, _ := e.connect("b")
	r2 := joined(t, b.Request(createSized("tally", 2))).RoomId
	free.until("both rooms with a free seat", func(m map[string]*tickroomv1.RoomInfo) bool { return m[r1] != nil && m[r2] != nil })
	// A full limited list keeps the rooms it shows when another appears;
	// started with both rooms there, it shows the first by id.
	first, second := min(r1, r2), max(r1, r2)
	one := watch(t, lobby, 2, &tickroomv1.WatchRooms{Limit: 1})
	if len(one.rooms) != 1 || one.rooms[first] == nil {
		t.Fatalf("limited list %v, want only %s", one.rooms, first)
	}

	c, _ := e.connect("c")
	joined(t, c.Request(joinRoom(r1, 0)))
	free.until("the full room gone", absent(r1))

	// The first room closes: the limited list takes the second in.
	for _, cl := range []*client{a, b, c} {
		cl.Send(leaveRoom(first))
	}
	one.until("the second room in place of the first", func(m map[string]*tickroomv1.RoomInfo) bool {
		return m[first] == nil && m[second] != nil && len(m) == 1
	})
}

// TestWatchRoomsBounded: a connection holds at most MaxRoomWatches
// watches; a watch with a held id replaces it; an unwatched list gets no
// more updates.
func TestWatchRoomsBounded(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.MaxRoomWatches = 2 }})
	lobby, _ := e.connect("lobby")
	watch(t, lobby, 1, nil)
	watch(t, lobby, 2, nil)
	if code := errCode(t, lobby.Request(watchRooms(3, nil))); code != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("third watch: %v, want LIST_FULL", code)
	}
	watch(t, lobby, 2, &tickroomv1.WatchRooms{Game: "tally"}) // replaces watch 2
	if code := errCode(t, lobby.Request(unwatchRooms(9))); code != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("unwatch of an unknown id: %v", code)
	}
	for _, id := range []uint32{1, 2} {
		if m := lobby.Request(unwatchRooms(id)); m.GetOk() == nil {
			t.Fatalf("unwatch %d: %v", id, m)
		}
	}
	a, _ := e.connect("a")
	joined(t, a.Request(quickMatch("tally")))
	for _, m := range lobby.Drain(time.Second) {
		if m.GetRoomListUpdate() != nil {
			t.Fatalf("update after unwatch: %v", m)
		}
	}
	// The connection has room for new watches again.
	l := watch(t, lobby, 3, nil)
	if len(l.rooms) != 1 {
		t.Fatalf("new watch lists %d rooms, want 1", len(l.rooms))
	}
}

// TestWatchRoomsLimitedListStaysFirstByID: a limited list loses a room
// while more match, and in the same pass a room appears that sorts after
// the first one left out. The list becomes the first rooms by id, the new
// room not among them: the update neither upserts it nor names a room both
// upserted and removed, so a client that applies it holds what the server
// counts as sent, and a room it shows is one whose close it will be told.
func TestWatchRoomsLimitedListStaysFirstByID(t *testing.T) {
	t.Parallel()
	// The test makes the passes itself; the rooms, empty, live through it.
	e := start(t, options{hub: func(c *hub.Config) { c.RoomWatchInterval, c.Runtime.EmptyTimeout = time.Hour, time.Hour }})
	rt := e.hub.Runtime()
	create := func() *game.Room {
		t.Helper()
		r, err := rt.CreateRoom(game.RoomOptions{Game: "tally"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	closeRoom := func(r *game.Room) {
		t.Helper()
		r.Close("test")
		waitFor(t, "room "+r.ID()+" gone", func() bool { _, ok := rt.Room(r.ID()); return !ok })
	}
	rooms := []*game.Room{create(), create(), create()}
	slices.SortFunc(rooms, func(x, y *game.Room) int { return strings.Compare(x.ID(), y.ID()) })
	a, b, c := rooms[0], rooms[1], rooms[2]

	lobby, _ := e.connect("lobby")
	l := watch(t, lobby, 1, &tickroomv1.WatchRooms{Limit: 2})
	if len(l.rooms) != 2 || l.rooms[a.ID()] == nil || l.rooms[b.ID()] == nil {
		t.Fatalf("first list %v, want %s and %s", keys(l.rooms), a.ID(), b.ID())
	}
	e.hub.PassRoomWatches() // the first pass: the list is as it was sent

	// Within the next pass: b closes, and d appears, after c by id (a room
	// made before c is closed before any pass sees it).
	closeRoom(b)
	d := create()
	for d.ID() < c.ID() {
		closeRoom(d)
		d = create()
	}
	e.hub.PassRoomWatches()
	u := lobby.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetRoomListUpdate() != nil }).GetRoomListUpdate()
	var upserted []string
	for _, r := range u.Upserted {
		upserted = append(upserted, r.RoomId)
	}
	t.Logf("update: upserted %v removed %v", upserted, u.Removed)
	for _, id := range u.Removed {
		if slices.Contains(upserted, id) {
			t.Errorf("room %s both upserted and removed", id)
		}
	}
	l.apply(u)
	if got, want := keys(l.rooms), []string{a.ID(), c.ID()}; !slices.Equal(got, want) {
		t.Fatalf("the list shows %v (limit 2), want %v", got, want)
	}
}

// keys returns a list's room ids in order.
func keys(m map[string]*tickroomv1.RoomInfo) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
