package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/hub"
)

// testNode is a node with a directory over its own runtime.
type testNode struct {
	*Node
	dir *Directory
	rt  *game.Runtime
}

func startDirNode(t *testing.T, rs *redistest.Server, id string) *testNode {
	t.Helper()
	return startDirNodeWith(t, rs, id, DirectoryConfig{})
}

// startDirNodeWith is startDirNode with cfg's durations.
func startDirNodeWith(t *testing.T, rs *redistest.Server, id string, cfg DirectoryConfig) *testNode {
	t.Helper()
	return dirNodeOver(t, startNode(t, rs, id), cfg)
}

// dirNodeOver gives the started node n a directory over a runtime of its
// own.
func dirNodeOver(t *testing.T, n *Node, cfg DirectoryConfig) *testNode {
	t.Helper()
	reg := game.NewRegistry()
	if err := reg.Register(gomoku.Definition()); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(arena.Definition()); err != nil {
		t.Fatal(err)
	}
	rt, err := game.NewRuntime(game.Config{Registry: reg, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	rt.Start()
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	cfg.Node, cfg.Runtime = n, rt
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = 50 * time.Millisecond
	}
	d, err := NewDirectory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return &testNode{n, d, rt}
}

func (n *testNode) create(t *testing.T, opts game.RoomOptions, pool string) *game.Room {
	t.Helper()
	r, err := n.rt.CreateRoom(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.dir.Publish(context.Background(), r, pool); err != nil {
		t.Fatal(err)
	}
	return r
}

func code(err error) protocol.ErrorCode {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return 0
}

// TestDirectoryListsEveryNodesRooms: rooms of two nodes appear in one
// listing with their node, filtered by game, metadata and free seats, and
// paged by id.
func TestDirectoryListsEveryNodesRooms(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	var want []string
	for i := 0; i < 3; i++ {
		r := a.create(t, game.RoomOptions{Game: "gomoku", Metadata: map[string]string{"mode": "ranked"}}, "p")
		want = append(want, r.ID())
		r = b.create(t, game.RoomOptions{Game: "arena", Metadata: map[string]string{"mode": fmt.Sprint("casual", i)}}, "q")
		want = append(want, r.ID())
	}
	b.create(t, game.RoomOptions{Game: "arena", Private: true}, "")

	rooms, next, err := a.dir.List(ctx, hub.RoomQuery{Limit: 100})
	if err != nil || next != "" || len(rooms) != 6 {
		t.Fatalf("list: %d rooms, next %q, %v", len(rooms), next, err)
	}
	nodes := map[string]string{}
	for _, r := range rooms {
		nodes[r.ID] = r.NodeID
	}
	for i, id := range want {
		if wantNode := []string{"a", "b"}[i%2]; nodes[id] != wantNode {
			t.Fatalf("room %s listed on %q, want %q", id, nodes[id], wantNode)
		}
	}
	// Paging: pages of 4 then 2, in id order, nothing twice.
	p1, next, _ := b.dir.List(ctx, hub.RoomQuery{Limit: 4})
	p2, end, _ := b.dir.List(ctx, hub.RoomQuery{Limit: 4, After: next})
	if len(p1) != 4 || len(p2) != 2 || end != "" || next != p1[3].ID || p2[0].ID <= p1[3].ID {
		t.Fatalf("pages: %d then %d, tokens %q %q", len(p1), len(p2), next, end)
	}
	g, _, _ := b.dir.List(ctx, hub.RoomQuery{Game: "gomoku", Limit: 100})
	m, _, _ := b.dir.List(ctx, hub.RoomQuery{Metadata: map[string]string{"mode": "casual1"}, Limit: 100})
	if len(g) != 3 || len(m) != 1 || m[0].Game != "arena" || m[0].Metadata["mode"] != "casual1" {
		t.Fatalf("filters: %d gomoku rooms, %d casual1 rooms %+v", len(g), len(m), m)
	}
	// A full room leaves the joinable listing.
	full := g[0].ID
	for i := 0; i < 2; i++ {
		if _, err := b.dir.Reserve(ctx, full, fmt.Sprint("u", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	j, _, _ := b.dir.List(ctx, hub.RoomQuery{Game: "gomoku", Joinable: true, Limit: 100})
	if len(j) != 2 {
		t.Fatalf("joinable gomoku rooms: %d, want 2", len(j))
	}
	// A room that ends leaves the directory.
	r, _ := a.rt.Room(want[0])
	r.Close("test")
	waitFor(t, 5*time.Second, "closed room unlisted", func() bool {
		rooms, _, _ := b.dir.List(ctx, hub.RoomQuery{Limit: 100})
		return len(rooms) == 5
	})
}

// TestReserveLastSeatRace: many goroutines on two nodes race for the last
// seat of a room: exactly one gets it, the others get ROOM_FULL; a user
// who reserves twice holds one seat.
func TestReserveLastSeatRace(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	room := a.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 3}, "p")
	for _, u := range []string{"first", "second", "second"} {
		if _, err := a.dir.Reserve(ctx, room.ID(), u, ""); err != nil {
			t.Fatalf("reserve %s: %v", u, err)
		}
	}
	const racers = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, full := 0, 0
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := []*Directory{a.dir, b.dir}[i%2]
			var err error
			if i%4 == 3 {
				_, _, err = d.Match(ctx, "p", fmt.Sprint("racer", i), nil, nil)
			} else {
				_, err = d.Reserve(ctx, room.ID(), fmt.Sprint("racer", i), "")
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && i%4 != 3:
				won++
			case i%4 == 3 && err == nil:
				// Match: counted below from the seats.
			case code(err) == protocol.ErrorRoomFull:
				full++
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	n, err := rs.Client(t).ZCard(ctx, a.keys.Seats(room.ID())).Result()
	if err != nil || n != 3 {
		t.Fatalf("seats held: %d (%v), want 3: the room is overfilled or a seat was lost", n, err)
	}
	if won > 1 {
		t.Fatalf("%d racers won the last seat", won)
	}
	if _, err := b.dir.Reserve(ctx, room.ID(), "late", ""); code(err) != protocol.ErrorRoomFull {
		t.Fatalf("reserve in a full room: %v", err)
	}
	// A released reservation frees its seat again.
	a.dir.Release(ctx, room.ID(), "first")
	if _, err := b.dir.Reserve(ctx, room.ID(), "late", ""); err != nil {
		t.Fatalf("reserve after a release: %v", err)
	}
}

// TestMatchFillsFullestRoomOnAnyNode: quick-match reserves in the fullest
// room with a free seat wherever it lives, skips draining nodes, and
// finds none once every room is full.
func TestMatchFillsFullestRoomOnAnyNode(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	emptyA := a.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 4}, "p")
	fullerB := b.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 4}, "p")
	_ = emptyA
	for _, u := range []string{"x", "y"} {
		if _, err := b.dir.Reserve(ctx, fullerB.ID(), u, ""); err != nil {
			t.Fatal(err)
		}
	}
	r, ok, err := a.dir.Match(ctx, "p", "me", nil, nil)
	if err != nil || !ok || r.RoomID != fullerB.ID() || r.NodeID != "b" || r.URL != b.WebSocketURL() || r.Token == "" {
		t.Fatalf("match from a: %+v %v %v, want b's fuller room", r, ok, err)
	}
	// The token is b's to claim, for this user only.
	if got, ok := b.dir.Claim(ctx, r.Token, "me"); !ok || got.RoomID != fullerB.ID() {
		t.Fatalf("b claims: %+v %v", got, ok)
	}
	if _, ok := a.dir.Claim(ctx, r.Token, "me"); ok {
		t.Fatal("a claimed a reservation made for b")
	}
	if _, ok := b.dir.Claim(ctx, r.Token, "someone-else"); ok {
		t.Fatal("another user claimed the reservation")
	}
	// Draining b: its rooms get no quick-match players.
	b.SetDraining(true)
	waitFor(t, 5*time.Second, "b draining", func() bool {
		n, _ := a.Nodes(ctx)
		return len(n) == 2 && n[1].Draining
	})
	if r, ok, _ := a.dir.Match(ctx, "p", "other", nil, nil); !ok || r.NodeID != "a" {
		t.Fatalf("match with b draining: %+v %v", r, ok)
	}
	// Placement avoids the draining node and prefers this one on a tie.
	if p, err := b.dir.Place(ctx, "u", nil); err != nil || p.NodeID != "a" || p.Token == "" {
		t.Fatalf("place from b: %+v %v", p, err)
	}
	if p, err := a.dir.Place(ctx, "u", nil); err != nil || p.NodeID != "a" || p.Token != "" {
		t.Fatalf("place from a: %+v %v", p, err)
	}
	if _, ok, _ := a.dir.Match(ctx, "none", "u", nil, nil); ok {
		t.Fatal("matched in an empty pool")
	}
}

