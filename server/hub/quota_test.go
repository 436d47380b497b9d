package hub_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// Room creation budgets (hub/quota.go). Every test client connects from
// 127.0.0.1, so the tests count loopback as an address of its own.

func countLoopback(c *hub.Config) { c.IPQuotaExempt = func(netip.Addr) bool { return false } }

// createAndLeave creates a tally room as c and leaves it at once; it
// returns the refusal, nil when the room was created.
func createAndLeave(t *testing.T, c *client, q *tickroomv1.CreateRoom) *tickroomv1.Error {
	t.Helper()
	m := c.Request(newRoomMsg(q))
	if e := m.GetError(); e != nil {
		return e
	}
	j := joined(t, m)
	if m := c.Request(leaveRoom(j.RoomId)); m.GetLeft() == nil {
		t.Fatalf("leave: %v", m)
	}
	return nil
}

// TestCreateThenLeaveFloodIsBounded: 16 guests on one address creating a
// room and leaving it as fast as they can (which filled the server's
// 10,000 rooms in 17 s) get only the address's share of live rooms, and
// each refusal tells why.
func TestCreateThenLeaveFloodIsBounded(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) {
		countLoopback(c)
		c.CreatorGoneTimeout = time.Hour // the rooms stay alive: the share must hold them
	}})
	const guests, rounds = 16, 12
	var cs []*client
	for i := range guests {
		c, _ := e.connect("guest" + strconv.Itoa(i))
		cs = append(cs, c)
	}
	created, limited, full := 0, 0, 0
	for range rounds {
		for _, c := range cs {
			switch refusal := createAndLeave(t, c, &tickroomv1.CreateRoom{Game: "tally"}); {
			case refusal == nil:
				created++
			case refusal.Code == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && refusal.RetryAfterMs > 0:
				limited++
			case refusal.Code == tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT:
				full++
			default:
				t.Fatalf("refused with %v", refusal)
			}
		}
	}
	// A tally room (50 Hz, 4 players) costs 3 units; the address's share
	// is 4 × 32 units.
	const share = 4 * 32 / 3
	if n := e.hub.Runtime().RoomCount(); n > share || created > share {
		t.Fatalf("%d rooms live, %d created by one address; its share is %d", n, created, share)
	}
	if full == 0 {
		t.Fatalf("no create was refused for the address's share (%d created, %d rate-limited)", created, limited)
	}
}

// TestRoomsStillAliveCountAgainstTheirCreator: leaving a room does not
// give its cost back while the room lives; once it is closed, it does.
func TestRoomsStillAliveCountAgainstTheirCreator(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) {
		c.MaxRoomCostPerUser = 9 // three tally rooms
		c.RoomCreateBurst = 1000
		c.CreatorGoneTimeout = time.Hour
	}})
	c, _ := e.connect("ann")
	var ids []string
	for range 3 {
		j := joined(t, c.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"})))
		ids = append(ids, j.RoomId)
		if m := c.Request(leaveRoom(j.RoomId)); m.GetLeft() == nil {
			t.Fatalf("leave: %v", m)
		}
	}
	if code := errCode(t, c.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"}))); code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT {
		t.Fatalf("fourth room while three created ones live: %v", code)
	}
	if err := e.hub.CloseRoom(ids[0], "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the closed room gone", func() bool { _, ok := e.hub.Runtime().Room(ids[0]); return !ok })
	joined(t, c.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"})))
}

// TestEmptyRoomClosesSoonAfterItsCreatorLeft: a room its creator left
// empty is closed after CreatorGoneTimeout, not the runtime's 30 s; one
// that someone else is still in stays.
func TestEmptyRoomClosesSoonAfterItsCreatorLeft(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.CreatorGoneTimeout = 50 * time.Millisecond }})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")
	lonely := joined(t, ann.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"}))).RoomId
	shared := joined(t, ann.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"}))).RoomId
	joined(t, bob.Request(joinRoom(shared, 0)))
	for _, id := range []string{lonely, shared} {
		if m := ann.Request(leaveRoom(id)); m.GetLeft() == nil {
			t.Fatalf("leave: %v", m)
		}
	}
	waitFor(t, "the empty room closed", func() bool { _, ok := e.hub.Runtime().Room(lonely); return !ok })
	time.Sleep(200 * time.Millisecond) // four timeouts
	if _, ok := e.hub.Runtime().Room(shared); !ok {
		t.Fatal("a room with a member left was closed when its creator left")
	}
}

// TestRoomItsCreatorLeftClosesThoughStrangersWatch: a spectator takes
// no player seat, so a room its creator left with spectators only is as
// empty as one with nobody: it closes after CreatorGoneTimeout, its
// spectators told so. A stranger watching it kept it open for as long as
// it watched, counted against its creator's share of rooms, which a few
// guests could hold full.
func TestRoomItsCreatorLeftClosesThoughStrangersWatch(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.CreatorGoneTimeout = 50 * time.Millisecond }})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")
	room := joined(t, ann.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"}))).RoomId
	joined(t, bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}}))
	if m := ann.Request(leaveRoom(room)); m.GetLeft() == nil {
		t.Fatalf("leave: %v", m)
	}
	waitFor(t, "the room its creator left, with a spectator only, closed", func() bool { _, ok := e.hub.Runtime().Room(room); return !ok })
	left := bob.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetLeft() != nil }).GetLeft()
	if left.RoomId != room || left.Reason != tickroomv1.LeaveReason_LEAVE_REASON_ROOM_CLOSED {
		t.Fatalf("the spectator was told %v, want the room closed", left)
	}
}

