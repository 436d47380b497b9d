package tickroom_test

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// raceButAlice is race whose rooms refuse alice a seat, at the tick.
type raceButAlice struct{ *race }

func (g raceButAlice) Accept(_ *game.Context, p game.Player) error {
	if p.Name == "alice" {
		return game.Refuse("no seat for alice")
	}
	return nil
}

// A join the game refuses at the tick, on a node of a cluster, gives back
// the seat it reserved in the room directory: kept until the reservation
// lapsed, a minute, it filled the last seat of a room of two, and everyone
// else's join was refused ROOM_FULL though a seat was free.
func TestJoinRefusedAtTheTickGivesBackItsClusterSeat(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	def := raceDefinition()
	def.Name = "butalice"
	def.New = func(game.Setup) (game.Game, error) { return raceButAlice{&race{at: map[uint32]byte{}}}, nil }
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL()})
	bob := dial(t, srv, "bob")
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "butalice"}}}
	room := bob.Request(create).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("bob could not create a room")
	}
	join := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
	alice := dial(t, srv, "alice")
	if code := alice.Request(join).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("alice's join of a room whose game refuses her: %v, want FORBIDDEN", code)
	}
	// The seat goes back to the directory just after alice's answer: carol
	// asks again while refused ROOM_FULL, for a few seconds (before the
	// fix, for the reservation's minute).
	carol := dial(t, srv, "carol")
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := carol.Request(join)
		if r.GetJoined() != nil {
			break
		}
		if r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || time.Now().After(deadline) {
			t.Fatalf("carol's join of the room's free seat after alice was refused: %v, want Joined", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// soloRace is race whose rooms take one player: its game refuses any
// other at the tick, though the room lists free seats (a rule the lobby
// cannot see). asks counts the joins alice asked of it, in every room.
type soloRace struct {
	*race
	asks   *atomic.Int32
	seated bool
}

func (g *soloRace) Accept(_ *game.Context, p game.Player) error {
	if p.Name == "alice" {
		g.asks.Add(1)
	}
	if g.seated && !p.Spectator {
		return game.Refuse("this room has its player")
	}
	g.seated = g.seated || !p.Spectator
	return nil
}

// soloDefinition is soloRace, in rooms of four, counting alice's asks.
func soloDefinition(asks *atomic.Int32) game.Definition {
	def := raceDefinition()
	def.Name, def.MaxPlayers = "solo", 4
	def.New = func(game.Setup) (game.Game, error) {
		return &soloRace{race: &race{at: map[uint32]byte{}}, asks: asks}, nil
	}
	return def
}

// soloRooms makes n rooms of solo on srv, each with the one player its
// game takes, all in the quick-match pool alice asks, and returns them.
func soloRooms(t *testing.T, srv *tickroom.Server, n int) []string {
	t.Helper()
	var rooms []string
	for i := range n {
		owner := dial(t, srv, fmt.Sprint("owner", i))
		create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "solo"}}}
		room := owner.Request(create).GetJoined().GetRoomId()
		if room == "" {
			t.Fatalf("owner%d could not create a room", i)
		}
		rooms = append(rooms, room)
	}
	return rooms
}

// quickSolo is a quick-match of the solo game, a new message each call:
// Send writes its request id, and the tests using it run in parallel.
func quickSolo() *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "solo"}}}
}

// A quick-match on a node of a cluster whose room's game refuses the
// player at the tick goes on as a single node's does: it passes the room
// over in the cluster's pool, asks quickMatchTries (3) such rooms at
// most, giving each its seat back, and then makes a room. Before, the
// first refusal was the answer: "request_id:1 error:{code:ERROR_CODE_FORBIDDEN
// message:"game: join refused: this room has its player"}".
func TestClusterQuickMatchRefusedAtTheTickTriesOn(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	var asks atomic.Int32
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{soloDefinition(&asks)}, Redis: rdb.URL()})
	// More open rooms of the pool than a quick-match tries.
	full := soloRooms(t, srv, 5)

	alice := dial(t, srv, "alice")
	m := alice.Request(quickSolo())
	j := m.GetJoined()
	if j == nil {
		t.Fatalf("quick-match with rooms whose game refuses alice, and room to make one: %v, want Joined in a new room", m)
	}
	if slices.Contains(full, j.RoomId) {
		t.Fatalf("alice joined %s, one of the rooms that have their player", j.RoomId)
	}
	if n := asks.Load(); n != 4 {
		t.Fatalf("alice's join was asked of %d rooms, want 3 refused and her own", n)
	}
	// The refused rooms have their seats back: each lists its owner alone,
	// and alice's her alone, once the directory's counts caught up with
	// the joins (a busy machine writes them a little later).
	list := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "solo"}}}
	var rooms []*tickroomv1.RoomInfo
	settled := func() bool {
		l := alice.Request(list).GetRoomList()
		if l == nil {
			return false // refused (the connection's ListRooms rate): no answer yet
		}
		rooms = l.Rooms
		for _, r := range rooms {
			if r.Players != 1 {
				return false
			}
		}
		return len(rooms) == len(full)+1
	}
	for deadline := time.Now().Add(10 * time.Second); !settled(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			for _, r := range rooms {
				t.Errorf("room %s lists %d players after alice's quick-match, want 1", r.RoomId, r.Players)
			}
			t.Fatalf("%d rooms listed, want %d, each with one player: the 5 that have their player and alice's", len(rooms), len(full)+1)
		}
	}
}