// TestMatchPassesOverRefusedRooms: a quick-match passes over the rooms
// whose game refused it at the tick, however full, and its reservation, of
// a room or a placement, carries them to the node it names (Claim).
func TestMatchPassesOverRefusedRooms(t *testing.T) {
	t.Parallel()
	_, a, b, fuller, other := twoPoolRooms(t)
	ctx := context.Background()
	refused := []string{fuller.ID()}
	r, ok, err := a.dir.Match(ctx, "p", "me", refused, nil)
	if err != nil || !ok || r.RoomID != other.ID() {
		t.Fatalf("match passing over the fuller room: %+v %v %v, want b's %s", r, ok, err, other.ID())
	}
	if got, ok := b.dir.Claim(ctx, r.Token, "me"); !ok || got.RoomID != other.ID() || !slices.Equal(got.Refused, refused) {
		t.Fatalf("b claims the match: %+v %v, want room %s with refused %v", got, ok, other.ID(), refused)
	}
	if _, ok, err := a.dir.Match(ctx, "p", "me2", []string{fuller.ID(), other.ID()}, nil); err != nil || ok {
		t.Fatalf("match passing over every room: %v %v, want none", ok, err)
	}
	// A reservation without refusals has none, and the room passed over
	// is matched again once nothing refuses it.
	if r, ok, err := a.dir.Match(ctx, "p", "you", nil, nil); err != nil || !ok || r.RoomID != fuller.ID() {
		t.Fatalf("match: %+v %v %v, want the fuller room", r, ok, err)
	} else if got, ok := a.dir.Claim(ctx, r.Token, "you"); !ok || got.Refused != nil {
		t.Fatalf("a claims: %+v %v, want no refusals", got, ok)
	}
	// A placement on another node (b drains, so a is placed) carries them.
	b.SetDraining(true)
	waitFor(t, 5*time.Second, "b draining", func() bool {
		n, _ := a.Nodes(ctx)
		return len(n) == 2 && n[1].Draining
	})
	p, err := b.dir.Place(ctx, "me", refused)
	if err != nil || p.NodeID != "a" {
		t.Fatalf("place from a draining b: %+v %v, want a", p, err)
	}
	if got, ok := a.dir.Claim(ctx, p.Token, "me"); !ok || got.RoomID != "" || !slices.Equal(got.Refused, refused) {
		t.Fatalf("a claims the placement: %+v %v, want refused %v", got, ok, refused)
	}
}