// TestCreatorGoneTimeoutRunsOnTheHubsClock: the CreatorGoneTimeout of a
// room its creator left empty runs on the hub's clock (Config.Now), as a
// kick's does, so that a test moves it: the room stays listed until the
// clock passes the timeout, and leaves the listing once it has. Timed on
// the wall clock, a test could not see such a room close short of
// waiting the timeout out.
func TestCreatorGoneTimeoutRunsOnTheHubsClock(t *testing.T) {
	t.Parallel()
	const gone = time.Hour
	var skew atomic.Int64
	e := start(t, options{hub: func(c *hub.Config) {
		c.CreatorGoneTimeout = gone
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}})
	ann, _ := e.connect("ann")
	room := joined(t, ann.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"}))).RoomId
	if m := ann.Request(leaveRoom(room)); m.GetLeft() == nil {
		t.Fatalf("leave: %v", m)
	}
	listed := func() bool {
		m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "tally"}}})
		if m.GetRoomList() == nil {
			t.Fatalf("ListRooms: %v", m)
		}
		return slices.ContainsFunc(m.GetRoomList().Rooms, func(r *tickroomv1.RoomInfo) bool { return r.RoomId == room })
	}
	// A minute short of the timeout (the test's own wall time well within
	// that), past a check of the rooms due (one a second at most).
	skew.Store(int64(gone - time.Minute))
	time.Sleep(1500 * time.Millisecond)
	if !listed() {
		t.Fatalf("room %s closed a minute before its creator's timeout", room)
	}
	skew.Store(int64(gone + time.Second))
	waitFor(t, "the room closed once the hub's clock passed the timeout", func() bool {
		_, ok := e.hub.Runtime().Room(room)
		return !ok
	})
	if listed() {
		t.Fatalf("room %s closed but still listed", room)
	}
}