// The same across nodes: a quick-match the cluster's match sends to
// another node, whose room's game refuses the player at the tick, goes on
// there (never redirected again) with that node's other rooms, counting
// the refusals against the same bound, and makes a room there.
func TestClusterQuickMatchRefusedOnAnotherNodeTriesOn(t *testing.T) {
	t.Parallel()
	var asks atomic.Int32
	a, b, _ := twoNodes(t, soloDefinition(&asks))
	full := soloRooms(t, b, 5)

	alice := dial(t, a, "alice")
	_, m, hops := alice.Follow(quickSolo())
	j := m.GetJoined()
	if j == nil {
		t.Fatalf("quick-match sent to a node whose rooms' game refuses alice: %v after %d redirects, want Joined in a new room", m, len(hops))
	}
	if len(hops) != 1 || slices.Contains(full, j.RoomId) {
		t.Fatalf("alice joined %s after %d redirects, want a new room after one", j.RoomId, len(hops))
	}
	if n := asks.Load(); n != 4 {
		t.Fatalf("alice's join was asked of %d rooms, want 3 refused and her own", n)
	}
}

// While a node of an older version is registered (a rolling deploy), a
// quick-match whose room's game refused the player, redirected to another
// node's room, carries the older form of reservation: the room's id
// alone, which that version reads as the room to join, and the node it
// reaches seats the player there. Before, the reservation's value ended
// in "<room>,<refused room>", a room id no node has: an older node tried
// its rooms of the pool in turn, and the seat reserved in the room the
// match chose, unless it seated the player there, stayed reserved until
// it lapsed.
func TestClusterQuickMatchRedirectKeepsTheOlderFormWhileAnOlderNodeRuns(t *testing.T) {
	t.Parallel()
	var asks atomic.Int32
	a, b, rdb := twoNodes(t, soloDefinition(&asks))
	// a's room has its one player, and refuses alice; b's, whose creator
	// watches, has none yet, and is matched after it, emptier.
	soloRooms(t, a, 1)
	watch := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "solo", Spectate: true}}}
	open := dial(t, b, "watcher").Request(watch).GetJoined().GetRoomId()
	if open == "" {
		t.Fatal("the watcher could not create a room")
	}
	// An older node: its registration says it reads raw bodies and "ops"
	// messages, not a reservation's refused rooms. It drains, so nothing
	// is placed on it.
	c, ctx, keys := rdb.Client(t), context.Background(), a.Cluster().Keys()
	if err := c.HSet(ctx, keys.Node("old"), "id", "old", "ws", "ws://127.0.0.1:1/v1/ws", "draining", "1",
		"started", "1700000000000", "wire", "1700000000000", "ops", "1700000000000").Err(); err != nil {
		t.Fatal(err)
	}
	c.PExpire(ctx, keys.Node("old"), time.Minute)
	c.ZAdd(ctx, keys.Nodes(), redis.Z{Score: float64(time.Now().Add(time.Minute).UnixMilli()), Member: "old"})
	a.Cluster().Refresh()
	b.Cluster().Refresh()
	waitUntil(t, "both nodes to see the older node", func() bool {
		return !a.Cluster().RefusedPeers() && !b.Cluster().RefusedPeers()
	})

	alice := dial(t, a, "alice")
	m := alice.Request(quickSolo())
	r := m.GetRedirect()
	if r == nil || r.RoomId != open {
		t.Fatalf("quick-match refused by a's room: %v, want a Redirect to b's room %s", m, open)
	}
	// An older node takes all that follows the value's last bar for the
	// room id.
	v, err := c.Get(ctx, keys.Reservation(r.Reservation)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if room := v[strings.LastIndex(v, "|")+1:]; room != open {
		t.Fatalf("the redirect's reservation is %q: an older node reads room %q, want %s", v, room, open)
	}
	// Followed as a client follows it: the same session token, on b.
	_ = alice.WS.Close()
	there, _, err := testclient.Dial(t, r.Url, alice.Token, testclient.Options{Label: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	there.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	follow := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "solo", Reservation: r.Reservation}}}
	if m := there.Request(follow); m.GetJoined().GetRoomId() != open {
		t.Fatalf("the quick-match followed to b: %v, want Joined in %s", m, open)
	}
}

// gateRace is soloRace whose Accept of alice waits until gate closes: the
// test settles what happens meanwhile (her connection closing) before the
// tick refuses her.
type gateRace struct {
	soloRace
	entered chan<- struct{}
	gate    <-chan struct{}
}

func (g *gateRace) Accept(ctx *game.Context, p game.Player) error {
	if p.Name == "alice" {
		g.entered <- struct{}{}
		<-g.gate
	}
	return g.soloRace.Accept(ctx, p)
}

// A quick-match on a node of a cluster whose connection closes after the
// game refused it at the tick, while it goes on (here, while Redis does
// not answer its next call), makes no room: nobody would play in it, and
// it would count against the user's creations. Before, it made one: "the
// quick-match of alice's closed connection made 1 room".
func TestClusterQuickMatchOfAClosedConnectionGoesNoFurther(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	var asks, made atomic.Int32
	entered, gate := make(chan struct{}, 8), make(chan struct{})
	def := soloDefinition(&asks)
	def.New = func(game.Setup) (game.Game, error) {
		made.Add(1)
		return &gateRace{soloRace: soloRace{race: &race{at: map[uint32]byte{}}, asks: &asks}, entered: entered, gate: gate}, nil
	}
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), AdminAddr: "127.0.0.1:0"})
	soloRooms(t, srv, 1)

	alice := dial(t, srv, "alice")
	alice.Send(quickSolo())
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's join never reached the room's tick")
	}
	before := made.Load()
	rdb.Pause(t)
	close(gate) // refused: the quick-match goes on, and waits on Redis
	_ = alice.WS.Close()
	closed := regexp.MustCompile(`(?m)^tickroom_connections_closed_total\{[^}]*\} [1-9]`)
	for deadline := time.Now().Add(3 * time.Second); !closed.MatchString(adminGet(t, srv, "/metrics")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("alice's connection not closed on the server 3 s after she closed it")
		}
	}
	rdb.Resume(t)
	// The quick-match's calls go on once Redis answers; a room it made
	// would be made within its timeout (5 s from the refusal).
	time.Sleep(5 * time.Second)
	if n := made.Load() - before; n != 0 {
		t.Fatalf("the quick-match of alice's closed connection made %d room", n)
	}
}