// TestExpiredReservationReturnsToPool: a quick-match seat whose player
// never came goes back to the pool once its reservation expires, so the
// next quick-match fills that room rather than finding none.
func TestExpiredReservationReturnsToPool(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startDirNodeWith(t, rs, "a", DirectoryConfig{ReservationTTL: time.Second, RefreshInterval: 200 * time.Millisecond})
	ctx := context.Background()
	room := a.create(t, game.RoomOptions{Game: "gomoku"}, "p")
	start := time.Now()
	for _, u := range []string{"x", "y"} {
		if r, ok, err := a.dir.Match(ctx, "p", u, nil, nil); err != nil || !ok || r.RoomID != room.ID() {
			t.Fatalf("match %s: %+v %v %v", u, r, ok, err)
		}
	}
	if r, ok, err := a.dir.Match(ctx, "p", "z", nil, nil); err != nil || ok {
		t.Fatalf("match with both seats reserved: %+v %v %v, want none", r, ok, err)
	}
	waitFor(t, 5*time.Second, "the expired seats back in the pool", func() bool {
		r, ok, err := a.dir.Match(ctx, "p", "z", nil, nil)
		return err == nil && ok && r.RoomID == room.ID()
	})
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("a reserved seat was given again after %v, before its reservation expired", d)
	}
}

