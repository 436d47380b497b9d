package clustertest

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// adminJSON sends an admin request to n and decodes its JSON answer into
// out; it returns the status and the X-Total-Count and X-Unreachable-Nodes
// headers.
func adminJSON(t *testing.T, n *Node, method, path, body string, out any) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.Admin()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.c.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("admin %s %s on %s: %v", method, path, n.ID, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("admin %s %s on %s: %v", method, path, n.ID, err)
		}
	}
	return resp.StatusCode, resp.Header
}

type adminNode struct {
	ID       string `json:"id"`
	WSURL    string `json:"ws_url"`
	Sessions int    `json:"sessions"`
	Rooms    int    `json:"rooms"`
	Draining bool   `json:"draining"`
	Self     bool   `json:"self"`
}

type adminRoom struct {
	ID      string `json:"id"`
	Game    string `json:"game"`
	Node    string `json:"node"`
	Players int    `json:"players"`
	Seats   []struct {
		UserID string `json:"user_id"`
	} `json:"seats"`
}

type adminPlayer struct {
	UserID string   `json:"user_id"`
	Name   string   `json:"name"`
	Node   string   `json:"node"`
	Rooms  []string `json:"rooms"`
}

// createGameRoom has p create a room of game on its node and returns its id.
func createGameRoom(t *testing.T, p *player, game string) string {
	t.Helper()
	return joined(t, p.name, p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: game}}})).RoomId
}

