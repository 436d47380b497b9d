package tickroom_test

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
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
	join := joinRoom(room)
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