// TestDeadNodesRoomsAreLost: once a node's registration expires its rooms
// leave listings and pools, and a reservation in one is ROOM_LOST.
func TestDeadNodesRoomsAreLost(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	room := b.create(t, game.RoomOptions{Game: "arena"}, "p")
	// b dies: its port closes, its heartbeat and sync stop without a
	// goodbye. Even before its registration expires, nobody is sent there.
	if ln, ok := listeners.Load(b.Node); ok {
		ln.(net.Listener).Close()
	}
	if _, err := a.dir.Reserve(ctx, room.ID(), "early", ""); code(err) != protocol.ErrorRoomLost {
		t.Fatalf("reserve in a crashed node's room within its TTL: %v, want ROOM_LOST", err)
	}
	if _, ok, _ := a.dir.Match(ctx, "p", "early", nil, nil); ok {
		t.Fatal("matched into a crashed node's room within its TTL")
	}
	b.dir.mu.Lock()
	close(b.dir.stop)
	b.dir.stop = nil
	b.dir.mu.Unlock()
	b.Node.mu.Lock()
	close(b.Node.stop)
	b.Node.running = false
	b.Node.mu.Unlock()
	waitFor(t, 5*time.Second, "b's room unlisted", func() bool {
		rooms, _, _ := a.dir.List(ctx, hub.RoomQuery{Limit: 10})
		return len(rooms) == 0
	})
	if _, err := a.dir.Reserve(ctx, room.ID(), "u", ""); code(err) != protocol.ErrorRoomLost {
		t.Fatalf("reserve in a dead node's room: %v, want ROOM_LOST", err)
	}
	waitFor(t, 5*time.Second, "swept", func() bool { n, _ := rs.Client(t).Exists(ctx, a.keys.Room(room.ID())).Result(); return n == 0 })
	if _, err := a.dir.Reserve(ctx, room.ID(), "u", ""); code(err) != protocol.ErrorRoomLost {
		t.Fatalf("reserve after the sweep: %v, want ROOM_LOST", err)
	}
	if _, ok, _ := a.dir.Match(ctx, "p", "u", nil, nil); ok {
		t.Fatal("matched into a dead node's room")
	}
	if _, err := a.dir.Reserve(ctx, "nosuchroom", "u", ""); code(err) != protocol.ErrorRoomNotFound {
		t.Fatalf("reserve in no room: %v", err)
	}
}