// twoNodes starts two nodes of a cluster on a private Redis, running
// defs, with one session key, so that a token of a works on b; rdb is
// the Redis.
func twoNodes(t *testing.T, defs ...game.Definition) (a, b *tickroom.Server, rdb *redistest.Server) {
	t.Helper()
	rdb = redistest.Start(t)
	opts := tickroom.Options{Games: defs, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}
	a, _, _ = start(t, opts)
	b, _, _ = start(t, opts)
	return a, b, rdb
}

// TestPasswordChangeEndsSessionsOnEveryNode: a password changed through
// one node of a cluster ends the account's sessions on the others too:
// the connection open on another node with a token from before the change
// is closed with CLOSE_CODE_UNAUTHORIZED and the token is refused there,
// while the token the change answered connects.
func TestPasswordChangeEndsSessionsOnEveryNode(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	pg := pgtest.Start(t)
	opts := tickroom.Options{
		Games: []game.Definition{raceDefinition()}, Redis: rdb.URL(), DatabaseURL: pg.NewDatabase(t),
		TokenKey: []byte(strings.Repeat("k", 32)), GuestLoginRate: math.Inf(1),
	}
	a, _, _ := start(t, opts)
	b, _, _ := start(t, opts)
	apiA := api{t: t, base: "http://" + a.HTTPAddr().String()}
	_, guest := apiA.post("/v1/login", "", map[string]string{"name": "guest1"})
	if st, m := apiA.post("/v1/account/claim", str(guest, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(guest, "device_secret")}); st != 200 {
		t.Fatalf("claim: %d %v", st, m)
	}
	_, phone := apiA.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	onB := func(token string) (*testclient.Client, int) {
		t.Helper()
		c, resp, err := testclient.Dial(t, "ws://"+b.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "b"})
		if err != nil {
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			return nil, resp.StatusCode
		}
		c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
		return c, 101
	}
	phoneLive, st := onB(str(phone, "token"))
	if st != 101 {
		t.Fatalf("the phone's upgrade on node b: %d", st)
	}
	// The password is changed from a laptop: a claimer's own connection
	// stays open.
	laptop := laterLogin(apiA, phone, map[string]string{"name": "Ada", "password": "correct horse"})
	st, changed := apiA.post("/v1/account/claim", str(laptop, "token"), map[string]string{"name": "Ada", "password": "battery staple", "current_password": "correct horse"})
	if st != 200 {
		t.Fatalf("password change on node a: %d %v", st, changed)
	}
	if code := phoneLive.WaitClosed(); code != int(tickroomv1.CloseCode_CLOSE_CODE_UNAUTHORIZED) {
		t.Fatalf("the connection on node b closed with %d, want %d (UNAUTHORIZED)", code, tickroomv1.CloseCode_CLOSE_CODE_UNAUTHORIZED)
	}
	if _, st := onB(str(phone, "token")); st != 401 {
		t.Fatalf("upgrade on node b with a token from before the password change: %d, want 401", st)
	}
	c, st := onB(str(changed, "token"))
	if st != 101 {
		t.Fatalf("upgrade on node b with the token the password change answered: %d, want 101", st)
	}
	c.WS.Close()
}

// A quick-match on a node of a cluster passes over the open rooms its
// connection is in, as a single node's does: a spectator of the only open
// room of the pool who quick-matches is seated as a player in another
// room (made for it, here or through a Redirect), and the room it watched
// lists its players as before. Before, the directory's match offered the
// watched room, whose join the connection refused as ALREADY_IN_ROOM.
func TestClusterQuickMatchPassesOverTheRoomsTheConnectionIsIn(t *testing.T) {
	t.Parallel()
	a, b, _ := twoNodes(t, raceDefinition())
	quick := func() *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	}
	ann, m, _ := dial(t, a, "ann").Follow(quick())
	watched := m.GetJoined().GetRoomId()
	if watched == "" {
		t.Fatalf("ann's quick-match: %v, want Joined", m)
	}
	there := a
	if _, ok := a.Runtime().Room(watched); !ok {
		there = b
	}
	bob := dial(t, there, "bob")
	watch := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: watched, Spectate: true}}}
	if j := bob.Request(watch).GetJoined(); j == nil || !j.Spectator {
		t.Fatalf("bob's spectate of ann's room %s: %v, want Joined as a spectator", watched, j)
	}
	_, m, _ = bob.Follow(quick())
	if j := m.GetJoined(); j == nil || j.RoomId == watched || j.Spectator {
		t.Fatalf("a spectator of the only open room quick-matches: %v, want a player's seat in another room", m)
	}
	list := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "race"}}}
	listed := false
	for _, r := range ann.Request(list).GetRoomList().GetRooms() {
		if r.RoomId == watched {
			listed = true
			if r.Players != 1 {
				t.Fatalf("the room bob watched lists %d players after his quick-match, want 1 (ann)", r.Players)
			}
		}
	}
	if !listed {
		t.Fatalf("the room bob watched, %s, is no longer listed after his quick-match", watched)
	}
	// ann, seated there, quick-matches again: another room's seat too.
	if _, m, _ = ann.Follow(quick()); m.GetJoined() == nil || m.GetJoined().RoomId == watched {
		t.Fatalf("a player of an open room quick-matches again: %v, want a seat in another room", m)
	}
}

