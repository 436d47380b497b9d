package clustertest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// player is a test user with its room state.
type player struct {
	t    *testing.T
	name string
	c    *testclient.Client

	mu  sync.Mutex
	st  statesync.Store
	seq uint32
}

// connect logs name in on node and connects there.
func connect(t *testing.T, n *Node, name string) *player {
	t.Helper()
	tok, _ := n.Login(t, name)
	return connectAs(t, n, name, tok)
}

// connectAs connects to node with a session token (the same user again).
func connectAs(t *testing.T, n *Node, name, tok string) *player {
	t.Helper()
	p := &player{t: t, name: name}
	c, _, err := testclient.Dial(t, n.WSURL(), tok, testclient.Options{Label: name, OnState: p.onState})
	if err != nil {
		t.Fatalf("%s connecting to %s: %v", name, n.ID, err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	p.c = c
	return p
}

func (p *player) onState(s *tickroomv1.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.Keyframe {
		p.st.Reset()
	}
	_, err := p.st.Apply(s.Keyframe, s.Tick, s.BaseTick, s.Patch)
	return err
}

func (p *player) ack(seat uint32) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, _ := p.st.AckFor(seat)
	return v
}

func (p *player) stones() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.st.Entities())
}

// follow sends m, following redirects.
func (p *player) follow(m *tickroomv1.ClientMessage) (*tickroomv1.ServerMessage, []*tickroomv1.Redirect) {
	p.t.Helper()
	c, reply, hops := p.c.Follow(m)
	p.c = c
	return reply, hops
}

// move plays a gomoku stone and waits until the room acknowledged it.
func (p *player) move(room string, seat, x, y uint32) {
	p.t.Helper()
	p.seq++
	b, _ := (&gomokuv1.Move{X: x, Y: y}).MarshalVT()
	p.c.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room, Seq: p.seq, Data: b}}})
	waitUntil(p.t, 10*time.Second, p.name+"'s move acknowledged", func() bool { return p.ack(seat) == p.seq })
}

func quickMatch(game string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: game}}}
}

func joinRoom(room string, resumeTick uint64) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, ResumeTick: resumeTick}}}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func joined(t *testing.T, who string, m *tickroomv1.ServerMessage) *tickroomv1.Joined {
	t.Helper()
	j := m.GetJoined()
	if j == nil {
		t.Fatalf("%s: reply %v, want Joined", who, m)
	}
	return j
}

// TestQuickMatchAcrossNodes: two players connected to different nodes
// quick-match gomoku; the second is redirected to the node of the room
// the first made, and they play a match to its end. The room is listed on
// both nodes, with its node's players.
func TestQuickMatchAcrossNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	black := connect(t, n1, "black")
	white := connect(t, n2, "white")

	// Black makes a room on the least-loaded node (n1 or n2, as the
	// heartbeats saw the loads); white, on n2, joins it there.
	rb, hopsB := black.follow(quickMatch("gomoku"))
	jb := joined(t, "black", rb)
	home := n1
	if len(hopsB) == 1 && hopsB[0].NodeId == n2.ID && hopsB[0].RoomId == "" && hopsB[0].Url == n2.WSURL() {
		home = n2
	} else if len(hopsB) != 0 {
		t.Fatalf("black's redirects: %v", hopsB)
	}
	rw, hopsW := white.follow(quickMatch("gomoku"))
	jw := joined(t, "white", rw)
	switch home {
	case n1:
		if len(hopsW) != 1 || hopsW[0].Url != n1.WSURL() || hopsW[0].RoomId != jb.RoomId || hopsW[0].NodeId != n1.ID || hopsW[0].ExpiresInMs == 0 || hopsW[0].Reservation == "" {
			t.Fatalf("white's redirects: %v, want one to %s for room %s", hopsW, n1.WSURL(), jb.RoomId)
		}
	case n2:
		if len(hopsW) != 0 {
			t.Fatalf("white redirected away from the room's node: %v", hopsW)
		}
	}
	if jw.RoomId != jb.RoomId || jb.Seat != 1 || jw.Seat != 2 {
		t.Fatalf("black in %s seat %d, white in %s seat %d", jb.RoomId, jb.Seat, jw.RoomId, jw.Seat)
	}
	room := jb.RoomId

	// The room, full now, is listed on either node.
	for _, n := range []*Node{n1, n2} {
		p := connect(t, n, "lister-"+n.ID)
		l := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "gomoku"}}}).GetRoomList()
		if l == nil || len(l.Rooms) != 1 || l.Rooms[0].RoomId != room || l.Rooms[0].MaxPlayers != 2 {
			t.Fatalf("listing on %s: %v", n.ID, l)
		}
		waitUntil(t, 5*time.Second, "both players listed", func() bool {
			l := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "gomoku"}}}).GetRoomList()
			return len(l.GetRooms()) == 1 && l.Rooms[0].Players == 2 // nil when refused for the connection's ListRooms rate
		})
		free := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "gomoku", FreeSeatsOnly: true}}}).GetRoomList()
		if len(free.GetRooms()) != 0 {
			t.Fatalf("a full room listed with free seats on %s: %v", n.ID, free)
		}
	}

	// Each node's /metrics has the directory gauges; one redirect was
	// counted, on the node that sent a player away.
	redirects := 0.0
	for _, n := range []*Node{n1, n2} {
		m := metrics(t, n)
		if m["tickroom_cluster_nodes"] != 2 || m["tickroom_cluster_rooms"] != 1 || m["tickroom_cluster_redis_up"] != 1 {
			t.Fatalf("%s metrics: nodes %v, rooms %v, redis up %v", n.ID, m["tickroom_cluster_nodes"], m["tickroom_cluster_rooms"], m["tickroom_cluster_redis_up"])
		}
		redirects += m["tickroom_redirects_total"]
		// The social layer's counts are exported, nothing lost or
		// refused in a game of two.
		for _, name := range []string{"tickroom_cluster_presence_casts_lost_total", "tickroom_cluster_lookups_refused_total", "tickroom_cluster_presence_casts_waiting", "tickroom_cluster_casts_lost_total", "tickroom_cluster_casts_waiting", "tickroom_cluster_presence_questions_waiting"} {
			if v, ok := m[name]; !ok || v != 0 {
				t.Fatalf("%s metrics: %s %v (exported: %v), want 0", n.ID, name, v, ok)
			}
		}
	}
	if redirects != float64(len(hopsB)+len(hopsW)) {
		t.Fatalf("redirects counted %v, followed %d", redirects, len(hopsB)+len(hopsW))
	}

	// They play to a win: black five in a row on y=0.
	for i := uint32(0); i < 4; i++ {
		black.move(room, 1, i, 0)
		white.move(room, 2, i, 1)
	}
	black.move(room, 1, 4, 0)
	for _, p := range []*player{black, white} {
		end := p.c.Next(func(m *tickroomv1.ServerMessage) bool {
			return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
		}).GetRoomEvent().GetResult()
		if len(end.WinnerSeats) != 1 || end.WinnerSeats[0] != 1 {
			t.Fatalf("%s: result %v, want black", p.name, end)
		}
	}
	waitUntil(t, 5*time.Second, "both see nine stones", func() bool { return black.stones() == 9 && white.stones() == 9 })
}

// metrics reads a node's /metrics into name → value for unlabelled series.
func metrics(t *testing.T, n *Node) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.Admin() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err == nil {
			out[name] = v
		}
	}
	return out
}