// TestExpensiveRoomsCostMore: a room's cost grows with its tick rate, its
// seats and its options, so a user's share holds fewer big rooms.
func TestExpensiveRoomsCostMore(t *testing.T) {
	e := start(t, options{
		hub: func(c *hub.Config) { c.MaxRoomCostPerUser = 8; c.RoomCreateBurst = 1000 },
		games: func(r *game.Registry) {
			if err := r.Register(game.Definition{Name: "big", New: newTally, TickRate: 20, MaxPlayers: 32}); err != nil {
				t.Fatal(err)
			}
		},
	})
	c, _ := e.connect("ann")
	many := map[string]string{}
	for i := range 16 {
		many[fmt.Sprint("k", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		q    *tickroomv1.CreateRoom
		want tickroomv1.ErrorCode // 0: created
	}{
		{"120 Hz, 32 players: 24 units", &tickroomv1.CreateRoom{Game: "big", TickRate: 120}, tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT},
		{"20 Hz, 8 players, 16 options: 5 units", &tickroomv1.CreateRoom{Game: "big", MaxPlayers: 8, Options: many}, 0},
		{"20 Hz, 32 players: 4 more units is over 8", &tickroomv1.CreateRoom{Game: "big"}, tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT},
		{"20 Hz, 8 players: 1 unit", &tickroomv1.CreateRoom{Game: "big", MaxPlayers: 8}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refusal := createAndLeave(t, c, tc.q)
			switch {
			case tc.want == 0 && refusal != nil:
				t.Fatalf("refused: %v", refusal)
			case tc.want != 0 && (refusal == nil || refusal.Code != tc.want):
				t.Fatalf("got %v, want %v", refusal, tc.want)
			}
		})
	}
}

// TestCreationRateRefusesWithARetryHint: past its burst a user's creates
// are refused with ERROR_CODE_RATE_LIMITED and a retry hint, while another
// user still creates.
func TestCreationRateRefusesWithARetryHint(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) {
		c.RoomCreateBurst, c.RoomCreateRate = 6, 0.01 // two tally rooms, then one every 300 s
		c.MaxRoomCostPerUser = 1000
	}})
	ann, _ := e.connect("ann")
	for range 2 {
		if r := createAndLeave(t, ann, &tickroomv1.CreateRoom{Game: "tally"}); r != nil {
			t.Fatalf("within the burst: %v", r)
		}
	}
	r := createAndLeave(t, ann, &tickroomv1.CreateRoom{Game: "tally"})
	if r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || r.RetryAfterMs < 100_000 {
		t.Fatalf("past the burst: %v", r)
	}
	bob, _ := e.connect("bob")
	if r := createAndLeave(t, bob, &tickroomv1.CreateRoom{Game: "tally"}); r != nil {
		t.Fatalf("another user: %v", r)
	}
}

// TestArenaRoomsCostWhatTheirOptionsAsk: arena rooms with as many option
// entries cost what their map, walls and pickups ask of a tick, so a user's
// share holds eight default rooms but one large one, and the largest map at
// 120 Hz is refused outright, each past the budget with ROOM_LIMIT.
func TestArenaRoomsCostWhatTheirOptionsAsk(t *testing.T) {
	e := start(t, options{
		hub: func(c *hub.Config) { c.CreatorGoneTimeout = time.Hour }, // the rooms stay alive
		games: func(r *game.Registry) {
			if err := r.Register(arena.Definition()); err != nil {
				t.Fatal(err)
			}
		},
	})
	createAll := func(c *client, q *tickroomv1.CreateRoom) (int, *tickroomv1.Error) {
		for n := 0; ; n++ {
			if refusal := createAndLeave(t, c, q); refusal != nil {
				return n, refusal
			}
			if n > 32 {
				t.Fatalf("%d rooms created of %v", n, q)
			}
		}
	}
	cheap := &tickroomv1.CreateRoom{Game: "arena", Options: map[string]string{"width": "40", "height": "30", "walls": "6", "pickups": "20"}}
	large := &tickroomv1.CreateRoom{Game: "arena", Options: map[string]string{"width": "400", "height": "400", "walls": "40", "pickups": "200"}}
	largest := &tickroomv1.CreateRoom{Game: "arena", TickRate: 120, Options: map[string]string{"width": "2000", "height": "2000", "walls": "200", "pickups": "1000"}}
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")
	nCheap, refusal := createAll(ann, cheap)
	if nCheap != 8 || refusal.Code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT {
		t.Fatalf("default arena rooms (4 units of 32): %d created, then %v", nCheap, refusal)
	}
	nLarge, refusal := createAll(bob, large)
	if nLarge != 1 || refusal.Code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT {
		t.Fatalf("400×400 arena rooms with 200 pickups (21 units of 32): %d created, then %v", nLarge, refusal)
	}
	carl, _ := e.connect("carl")
	refusal = createAndLeave(t, carl, largest)
	if refusal == nil || refusal.Code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT || !strings.Contains(refusal.Message, "costs 305 units") {
		t.Fatalf("the largest arena at 120 Hz (305 units): %v", refusal)
	}
	if r := createAndLeave(t, carl, cheap); r != nil {
		t.Fatalf("a refused room spent its creator's budget: %v", r)
	}
}