// notYetRace is race whose game refuses alice's first join of any of
// its rooms (asked, shared by them), at the tick, once gate closes
// (entered tells the test it waits there, holding up the room's tick),
// and takes her later joins; when closeSeats is set by then, its match
// begins with that refusal, and the room takes no player after it
// (Context.CloseSeats).
type notYetRace struct {
	*race
	entered    chan<- struct{}
	gate       <-chan struct{}
	asked      *atomic.Bool
	closeSeats *atomic.Bool
}

func (g *notYetRace) Accept(ctx *game.Context, p game.Player) error {
	if p.Name != "alice" || !g.asked.CompareAndSwap(false, true) {
		return nil
	}
	g.entered <- struct{}{}
	<-g.gate
	if g.closeSeats.Load() {
		ctx.CloseSeats()
	}
	return game.Refuse("not yet")
}

// heldJoin is a join of alice's phone held at the tick of a room of
// notYetRace on b, a node of a cluster of two (a, b) with -multi-sockets,
// which write their rooms' taken seats to Redis only as they register,
// before the test goes on (a seat reserved stays a reservation while the
// test runs): the phone left it and joined again (again, which waits for
// the first to be settled); open lets the game refuse the first, and
// take the second (refuse it at once, closeSeats set). Both nodes serve
// metrics on an admin port.
type heldJoin struct {
	a, b          *tickroom.Server
	room          string
	phone, laptop *testclient.Client
	first, leave  uint32
	again         uint32
	open          func()
	closeSeats    atomic.Bool
}

func holdJoin(t *testing.T, maxPlayers int) *heldJoin {
	t.Helper()
	rdb := redistest.Start(t)
	entered, gate := make(chan struct{}, 1), make(chan struct{})
	h := &heldJoin{open: sync.OnceFunc(func() { close(gate) })}
	var asked atomic.Bool
	def := raceDefinition()
	def.Name, def.MaxPlayers = "notyet", maxPlayers
	def.New = func(game.Setup) (game.Game, error) {
		return &notYetRace{race: &race{at: map[uint32]byte{}}, entered: entered, gate: gate, asked: &asked, closeSeats: &h.closeSeats}, nil
	}
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), MultipleSockets: true, AdminAddr: "127.0.0.1:0"}
	opts = tickroom.WithDirectorySync(opts, time.Hour)
	h.a, h.b = startRegistered(t, opts), startRegistered(t, opts)
	t.Cleanup(h.open) // a test that fails first lets the room's tick go on

	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "notyet"}}}
	if h.room = dial(t, h.b, "host").Request(create).GetJoined().GetRoomId(); h.room == "" {
		t.Fatal("the host could not create a room")
	}
	token := login(t, h.b, "alice")
	socket := func(label string) *testclient.Client {
		c, _, err := testclient.Dial(t, "ws://"+h.b.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
		return c
	}
	h.phone, h.laptop = socket("phone"), socket("laptop")

	// The phone's join reaches the room's tick, which waits.
	h.first = h.phone.Send(h.join())
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the phone's join never reached the room's tick")
	}
	h.leave = h.phone.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: h.room}}})
	h.again = h.queued(t, h.phone)
	return h
}

func (h *heldJoin) join() *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: h.room}}}
}

// queued is queuedJoin of the room.
func (h *heldJoin) queued(t *testing.T, c *testclient.Client) uint32 {
	t.Helper()
	return queuedJoin(t, c, h.join())
}

// queuedJoin sends join from c until one is refused ALREADY_IN_ROOM:
// another join of c's waits then, the one returned unless c had one
// waiting before.
func queuedJoin(t *testing.T, c *testclient.Client, join *tickroomv1.ClientMessage) uint32 {
	t.Helper()
	ids := []uint32{c.Send(join)}
	for {
		ids = append(ids, c.Send(join))
		m := c.Next(func(m *tickroomv1.ServerMessage) bool { return slices.Contains(ids, m.RequestId) })
		ids = slices.DeleteFunc(ids, func(id uint32) bool { return id == m.RequestId })
		switch code := m.GetError().GetCode(); code {
		case tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM:
			return ids[0]
		case tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT:
		default:
			t.Fatalf("%v while a join of the room waited", m)
		}
	}
}

// settle opens the gate: the game refuses the phone's first join, and
// seats its second.
func (h *heldJoin) settle(t *testing.T) {
	t.Helper()
	h.open()
	if m := h.phone.Reply(h.first); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("the phone's first join: %v, want FORBIDDEN", m)
	}
	if m := h.phone.Reply(h.leave); m.GetLeft() == nil {
		t.Fatalf("the phone's leave: %v, want Left", m)
	}
	if m := h.phone.Reply(h.again); m.GetJoined().GetRoomId() != h.room {
		t.Fatalf("the phone's join after its leave: %v, want Joined", m)
	}
}