// TestOperatorViewAcrossNodes drives the admin API of n1 alone over a
// cluster of three nodes whose rooms and players are on n2 and n3: it
// lists the three nodes with their load, every room and player with its
// node (paged, and one node's with ?node=), inspects a room of n2 and its
// state, sends it a notice, closes it (its players get
// LEAVE_REASON_ROOM_CLOSED, as on a single node) and kicks a player of
// n3; /metrics counts the cluster's nodes and sessions. Once n3 is
// killed, n1's listing names it among the nodes that did not answer until
// its registration expires.
func TestOperatorViewAcrossNodes(t *testing.T) {
	// Not parallel: it freezes a node (SIGSTOP); it runs alone, before
	// the parallel tests.
	c, tap := startTappedN(t, 3)
	n1, n2, n3 := c.Nodes()[0], c.Nodes()[1], c.Nodes()[2]
	ann, bob := connect(t, n2, "ann"), connect(t, n2, "bob")
	cat := connect(t, n3, "cat")
	r2 := createGameRoom(t, ann, "gomoku")
	joined(t, "bob", bob.c.Request(joinRoom(r2, 0)))
	r3 := createGameRoom(t, cat, "arena")

	// The three nodes, with the sessions of each once a heartbeat has
	// carried them (every 2 s).
	var nodes []adminNode
	waitUntil(t, 30*time.Second, "n1 lists three nodes with their sessions", func() bool {
		nodes = nil
		st, _ := adminJSON(t, n1, "GET", "/v1/admin/nodes", "", &nodes)
		return st == http.StatusOK && len(nodes) == 3 && nodes[1].Sessions == 2 && nodes[2].Sessions == 1
	})
	for i, n := range []*Node{n1, n2, n3} {
		if got := nodes[i]; got.ID != n.ID || got.WSURL != n.WSURL() || got.Self != (i == 0) || got.Draining {
			t.Fatalf("node %d: %+v, want %s at %s", i, got, n.ID, n.WSURL())
		}
	}

	// Every room, with its node; paged one at a time.
	want := map[string]string{r2: n2.ID, r3: n3.ID}
	var rooms []adminRoom
	waitUntil(t, 30*time.Second, "n1 lists both rooms", func() bool {
		rooms = nil
		st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms", "", &rooms)
		return st == http.StatusOK && len(rooms) == 2
	})
	for _, r := range rooms {
		if want[r.ID] != r.Node {
			t.Fatalf("room %s listed on %q, want %q: %+v", r.ID, r.Node, want[r.ID], rooms)
		}
	}
	ids := []string{r2, r3}
	slices.Sort(ids)
	for off, id := range ids {
		var page []adminRoom
		st, h := adminJSON(t, n1, "GET", "/v1/admin/rooms?limit=1&offset="+strconv.Itoa(off), "", &page)
		if st != http.StatusOK || h.Get("X-Total-Count") != "2" || len(page) != 1 || page[0].ID != id {
			t.Fatalf("page %d: %d total %q %+v, want %s", off, st, h.Get("X-Total-Count"), page, id)
		}
	}
	var only []adminRoom
	if st, h := adminJSON(t, n1, "GET", "/v1/admin/rooms?node="+n3.ID, "", &only); st != http.StatusOK || len(only) != 1 || only[0].ID != r3 || h.Get("X-Total-Count") != "1" {
		t.Fatalf("rooms of n3 through n1: %d %+v", st, only)
	}
	// A node asked for its own list (n2's monitor filtered by n2) answers
	// with its own rooms and players alone, not every node's.
	only = nil
	if st, h := adminJSON(t, n2, "GET", "/v1/admin/rooms?node="+n2.ID, "", &only); st != http.StatusOK || len(only) != 1 || only[0].ID != r2 || h.Get("X-Total-Count") != "1" {
		t.Fatalf("rooms of n2 through n2: %d %+v", st, only)
	}
	var own []adminPlayer
	if st, h := adminJSON(t, n2, "GET", "/v1/admin/players?node="+n2.ID, "", &own); st != http.StatusOK || len(own) != 2 || h.Get("X-Total-Count") != "2" {
		t.Fatalf("players of n2 through n2: %d %+v", st, own)
	}
	// A node id no node has (a typo) is refused at once, not waited for
	// as a node that does not answer: "no such node" is what the
	// registry's answer says, before any node is asked.
	if st, body := n1.AdminRequest(t, "GET", "/v1/admin/rooms?node=n9", nil); st != http.StatusNotFound || !strings.Contains(string(body), "no such node") {
		t.Fatalf("rooms of a node that is not there: %d %s, want 404 no such node", st, body)
	}
	// A search that matches nothing is an empty list, as on a single
	// node, not null.
	for _, path := range []string{"/v1/admin/rooms?game=nosuchgame", "/v1/admin/players?q=nosuchname"} {
		if st, body := n1.AdminRequest(t, "GET", path, nil); st != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
			t.Fatalf("%s across nodes: %d %s, want []", path, st, body)
		}
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms?q=arena", "", &only); st != http.StatusOK || len(only) != 1 || only[0].ID != r3 {
		t.Fatalf("search across nodes: %d %+v", st, only)
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms?offset=1990&limit=20", "", nil); st != http.StatusBadRequest {
		t.Fatalf("a merged page past its cap: %d", st)
	}

	// Every player, with its node.
	var players []adminPlayer
	if st, h := adminJSON(t, n1, "GET", "/v1/admin/players", "", &players); st != http.StatusOK || len(players) != 3 || h.Get("X-Total-Count") != "3" {
		t.Fatalf("players: %d %+v", st, players)
	}
	for _, p := range players {
		if wantNode := map[string]string{"ann": n2.ID, "bob": n2.ID, "cat": n3.ID}[p.Name]; p.Node != wantNode {
			t.Fatalf("player %+v, want on %s", p, wantNode)
		}
	}
	var one adminPlayer
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/players/"+players[2].UserID, "", &one); st != http.StatusOK || one.Node == "" || one.Name != players[2].Name {
		t.Fatalf("one player through n1: %d %+v", st, one)
	}
	// With n2 stalled (SIGSTOP), n1 asks only the node a player is on: a
	// player of n3 is found with no call to n2 (whose answer n1 would
	// wait out, 3 s a node: n1's calls are kept by a tap between it and
	// Redis, over which the nodes call each other), and one of n2 is
	// answered 503 naming it rather than "not online".
	uid := map[string]string{}
	for _, p := range players {
		uid[p.Name] = p.UserID
	}
	n2.Pause(t)
	tap.Record()
	start := time.Now()
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/players/"+uid["cat"], "", &one); st != http.StatusOK || one.Node != n3.ID || one.Name != "cat" {
		t.Fatalf("a player of n3 through n1 with n2 stalled: %d %+v", st, one)
	}
	t.Logf("a player of n3 through n1 with n2 stalled: %v", time.Since(start).Round(time.Millisecond))
	for _, call := range tap.Calls() {
		if strings.Contains(call, cluster.Keys{Prefix: cluster.DefaultPrefix}.BusNode(n2.ID)) && strings.Contains(call, uid["cat"]) {
			t.Fatalf("n1 asked the stalled n2 for a player of n3: %.300q", call)
		}
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/players/"+uid["ann"], "", nil); st != http.StatusServiceUnavailable {
		t.Fatalf("a player of the stalled n2 through n1: %d, want 503", st)
	}
	n2.Resume(t)

	// The room of n2, inspected through n1: its seats and its state.
	var detail adminRoom
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms/"+r2, "", &detail); st != http.StatusOK || detail.Node != n2.ID || len(detail.Seats) != 2 {
		t.Fatalf("room %s through n1: %d %+v", r2, st, detail)
	}
	var state struct {
		Room string `json:"room"`
		Game string `json:"game"`
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms/"+r2+"/state", "", &state); st != http.StatusOK || state.Room != r2 || state.Game != "gomoku" {
		t.Fatalf("state of %s through n1: %d %+v", r2, st, state)
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms/no-such-room", "", nil); st != http.StatusNotFound {
		t.Fatalf("unknown room through n1: %d", st)
	}

	// A notice to the room reaches both its players.
	var res struct {
		ID        string `json:"id"`
		Delivered int    `json:"delivered"`
	}
	if st, _ := adminJSON(t, n1, "POST", "/v1/admin/notify", `{"room_id":"`+r2+`","kind":"room","title":"closing soon"}`, &res); st != http.StatusOK || res.Delivered != 2 {
		t.Fatalf("notice to %s through n1: %d %+v", r2, st, res)
	}
	for _, p := range []*player{ann, bob} {
		if n := p.c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetNotification() != nil }).GetNotification(); n.Id != res.ID || n.Title != "closing soon" {
			t.Fatalf("%s: notification %v", p.name, n)
		}
	}

	// Closing it through n1: its players leave with ROOM_CLOSED, and it
	// leaves the listing.
	if st, _ := adminJSON(t, n1, "POST", "/v1/admin/rooms/"+r2+"/close", `{"reason":"maintenance"}`, nil); st != http.StatusOK {
		t.Fatalf("close %s through n1: %d", r2, st)
	}
	for _, p := range []*player{ann, bob} {
		left := p.c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetLeft() != nil }).GetLeft()
		if left.RoomId != r2 || left.Reason != tickroomv1.LeaveReason_LEAVE_REASON_ROOM_CLOSED {
			t.Fatalf("%s: left %v", p.name, left)
		}
	}
	waitUntil(t, 30*time.Second, "the closed room leaves n1's listing", func() bool {
		rooms = nil
		st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms", "", &rooms)
		return st == http.StatusOK && len(rooms) == 1 && rooms[0].ID == r3
	})

	// A kick through n1 of a player on n3.
	catID := ""
	for _, p := range players {
		if p.Name == "cat" {
			catID = p.UserID
		}
	}
	if st, _ := adminJSON(t, n1, "POST", "/v1/admin/players/"+catID+"/kick", `{"reason":"testing"}`, nil); st != http.StatusOK {
		t.Fatalf("kick of cat through n1: %d", st)
	}
	if code := cat.c.WaitClosed(); code != int(protocol.CloseKicked) {
		t.Fatalf("cat closed with %d, want %d", code, protocol.CloseKicked)
	}

	// /metrics of n1 counts the cluster.
	waitUntil(t, 30*time.Second, "n1's directory gauges", func() bool {
		m := metrics(t, n1)
		return m["tickroom_cluster_nodes"] == 3 && m["tickroom_cluster_sessions"] == 2 && m["tickroom_cluster_nodes_draining"] == 0 && m["tickroom_cluster_connections"] >= 2
	})

	// n3 crashes: until its registration expires, n1's listings name it
	// as a node that did not answer, and still list what the others have.
	n3.Kill(t)
	players = nil
	st, h := adminJSON(t, n1, "GET", "/v1/admin/players", "", &players)
	if st != http.StatusOK {
		t.Fatalf("players with n3 dead: %d", st)
	}
	if h.Get("X-Unreachable-Nodes") != n3.ID {
		// Only when n3 had already left the registry.
		nodes = nil
		adminJSON(t, n1, "GET", "/v1/admin/nodes", "", &nodes)
		if slices.ContainsFunc(nodes, func(n adminNode) bool { return n.ID == n3.ID }) {
			t.Fatalf("n3 listed but not named unreachable: %v", h)
		}
	}
	if len(players) != 2 || players[0].Node != n2.ID || players[1].Node != n2.ID {
		t.Fatalf("with n3 dead, n1 lists %+v, want ann and bob of n2", players)
	}

	// n2 is drained through n1: n1 lists it draining (or gone, once it
	// finished), and its process ends by itself.
	if st, _ := adminJSON(t, n1, "POST", "/v1/admin/nodes/no-such-node/drain", "", nil); st != http.StatusNotFound {
		t.Fatalf("drain of an unknown node: %d", st)
	}
	if st, _ := adminJSON(t, n1, "POST", "/v1/admin/nodes/"+n2.ID+"/drain?timeout=20s", "", nil); st != http.StatusAccepted {
		t.Fatalf("drain of n2 through n1: %d", st)
	}
	waitUntil(t, 30*time.Second, "n1 lists n2 draining, or no longer", func() bool {
		nodes = nil
		adminJSON(t, n1, "GET", "/v1/admin/nodes", "", &nodes)
		i := slices.IndexFunc(nodes, func(n adminNode) bool { return n.ID == n2.ID })
		return i < 0 || nodes[i].Draining
	})
	waitUntil(t, 40*time.Second, "n2 stops after its drain", func() bool { return !n2.Running() })
}