// TestRoomSharePerIPv6Site: guests behind a trusted proxy from many /64s
// of one IPv6 /48 share 16 addresses' worth of live rooms (one /64 alone,
// one address's), while another /48 still creates its own.
func TestRoomSharePerIPv6Site(t *testing.T) {
	e := start(t, options{
		hub: func(c *hub.Config) {
			countLoopback(c)
			c.MaxRoomCostPerUser = 3 // one tally room
			c.IPQuotaFactor = 1      // an address: one room; a /48: sixteen
			c.RoomCreateBurst = 1000
			c.CreatorGoneTimeout = time.Hour
		},
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
	})
	create := func(user, ip string) *tickroomv1.Error {
		return createAndLeave(t, e.connectFrom(user, ip), &tickroomv1.CreateRoom{Game: "tally"})
	}
	if r := create("a", "2001:db8:1:1::1"); r != nil {
		t.Fatalf("first room of a /64: %v", r)
	}
	if r := create("b", "2001:db8:1:1::2"); r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT {
		t.Fatalf("a second user of the same /64: %v, want ROOM_LIMIT", r)
	}
	for i := 2; i <= 16; i++ {
		if r := create(fmt.Sprint("g", i), fmt.Sprintf("2001:db8:1:%x::1", i)); r != nil {
			t.Fatalf("/64 %d of the /48: %v, want its room created", i, r)
		}
	}
	if r := create("late", "2001:db8:1:99::1"); r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT || !strings.Contains(r.Message, "network") {
		t.Fatalf("a /64 past its /48's share: %v, want ROOM_LIMIT for the network", r)
	}
	if r := create("other", "2001:db8:2::1"); r != nil {
		t.Fatalf("another /48: %v, want its room created", r)
	}
}

// TestRoomLeftWhileItsCreatorsJoinWasPendingClosesSoon: a creator whose
// LeaveRoom came before its seat was confirmed left the room all the
// same; the room closes after CreatorGoneTimeout, not the runtime's 30 s.
func TestRoomLeftWhileItsCreatorsJoinWasPendingClosesSoon(t *testing.T) {
	// Longer than the slow game's tick, which settles the leave.
	e := start(t, options{games: slowGame, hub: func(c *hub.Config) { c.CreatorGoneTimeout = 1500 * time.Millisecond }})
	ann, _ := e.connect("ann")
	cid := ann.Send(newRoomMsg(&tickroomv1.CreateRoom{Game: "slow"}))
	rooms := e.hub.Runtime().Rooms(game.RoomFilter{})
	if len(rooms) != 1 {
		waitFor(t, "the room made", func() bool { rooms = e.hub.Runtime().Rooms(game.RoomFilter{}); return len(rooms) == 1 })
	}
	room := rooms[0].ID
	lid := ann.Send(leaveRoom(room)) // the creator's seat is still pending
	joined(t, ann.Reply(cid))
	if m := ann.Reply(lid); m.GetLeft() == nil {
		t.Fatalf("leave: %v", m)
	}
	deadline := time.Now().Add(5 * time.Second) // EmptyTimeout is 30 s
	for {
		if _, ok := e.hub.Runtime().Room(room); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the room its creator left empty still runs")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefusedCreationsCostNothing: a CreateRoom the game refuses
// (ERROR_CODE_BAD_OPTIONS) creates nothing, so it spends none of its
// sender's creation budget: after refusals that together cost more than
// the whole budget, a valid room is still created.
func TestRefusedCreationsCostNothing(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) {
		c.RoomCreateBurst, c.RoomCreateRate = 8, 0.01 // two tally rooms (3 units), then one every 300 s
		c.MaxRoomCostPerUser = 1000
	}})
	ann, _ := e.connect("ann")
	for range 4 {
		// 120 Hz costs 6 units; 5 players is past tally's 4 seats.
		r := createAndLeave(t, ann, &tickroomv1.CreateRoom{Game: "tally", TickRate: 120, MaxPlayers: 5})
		if r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
			t.Fatalf("a room of 5 players: %v, want ERROR_CODE_BAD_OPTIONS", r)
		}
	}
	for range 2 {
		if r := createAndLeave(t, ann, &tickroomv1.CreateRoom{Game: "tally"}); r != nil {
			t.Fatalf("a valid room after refused ones: %v", r)
		}
	}
}