// lateJoin has another player join the room through a (lateJoinOf).
func (h *heldJoin) lateJoin(t *testing.T) (*tickroomv1.ServerMessage, []*tickroomv1.Redirect) {
	t.Helper()
	return lateJoinOf(t, h.a, h.room)
}

// lateJoinOf has another player join room through srv, again while it
// is refused ROOM_FULL for a few seconds (a seat given back goes to
// Redis off the room's tick, just after the answers that tell of it, and
// a seat left goes from the room at its next tick): the reply then, and
// the redirects it followed.
func lateJoinOf(t *testing.T, srv *tickroom.Server, room string) (*tickroomv1.ServerMessage, []*tickroomv1.Redirect) {
	t.Helper()
	late := dial(t, srv, "late")
	join := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		cur, reply, hops := late.Follow(join)
		if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || time.Now().After(deadline) {
			return reply, hops
		}
		if cur != late {
			late = dial(t, srv, "late") // it followed a redirect off srv
		}
	}
}

// A JoinRoom sent after a LeaveRoom of a join the game refuses at the
// tick takes the seat that join reserved in Redis (the refusal keeps it
// for it). Dropped unasked, as its connection closed meanwhile, it gave
// back nothing: the seat stayed reserved for the reservation's minute,
// and the room of two, the host alone in it, was full to everyone else.
func TestQueuedJoinOfAClosedConnectionGivesBackTheSeat(t *testing.T) {
	t.Parallel()
	h := holdJoin(t, 2)
	_ = h.phone.WS.Close()
	closed := regexp.MustCompile(`(?m)^tickroom_connections_closed_total\{[^}]*\} [1-9]`)
	for deadline := time.Now().Add(3 * time.Second); !closed.MatchString(adminGet(t, h.b, "/metrics")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the phone's connection not closed on b 3 s after it closed it")
		}
	}
	h.open() // the game refuses the phone's first join; the second is dropped

	if reply, hops := h.lateJoin(t); reply.GetJoined().GetRoomId() != h.room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: the phone's dropped join kept alice's seat", len(hops), reply)
	}
}

// The same when the room refuses that JoinRoom at once as it asks for
// the seat: here its seats closed with the refusal (the match began).
// The room of two, the host alone in it, was full to everyone else in
// Redis, which had not heard of its closed seats yet; another player is
// sent to its node, and refused there.
func TestQueuedJoinRefusedAtOnceGivesBackTheSeat(t *testing.T) {
	t.Parallel()
	h := holdJoin(t, 2)
	h.closeSeats.Store(true)
	h.open()
	if m := h.phone.Reply(h.first); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("the phone's first join: %v, want FORBIDDEN", m)
	}
	if m := h.phone.Reply(h.leave); m.GetLeft() == nil {
		t.Fatalf("the phone's leave: %v, want Left", m)
	}
	if m := h.phone.Reply(h.again); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("the phone's join after its leave, of a room that closed its seats: %v, want FORBIDDEN", m)
	}

	if reply, hops := h.lateJoin(t); reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN || len(hops) != 1 {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want a redirect to b, which refuses it FORBIDDEN: the phone's refused join kept alice's seat", len(hops), reply)
	}
}

// TestRefusedJoinKeepsTheSeatAQueuedJoinTakes: a join the game refuses
// at the tick gives back the seat it reserved in Redis unless a join of
// the user's on the node plays in the room or is joining it: one sent on
// the same connection after a LeaveRoom of the refused join, which waits
// for that join to be refused and then takes the seat, or with
// -multi-sockets another socket's. The refusal gave it back whatever they
// did: here the phone's JoinRoom sent again after a LeaveRoom of its join
// still pending, and the laptop's join, which was to take the phone's
// seat over and is refused with it. Alice sat in the room of two,
// full, while Redis counted a seat free there, and another player was
// sent to the room's node to be refused ROOM_FULL.
func TestRefusedJoinKeepsTheSeatAQueuedJoinTakes(t *testing.T) {
	t.Parallel()
	h := holdJoin(t, 2)
	taken := h.queued(t, h.laptop)
	h.settle(t)
	t.Logf("the laptop's join: %v", h.laptop.Reply(taken))

	// The room is full, the host and alice in it: a refuses another
	// player there.
	_, reply, hops := dial(t, h.a, "late").Follow(h.join())
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: a refused join of alice's gave back the seat she sits in", len(hops), reply)
	}
}