// TestOperatorViewWithoutRedis stops Redis under two nodes: n1's admin
// API still lists its own rooms and players, saying in X-Cluster-Error
// that the list is n1's alone; the node list and a room of n2 answer 503;
// the overview says why it lists no node. Once Redis is back, n1 lists
// both nodes' rooms again.
func TestOperatorViewWithoutRedis(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	r1 := createGameRoom(t, connect(t, n1, "ann"), "gomoku")
	r2 := createGameRoom(t, connect(t, n2, "bob"), "gomoku")
	var rooms []adminRoom
	waitUntil(t, 30*time.Second, "n1 lists both rooms", func() bool {
		rooms = nil
		st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms", "", &rooms)
		return st == http.StatusOK && len(rooms) == 2
	})

	c.Redis.Stop(t)
	rooms = nil
	st, h := adminJSON(t, n1, "GET", "/v1/admin/rooms", "", &rooms)
	if st != http.StatusOK || len(rooms) != 1 || rooms[0].ID != r1 || rooms[0].Node != n1.ID || !strings.Contains(h.Get("X-Cluster-Error"), "this node's alone") {
		t.Fatalf("rooms without Redis: %d %+v %q", st, rooms, h.Get("X-Cluster-Error"))
	}
	var players []adminPlayer
	if st, h := adminJSON(t, n1, "GET", "/v1/admin/players", "", &players); st != http.StatusOK || len(players) != 1 || players[0].Name != "ann" || h.Get("X-Cluster-Error") == "" {
		t.Fatalf("players without Redis: %d %+v", st, players)
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/nodes", "", nil); st != http.StatusServiceUnavailable {
		t.Fatalf("nodes without Redis: %d, want 503", st)
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms/"+r2, "", nil); st != http.StatusServiceUnavailable {
		t.Fatalf("a room of n2 without Redis: %d, want 503", st)
	}
	var o struct {
		Node       string            `json:"node"`
		Nodes      []json.RawMessage `json:"nodes"`
		NodesError string            `json:"nodes_error"`
	}
	if st, _ := adminJSON(t, n1, "GET", "/v1/admin/overview", "", &o); st != http.StatusOK || o.Node != n1.ID || len(o.Nodes) != 0 || o.NodesError == "" {
		t.Fatalf("overview without Redis: %d %+v", st, o)
	}

	c.Redis.Restart(t)
	c.WaitRegistered(t, 30*time.Second, n1.ID, n2.ID)
	waitUntil(t, 30*time.Second, "n1 lists both rooms again", func() bool {
		rooms = nil
		st, h := adminJSON(t, n1, "GET", "/v1/admin/rooms", "", &rooms)
		return st == http.StatusOK && len(rooms) == 2 && h.Get("X-Cluster-Error") == "" && h.Get("X-Unreachable-Nodes") == ""
	})
}

// TestOperatorListingOffsetOverflow: a merged listing checked
// offset+limit against its cap, and an offset near the largest int made
// that sum negative: the check passed and the node's own share was sliced
// with a negative bound, a panic that cut the operator's connection with
// no answer. Such a page is refused with 400 like any other past the cap.
func TestOperatorListingOffsetOverflow(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1 := c.Nodes()[0]
	createGameRoom(t, connect(t, n1, "ann"), "gomoku")
	for _, path := range []string{"/v1/admin/rooms", "/v1/admin/players"} {
		if st, _ := adminJSON(t, n1, "GET", path+"?offset="+strconv.Itoa(math.MaxInt), "", nil); st != http.StatusBadRequest {
			t.Fatalf("%s at the largest offset: %d, want 400", path, st)
		}
	}
}