// TestOptionsRefusedBeforeTheirCost: a CreateRoom whose sizes or rate are
// past its game's bounds is refused with ERROR_CODE_BAD_OPTIONS, never
// with the budget errors its price as asked would bring.
func TestOptionsRefusedBeforeTheirCost(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) {
		c.RoomCreateBurst, c.RoomCreateRate = 8, 0.01
		c.MaxRoomCostPerUser = 8
	}})
	ann, _ := e.connect("ann")
	for _, q := range []*tickroomv1.CreateRoom{
		{Game: "tally", MaxPlayers: 99},
		{Game: "tally", TickRate: 500},
		{Game: "tally", MaxPlayers: 1 << 30, TickRate: 120},
	} {
		r := createAndLeave(t, ann, q)
		if r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
			t.Fatalf("%v: %v, want ERROR_CODE_BAD_OPTIONS", q, r)
		}
	}
	if r := createAndLeave(t, ann, &tickroomv1.CreateRoom{Game: "tally"}); r != nil {
		t.Fatalf("a valid room after refused ones: %v", r)
	}
}

// TestCreatorsFailedJoinPays: a creation whose room its creator then
// cannot join (here a spectator's seat in a game without any) pays from
// the creation budget: the room was made and scheduled. Were it given
// back, such creations would cost nothing, and the game's New would run
// at the rate of the client's messages.
func TestCreatorsFailedJoinPays(t *testing.T) {
	var news atomic.Int32
	e := start(t, options{
		hub: func(c *hub.Config) { c.RoomCreateBurst, c.RoomCreateRate = 8, 0.01 },
		games: func(r *game.Registry) {
			if err := r.Register(game.Definition{Name: "nospec", TickRate: 20, MaxPlayers: 4, MaxSpectators: -1, New: func(s game.Setup) (game.Game, error) {
				news.Add(1)
				return newTally(s)
			}}); err != nil {
				t.Fatal(err)
			}
		},
	})
	c, _ := e.connect("mallory")
	for i := range 20 {
		r := createAndLeave(t, c, &tickroomv1.CreateRoom{Game: "nospec", Spectate: true})
		switch {
		case r == nil:
			t.Fatalf("creation %d: a spectator's seat in a game without any was given", i+1)
		case r.Code == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && i >= 8:
			return // the budget of 8 one-unit rooms was spent
		case r.Code == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
			t.Fatalf("creation %d refused for the budget: %v", i+1, r)
		}
	}
	t.Fatalf("20 creations whose creator could not join cost nothing (the game's New ran %d times)", news.Load())
}

// TestGameCostPanicRefusesTheRoomAlone: a game's Cost runs on the
// client's room options, as New does; a bug there that panics (an option
// it did not expect) refuses that creation with ERROR_CODE_BAD_OPTIONS,
// as a panic in New does, and the server and its other clients go on.
func TestGameCostPanicRefusesTheRoomAlone(t *testing.T) {
	e := start(t, options{games: func(r *game.Registry) {
		if err := r.Register(game.Definition{Name: "priced", New: newTally, MaxPlayers: 4, Cost: func(s game.Setup) int {
			if _, ok := s.Options["boom"]; ok {
				var sizes map[string]int
				sizes["boom"]++ // a nil map: the kind of bug a game ships
			}
			return 1
		}}); err != nil {
			t.Fatal(err)
		}
	}})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")
	for _, q := range []*tickroomv1.CreateRoom{
		{Game: "priced", Options: map[string]string{"boom": "1"}},
	} {
		r := createAndLeave(t, ann, q)
		if r == nil || r.Code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
			t.Fatalf("%v: %v, want ERROR_CODE_BAD_OPTIONS", q, r)
		}
	}
	if m := ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "priced", Options: map[string]string{"boom": "1"}}}}); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
		t.Fatalf("quick-match: %v, want ERROR_CODE_BAD_OPTIONS", m)
	}
	for _, c := range []*client{ann, bob} {
		if r := createAndLeave(t, c, &tickroomv1.CreateRoom{Game: "priced"}); r != nil {
			t.Fatalf("a valid room after the panics: %v", r)
		}
	}
}