// TestQuickMatchRefusedAtTheTickKeepsTheSeatAQueuedJoinTakes: the same
// for a quick-match, which gave back the seat of a room whose game
// refused it at the tick before it went on, whatever the user's other
// sockets on the node did there: here the laptop's quick-match, matched
// with the room its phone is joining, was to take the phone's seat over
// and is refused with it, while the phone's JoinRoom sent after a
// LeaveRoom of that join then joins. Alice sat in the room of three with
// the host, and another player's, while Redis counted a seat free there.
func TestQuickMatchRefusedAtTheTickKeepsTheSeatAQueuedJoinTakes(t *testing.T) {
	t.Parallel()
	// matched has the laptop quick-match, and reports whether its join of
	// the room waits for the tick: the room, which counts alice's seat,
	// has one free, the match finds it, and a JoinRoom of the room then
	// is refused ALREADY_IN_ROOM. Sent before the match's join reached
	// the room, that JoinRoom takes its place, and the match goes to
	// another room (matched there, or made: here, or on a, a Redirect).
	matched := func(h *heldJoin) (uint32, bool) {
		match := h.laptop.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "notyet"}}})
		time.Sleep(100 * time.Millisecond)
		for {
			probe := h.laptop.Send(h.join())
			m := h.laptop.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == probe || m.RequestId == match })
			switch {
			case m.RequestId == match:
				if j, r := m.GetJoined(), m.GetRedirect(); j != nil && j.RoomId != h.room || r != nil && r.RoomId != h.room {
					t.Logf("the laptop's quick-match went to another room, its JoinRoom reached the room first: %v", m)
					return match, false
				}
				t.Fatalf("the laptop's quick-match answered before the room's tick: %v, want it to wait there", m)
			case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM:
				return match, true
			case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT:
				time.Sleep(10 * time.Millisecond)
			default:
				t.Fatalf("the laptop's JoinRoom while its quick-match waited: %v", m)
			}
		}
	}
	var h *heldJoin
	var match uint32
	for tries := 1; ; tries++ {
		h = holdJoin(t, 3)
		var ok bool
		if match, ok = matched(h); ok {
			break
		}
		if tries == 3 {
			t.Skip("the laptop's JoinRoom reached the room before its quick-match's join 3 times")
		}
	}
	h.settle(t)
	t.Logf("the laptop's quick-match: %v", h.laptop.Reply(match))

	// The host and alice hold two of the room's three seats: a sends the
	// next player there, and refuses the one after.
	if _, reply, _ := dial(t, h.a, "next").Follow(h.join()); reply.GetJoined() == nil {
		t.Fatalf("another player's JoinRoom of the room's last seat: %v, want Joined", reply)
	}
	_, reply, hops := dial(t, h.a, "late").Follow(h.join())
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: the laptop's refused quick-match gave back the seat alice sits in", len(hops), reply)
	}
}

// waitRace is race whose game holds alice's first join of its rooms at
// the tick until gate closes (entered tells the test it waits there),
// then takes it.
type waitRace struct {
	*race
	entered chan<- struct{}
	gate    <-chan struct{}
	asked   *atomic.Bool
}

func (g *waitRace) Accept(_ *game.Context, p game.Player) error {
	if p.Name == "alice" && g.asked.CompareAndSwap(false, true) {
		g.entered <- struct{}{}
		<-g.gate
	}
	return nil
}

// A join refused while another socket of the user has a join of the room
// pending that a LeaveRoom left, none queued after it, gives back the
// user's seat in Redis: that join is on its way out, seated only to be
// given up, and nothing gives the seat back then. It kept the seat: here
// the laptop's JoinRoom sent through a to b with the seat reserved,
// refused RATE_LIMITED there (alice's joins on b spent), while the
// phone's join waited for the tick and was left; the game then seated
// the phone's join and the hub gave it up, and the room of two, the host
// alone in it, was full to everyone else for the reservation's minute.
func TestRefusedJoinGivesBackTheSeatALeftJoinHolds(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	entered, gate := make(chan struct{}, 1), make(chan struct{})
	var asked atomic.Bool
	def := raceDefinition()
	def.Name, def.MaxPlayers = "wait", 2
	def.New = func(game.Setup) (game.Game, error) {
		return &waitRace{race: &race{at: map[uint32]byte{}}, entered: entered, gate: gate, asked: &asked}, nil
	}
	opts := tickroom.Options{Games: []game.Definition{def, raceDefinition()}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), MultipleSockets: true}
	opts = tickroom.WithDirectorySync(tickroom.WithJoinRate(opts, 0.001), time.Hour)
	a, b := startRegistered(t, opts), startRegistered(t, opts)
	open := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open) // a test that fails first lets the room's tick go on

	host := dial(t, b, "host")
	create := func(game string) string {
		t.Helper()
		m := host.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: game}}})
		if m.GetJoined() == nil {
			t.Fatalf("the host's room of %s: %v", game, m)
		}
		return m.GetJoined().RoomId
	}
	room, other := create("wait"), create("race")
	join := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
	token := login(t, b, "alice")
	socket := func(srv *tickroom.Server, label string) *testclient.Client {
		c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
		return c
	}

	// The phone's join reaches the room's tick, which waits; alice's
	// joins on b are then spent, and the phone leaves the room.
	phone := socket(b, "phone")
	first := phone.Send(join)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the phone's join never reached the room's tick")
	}
	spendJoinsOn(t, b, token, other)
	leave := phone.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}})

	// The laptop asks through a, which reserves alice's seat (her one
	// there) and sends it to b, where her bucket refuses the join.
	if _, reply, hops := socket(a, "laptop").Follow(join); len(hops) != 1 || reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("the laptop's JoinRoom through a: %d redirects, then %v; want one, then RATE_LIMITED", len(hops), reply)
	}

	open() // the game seats the phone's join, given up as it was left
	if m := phone.Reply(first); m.GetJoined().GetRoomId() != room {
		t.Fatalf("the phone's join: %v, want Joined", m)
	}
	if m := phone.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("the phone's leave: %v, want Left", m)
	}

	if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: the laptop's refused join kept alice's seat for the phone's, which was left", len(hops), reply)
	}
}

// roomOfTwo starts two nodes of a cluster running def, in rooms of two,
// which write their rooms' taken seats to Redis only as they register,
// before the test goes on (a seat reserved stays a reservation while the
// test runs, as one given up before the node's next sync of its rooms
// does); a host makes a room of def on b. It returns the nodes, the room,
// and a token of alice's.
func roomOfTwo(t *testing.T, def game.Definition) (a, b *tickroom.Server, room, token string) {
	t.Helper()
	rdb := redistest.Start(t)
	def.MaxPlayers = 2
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}
	opts = tickroom.WithDirectorySync(opts, time.Hour)
	a, b = startRegistered(t, opts), startRegistered(t, opts)
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
	if room = dial(t, b, "host").Request(create).GetJoined().GetRoomId(); room == "" {
		t.Fatal("the host could not create a room")
	}
	return a, b, room, login(t, b, "alice")
}