// TestUserSeatsCapped: a user who asks for seats in rooms of another node
// and never takes them holds at most MaxUserSeats of them cluster-wide,
// whichever node it asks through; a seat given back or taken frees one of
// its places.
func TestUserSeatsCapped(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	var rooms []*game.Room
	for i := 0; i < DefaultMaxUserSeats+2; i++ {
		rooms = append(rooms, b.create(t, game.RoomOptions{Game: "gomoku"}, ""))
	}
	for i, r := range rooms[:DefaultMaxUserSeats] {
		via := a.dir
		if i%2 == 1 {
			via = b.dir // asking through another node counts the same
		}
		if _, err := via.Reserve(ctx, r.ID(), "squatter", ""); err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
	}
	// Asking again for a room it holds keeps its one place.
	if _, err := a.dir.Reserve(ctx, rooms[0].ID(), "squatter", ""); err != nil {
		t.Fatalf("re-reserving a held seat: %v", err)
	}
	over := rooms[DefaultMaxUserSeats]
	if _, err := a.dir.Reserve(ctx, over.ID(), "squatter", ""); code(err) != protocol.ErrorAlreadyInRoom {
		t.Fatalf("reservation past the cap: %v, want ALREADY_IN_ROOM", err)
	}
	if _, err := b.dir.Reserve(ctx, over.ID(), "squatter", ""); code(err) != protocol.ErrorAlreadyInRoom {
		t.Fatalf("reservation past the cap through the room's node: %v, want ALREADY_IN_ROOM", err)
	}
	// The room refused still has its seats for others.
	if _, err := a.dir.Reserve(ctx, over.ID(), "other", ""); err != nil {
		t.Fatalf("another user: %v", err)
	}
	a.dir.Release(ctx, rooms[1].ID(), "squatter")
	if _, err := a.dir.Reserve(ctx, over.ID(), "squatter", ""); err != nil {
		t.Fatalf("after giving one back: %v", err)
	}
	// A seat taken (the room's node lists the user seated) leaves the cap.
	r := rooms[2]
	res := make(chan game.JoinResult, 1)
	if err := r.Join(game.JoinRequest{UserID: "squatter", Name: "s", Client: idleClient{}}, func(jr game.JoinResult) { res <- jr }); err != nil {
		t.Fatal(err)
	}
	if jr := <-res; jr.Err != nil {
		t.Fatal(jr.Err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.dir.Reserve(ctx, rooms[DefaultMaxUserSeats+1].ID(), "squatter", "")
		if err == nil {
			break
		}
		if code(err) != protocol.ErrorAlreadyInRoom || time.Now().After(deadline) {
			t.Fatalf("after taking a seat: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReservePasswordRoom: a room with a password on another node refuses
// a seat for a wrong or missing password with WRONG_PASSWORD, as a join
// on its own node does, and holds one for the right password.
func TestReservePasswordRoom(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	r := b.create(t, game.RoomOptions{Game: "gomoku", Password: "sesame"}, "")
	for _, pw := range []string{"", "wrong"} {
		if _, err := a.dir.Reserve(ctx, r.ID(), "u", pw); code(err) != protocol.ErrorWrongPassword {
			t.Fatalf("password %q: %v, want WRONG_PASSWORD", pw, err)
		}
	}
	got, err := a.dir.Reserve(ctx, r.ID(), "u", "sesame")
	if err != nil || got.NodeID != "b" {
		t.Fatalf("right password: %+v, %v", got, err)
	}
	// A private room without a password is joined by id, as on one node.
	p := b.create(t, game.RoomOptions{Game: "gomoku", Private: true}, "")
	if _, err := a.dir.Reserve(ctx, p.ID(), "u", ""); err != nil {
		t.Fatalf("private room by id: %v", err)
	}
}

// idleClient is a room member that never congests.
type idleClient struct{}

func (idleClient) Congested() bool { return false }

// TestAskingAgainReusesTheToken: a user asking over and over for a seat
// in one room, for a quick match, or for a place to make a room, holds
// one token in Redis for each room and one placement, not one per ask;
// the token it was given last still claims the seat, and an earlier one
// (the same string) too.
func TestAskingAgainReusesTheToken(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	rdb := rs.Client(t)
	ctx := context.Background()
	tokens := func() int {
		keys, err := rdb.Keys(ctx, "*resv:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	room := b.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 4}, "p")
	first, err := a.dir.Reserve(ctx, room.ID(), "asker", "")
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		r, err := a.dir.Reserve(ctx, room.ID(), "asker", "")
		if err != nil || r.Token != first.Token {
			t.Fatalf("asking again: %+v %v, want the token %q", r, err, first.Token)
		}
	}
	if n := tokens(); n != 1 {
		t.Fatalf("%d tokens after 51 asks for one seat, want 1", n)
	}
	if got, ok := b.dir.Claim(ctx, first.Token, "asker"); !ok || got.RoomID != room.ID() {
		t.Fatalf("claiming the seat: %+v %v", got, ok)
	}
	// A quick match lands in that room again: the same token.
	for range 20 {
		r, ok, err := a.dir.Match(ctx, "p", "asker", nil, nil)
		if err != nil || !ok || r.Token != first.Token {
			t.Fatalf("quick match: %+v %v %v, want the token %q", r, ok, err, first.Token)
		}
	}
	// Another user gets a token of its own.
	other, err := a.dir.Reserve(ctx, room.ID(), "other", "")
	if err != nil || other.Token == first.Token {
		t.Fatalf("another user: %+v %v", other, err)
	}
	if n := tokens(); n != 2 {
		t.Fatalf("%d tokens for two users in one room, want 2", n)
	}
	// Placements: one token a user. With a draining, a places on b.
	a.SetDraining(true)
	waitFor(t, 5*time.Second, "a draining", func() bool {
		n, _ := a.Nodes(ctx)
		return len(n) == 2 && n[0].Draining
	})
	var place hub.Reservation
	for i := range 30 {
		p, err := a.dir.Place(ctx, "placer", nil)
		if err != nil || p.NodeID != "b" || p.Token == "" || (i > 0 && p.Token != place.Token) {
			t.Fatalf("place %d: %+v %v (first %+v)", i, p, err, place)
		}
		place = p
	}
	if n := tokens(); n != 3 {
		t.Fatalf("%d tokens after 30 placements, want 3", n)
	}
	if got, ok := b.dir.Claim(ctx, place.Token, "placer"); !ok || got.RoomID != "" {
		t.Fatalf("claiming the placement: %+v %v", got, ok)
	}
	// The tokens live no longer than a reservation.
	for _, k := range []string{"*resv:*", "*utok:*"} {
		keys, _ := rdb.Keys(ctx, k).Result()
		for _, key := range keys {
			if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > DefaultReservationTTL {
				t.Fatalf("%s expires in %v", key, ttl)
			}
		}
	}
}

// TestClaimUserIDWithBar: a user id holding "|", as identity providers'
// subjects do (Auth0's "auth0|5f7c…", "google-oauth2|…"), claims its
// reservations and quick-matches on the node they name, and
// the user id before its "|" claims none of them.
func TestClaimUserIDWithBar(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	room := b.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 4}, "p")
	const user = "auth0|5f7c8ec7c33c6c004bbafe82"
	r, err := a.dir.Reserve(ctx, room.ID(), user, "")
	if err != nil {
		t.Fatal(err)
	}
	m, ok, err := a.dir.Match(ctx, "p", "google-oauth2|1|2", nil, nil)
	if err != nil || !ok {
		t.Fatalf("match: %v %v", ok, err)
	}
	for _, c := range []struct {
		token, user string
	}{{r.Token, user}, {m.Token, "google-oauth2|1|2"}} {
		if _, ok := b.dir.Claim(ctx, c.token, "auth0"); ok {
			t.Fatalf("user auth0 claimed %s's reservation", c.user)
		}
		if got, ok := b.dir.Claim(ctx, c.token, c.user); !ok || got.RoomID != room.ID() {
			t.Fatalf("%s claims its reservation: %+v %v, want room %s", c.user, got, ok, room.ID())
		}
	}
}

// TestRoomIDNamingAnotherKey: a JoinRoom or spectate whose room id names
// another of a room's Redis keys ("<id>:seats", a client's own choice of
// text) is refused with ERROR_CODE_ROOM_NOT_FOUND like any room that does
// not exist, not with ERROR_CODE_UNAVAILABLE ("retry shortly") from the
// Redis error of reading a set as a room.
func TestRoomIDNamingAnotherKey(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startDirNode(t, rs, "a"), startDirNode(t, rs, "b")
	ctx := context.Background()
	room := b.create(t, game.RoomOptions{Game: "arena", MaxPlayers: 4}, "p")
	if _, err := a.dir.Reserve(ctx, room.ID(), "u1", ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{room.ID() + ":seats", "seats:" + room.ID()} {
		if _, err := a.dir.Reserve(ctx, id, "u2", ""); code(err) != protocol.ErrorRoomNotFound {
			t.Fatalf("reserve in %q: %v, want ROOM_NOT_FOUND", id, err)
		}
		if _, err := a.dir.Locate(ctx, id); code(err) != protocol.ErrorRoomNotFound {
			t.Fatalf("locate %q: %v, want ROOM_NOT_FOUND", id, err)
		}
	}
}