// socketOf connects to srv with token, up to its Welcome.
func socketOf(t *testing.T, srv *tickroom.Server, token, label string) *testclient.Client {
	t.Helper()
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return c
}

// A seat given up before the room's node wrote it to Redis as taken goes
// back there: the node's sync drops only the seated players who left, and
// the seat stayed reserved for the reservation's minute. Here alice joins
// the room of two on b and leaves it at once; the room, the host alone in
// it, was full to everyone else.
func TestSeatLeftAtOnceGoesBack(t *testing.T) {
	t.Parallel()
	a, b, room, token := roomOfTwo(t, raceDefinition())
	alice := socketOf(t, b, token, "alice")
	if m := alice.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	if m := alice.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: alice's seat, left, stayed reserved", len(hops), reply)
	}
}

// The same for a seat held for a resume, which the user gives up from a
// later connection.
func TestHeldSeatLeftAtOnceGoesBack(t *testing.T) {
	t.Parallel()
	a, b, room, token := roomOfTwo(t, raceDefinition())
	if m := socketOf(t, b, token, "phone").Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	// A newer login replaces the phone's connection, and holds its seat.
	if m := socketOf(t, b, token, "laptop").Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}); m.GetLeft() == nil {
		t.Fatalf("alice's leave of her held seat: %v, want Left", m)
	}
	if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: alice's seat, left, stayed reserved", len(hops), reply)
	}
}

// heldAtTheTick is raceDefinition whose game holds alice's first join of
// its rooms at the tick until the returned open is called (entered tells
// the test it waits there), then takes it.
func heldAtTheTick(t *testing.T) (def game.Definition, entered <-chan struct{}, open func()) {
	t.Helper()
	in, gate := make(chan struct{}, 1), make(chan struct{})
	var asked atomic.Bool
	def = raceDefinition()
	def.Name = "wait"
	def.New = func(game.Setup) (game.Game, error) {
		return &waitRace{race: &race{at: map[uint32]byte{}}, entered: in, gate: gate, asked: &asked}, nil
	}
	open = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open) // a test that fails first lets the room's tick go on
	return def, in, open
}

// The same for a seat the game gives a join that a LeaveRoom left while
// it waited for the tick, which the hub gives up at once.
func TestSeatOfAJoinLeftWhilePendingGoesBack(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	a, b, room, token := roomOfTwo(t, def)
	alice := socketOf(t, b, token, "alice")
	first := alice.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}})
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's join never reached the room's tick")
	}
	leave := alice.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}})
	open()
	if m := alice.Reply(first); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	if m := alice.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: alice's seat, given up, stayed reserved", len(hops), reply)
	}
}

// The same for a seat the game gives a join whose connection a newer
// login of the user replaced while it waited for the tick: the hub gives
// it up, as the newer login was never told of it.
func TestSeatOfAJoinReplacedWhilePendingGoesBack(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	a, b, room, token := roomOfTwo(t, def)
	alice := socketOf(t, b, token, "phone")
	alice.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}})
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's join never reached the room's tick")
	}
	socketOf(t, b, token, "laptop") // replaces the phone's connection
	open()
	if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: alice's seat, given up, stayed reserved", len(hops), reply)
	}
}

// A join refused while the user's spectator join of the room, left,
// waits for the tick keeps the user's seat in Redis when a player's
// JoinRoom sent after that leave waits to take it: it gave the seat
// back, the left join being a spectator's. Here alice's JoinRoom to watch
// the room of two on b waits at the tick and is left; her JoinRoom to
// play, sent then, waits for it with her seat reserved, and another
// JoinRoom of hers is refused ALREADY_IN_ROOM. She then sits in the room
// with the host while Redis counted a seat free: a sent another player
// to b, to be refused ROOM_FULL there.
func TestRefusedJoinKeepsTheSeatAJoinAfterALeftSpectatorTakes(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	a, b, room, token := roomOfTwo(t, def)
	alice := socketOf(t, b, token, "alice")
	first := alice.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}})
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's join to watch never reached the room's tick")
	}
	leave := alice.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}})
	again := queuedJoin(t, alice, &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}})
	open()
	if m := alice.Reply(first); !m.GetJoined().GetSpectator() {
		t.Fatalf("alice's join to watch: %v, want Joined as a spectator", m)
	}
	if m := alice.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	if m := alice.Reply(again); m.GetJoined().GetRoomId() != room || m.GetJoined().GetSpectator() {
		t.Fatalf("alice's join to play after her leave: %v, want Joined as a player", m)
	}

	_, reply, hops := dial(t, a, "late").Follow(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}})
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: alice's refused join gave back the seat she sits in", len(hops), reply)
	}
}

// A LeaveRoom and a JoinRoom of the same room sent at once keep the
// user's seat in Redis: the node gives the left seat back off the room's
// tick, and the join reserves it again, each on its own goroutine, and
// the give-back that reached Redis second took the seat the join had just
// reserved. The user then sat in the room with no seat in Redis until the
// node's next sync. Here alice, in a room on b, leaves and joins it again
// at once, a few times; after each Joined, the room's seats in Redis must
// count hers.
func TestLeaveAndJoinAtOnceKeepTheSeat(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	def := raceDefinition()
	def.MaxPlayers = 4
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}
	opts = tickroom.WithJoinRate(tickroom.WithDirectorySync(opts, time.Hour), 1000)
	b, _, _ := start(t, opts)
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
	room := dial(t, b, "host").Request(create).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("the host could not create a room")
	}
	join := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
	leave := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}
	alice := socketOf(t, b, login(t, b, "alice"), "alice")
	if m := alice.Request(join); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	rc := rdb.Client(t)
	seats := func() int64 {
		n, err := rc.ZCard(context.Background(), "tickroom:room:"+room+":seats").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := seats(); n != 2 {
		t.Fatalf("after alice's join, %d seats of the room in Redis, want 2", n)
	}
	for i := range 30 {
		l, j := alice.Send(leave), alice.Send(join)
		if m := alice.Reply(l); m.GetLeft() == nil {
			t.Fatalf("round %d, alice's leave: %v, want Left", i, m)
		}
		if m := alice.Reply(j); m.GetJoined().GetRoomId() != room {
			t.Fatalf("round %d, alice's join after it: %v, want Joined", i, m)
		}
		time.Sleep(50 * time.Millisecond) // a give-back still on its way lands
		if n := seats(); n != 2 {
			t.Fatalf("round %d: alice, back in the room, and the host: %d seats of the room in Redis, want 2", i, n)
		}
	}
}

// A seat given up as a LeaveRoom came while its join waited for the tick
// stays the user's in Redis when a JoinRoom of the user's sent after that
// leave waits to take it (gaveUpSeat): given back, the user sat in the
// room with no seat there. Here alice's join of a room of three on b waits
// at the tick; she leaves it, and her JoinRoom sent then waits for it. The
// game seats the first, the hub gives it up, and the second takes a seat;
// bob fills the room. Another player's JoinRoom through a must then be
// refused ROOM_FULL by a: a sent it on to b, Redis counting a seat free.
func TestSeatOfAJoinLeftWhilePendingStaysForTheJoinAfter(t *testing.T) {
	t.Parallel()
	def, entered, open := heldAtTheTick(t)
	rdb := redistest.Start(t)
	def.MaxPlayers = 3 // the left seat keeps its place in the room until the next tick
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}
	opts = tickroom.WithDirectorySync(opts, time.Hour)
	a, _, _ := start(t, opts)
	b, _, _ := start(t, opts)
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
	room := dial(t, b, "host").Request(create).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("the host could not create a room")
	}
	join := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}
	alice := socketOf(t, b, login(t, b, "alice"), "alice")
	first := alice.Send(join)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's join never reached the room's tick")
	}
	leave := alice.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}})
	again := queuedJoin(t, alice, join)
	open()
	if m := alice.Reply(first); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join: %v, want Joined", m)
	}
	if m := alice.Reply(leave); m.GetLeft() == nil {
		t.Fatalf("alice's leave: %v, want Left", m)
	}
	if m := alice.Reply(again); m.GetJoined().GetRoomId() != room {
		t.Fatalf("alice's join after her leave: %v, want Joined", m)
	}
	if m := dial(t, b, "bob").Request(join); m.GetJoined().GetRoomId() != room {
		t.Fatalf("bob's join: %v, want Joined", m)
	}
	time.Sleep(50 * time.Millisecond) // a give-back still on its way lands
	_, reply, hops := dial(t, a, "late").Follow(join)
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: the seat alice sits in was given back", len(hops), reply)
	}
}

// A seat the admin API takes from a kicked or banned user goes back to
// Redis at once, as a seat left does: it stayed reserved for the
// reservation's minute when the node had not written it as seated yet,
// and the room of two, the host alone in it, was full to everyone else.
// Here alice joins the room of two on b; kicked, or banned once a newer
// login of hers holds her seat, she is out of the room.
func TestSeatOfAKickedOrBannedUserGoesBack(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ action, held string }{{"kick", ""}, {"ban", " once a newer login held it"}} {
		t.Run(c.action, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.Start(t)
			def := raceDefinition()
			def.MaxPlayers = 2
			opts := tickroom.Options{Games: []game.Definition{def}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), AdminAddr: "127.0.0.1:0"}
			opts = tickroom.WithDirectorySync(opts, time.Hour)
			a, _, _ := start(t, opts)
			b, _, _ := start(t, opts)
			create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name}}}
			room := dial(t, b, "host").Request(create).GetJoined().GetRoomId()
			if room == "" {
				t.Fatal("the host could not create a room")
			}
			_, alice := api{t: t, base: "http://" + b.HTTPAddr().String()}.post("/v1/login", "", map[string]string{"name": "alice"})
			if m := socketOf(t, b, str(alice, "token"), "phone").Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room}}}); m.GetJoined().GetRoomId() != room {
				t.Fatalf("alice's join: %v, want Joined", m)
			}
			if c.held != "" {
				socketOf(t, b, str(alice, "token"), "laptop") // replaces the phone's connection, and holds its seat
			}
			admin := api{t: t, base: "http://" + b.AdminAddr().String()}
			if st, m := admin.post("/v1/admin/players/"+str(alice, "user_id")+"/"+c.action, b.AdminToken(), map[string]string{}); st != 200 {
				t.Fatalf("%s of alice: %d %v, want 200", c.action, st, m)
			}
			if reply, hops := lateJoinOf(t, a, room); reply.GetJoined().GetRoomId() != room {
				t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: alice's seat, taken by the %s%s, stayed reserved", len(hops), reply, c.action, c.held)
			}
		})
	}
}
