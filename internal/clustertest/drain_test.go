package clustertest

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// createGomoku makes a gomoku room without a move clock on p's node and
// returns its id.
func createGomoku(t *testing.T, p *player) string {
	t.Helper()
	r := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
		Game: "gomoku", Options: map[string]string{"move_seconds": "0"},
	}}})
	return joined(t, p.name, r).RoomId
}

// tick is the last tick p applied.
func (p *player) tick() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.Tick()
}

// moveTo follows the Redirect p got when its room moved and resumes its
// seat there; it returns the Redirect and the node's Welcome.
func (p *player) moveTo(t *testing.T, room string, seat uint32) (*tickroomv1.Redirect, *tickroomv1.Welcome) {
	t.Helper()
	r := p.c.Moved()
	if r.RoomId != room || r.Url == "" || r.NodeId == "" {
		t.Fatalf("%s: redirect %v, want room %s", p.name, r, room)
	}
	c, w, reply := p.c.Move(r, joinRoom(room, p.tick()))
	p.c = c
	if j := joined(t, p.name, reply); j.RoomId != room || j.Seat != seat || !j.Resumed {
		t.Fatalf("%s: after the move joined %v, want seat %d of %s resumed", p.name, j, seat, room)
	}
	return r, w
}

// migrations reads tickroom_room_migrations_total{result} from a node.
func migrations(t *testing.T, n *Node, result string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.Admin() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := `tickroom_room_migrations_total{result="` + result + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestDrainMigratesGomoku: two gomoku matches run on n1, with a few moves
// played; in the second, one player's connection has dropped. n1 gets
// SIGTERM. Both rooms move to the other nodes under the same ids: the
// connected players get a Redirect, resume their seats there and see the
// same board, and the first match is played to its end on its new node.
// The player who had dropped comes back afterwards through the node that
// does not host its room, is redirected to the one that does, and gets its
// seat and the board back; that match goes on too.
func TestDrainMigratesGomoku(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 3, Args: []string{"-drain-timeout", "30s"}})
	nodes := c.Nodes()
	n1 := nodes[0]
	byID := map[string]*Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}

	// Rooms made on n1 live on n1.
	a1, a2 := connect(t, n1, "a1"), connect(t, n1, "a2")
	b1, b2 := connect(t, n1, "b1"), connect(t, n1, "b2")
	roomA, roomB := createGomoku(t, a1), createGomoku(t, b1)
	if j := joined(t, "a2", a2.c.Request(joinRoom(roomA, 0))); j.Seat != 2 {
		t.Fatalf("a2 joined %v", j)
	}
	if j := joined(t, "b2", b2.c.Request(joinRoom(roomB, 0))); j.Seat != 2 {
		t.Fatalf("b2 joined %v", j)
	}
	a1.move(roomA, 1, 7, 7)
	a2.move(roomA, 2, 8, 8)
	a1.move(roomA, 1, 7, 8)
	b1.move(roomB, 1, 0, 0)
	b2.move(roomB, 2, 1, 1)
	waitUntil(t, 5*time.Second, "the boards seen", func() bool { return a2.stones() == 3 && b1.stones() == 2 })

	// b2's connection drops; its seat is held.
	b2.c.WS.Close()
	b1.c.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED
	})
	b2tick := b2.tick()

	termed := make(chan error, 1)
	go func() { termed <- n1.Term(t, 40*time.Second) }()

	// The connected players are sent on, each to its room's new node, and
	// resume their seats with the board as it was.
	rA, wA := a1.moveTo(t, roomA, 1)
	a2.moveTo(t, roomA, 2)
	rB, _ := b1.moveTo(t, roomB, 1)
	for _, r := range []*tickroomv1.Redirect{rA, rB} {
		to := byID[r.NodeId]
		if to == nil || to == n1 || r.Url != to.WSURL() || r.Reservation == "" {
			t.Fatalf("redirect %v: want another node's URL and a reservation", r)
		}
	}
	if len(wA.Seats) != 1 || wA.Seats[0].RoomId != roomA || wA.Seats[0].Seat != 1 {
		t.Fatalf("a1's welcome on %s holds seats %v, want seat 1 of %s", rA.NodeId, wA.Seats, roomA)
	}
	waitUntil(t, 5*time.Second, "the moved boards", func() bool {
		return a1.stones() == 3 && a2.stones() == 3 && b1.stones() == 2
	})
	if err := <-termed; err != nil {
		t.Fatalf("n1 exited with %v after its drain", err)
	}
	if !strings.Contains(n1.Log(), "drain: room moved") {
		t.Fatalf("n1 logged no move:\n%s", n1.Log())
	}

	// Match A goes on to its end on its new node: a1 makes five in a
	// column at x=7.
	for _, y := range []uint32{9, 10} {
		a2.move(roomA, 2, y, y)
		a1.move(roomA, 1, 7, y)
	}
	a2.move(roomA, 2, 11, 11)
	a1.move(roomA, 1, 7, 11)
	for _, p := range []*player{a1, a2} {
		end := p.c.Next(func(m *tickroomv1.ServerMessage) bool {
			return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
		}).GetRoomEvent().GetResult()
		if len(end.WinnerSeats) != 1 || end.WinnerSeats[0] != 1 {
			t.Fatalf("%s: result %v, want seat 1", p.name, end)
		}
	}

	// b2 comes back through the node that does not host room B: it is
	// redirected to the one that does and resumes its seat.
	var via *Node
	for _, n := range nodes[1:] {
		if n.ID != rB.NodeId {
			via = n
		}
	}
	seq := b2.seq
	b2 = connectAs(t, via, "b2", b2.c.Token)
	b2.seq = seq
	reply, hops := b2.follow(joinRoom(roomB, b2tick))
	if len(hops) != 1 || hops[0].NodeId != rB.NodeId || hops[0].Url != byID[rB.NodeId].WSURL() {
		t.Fatalf("b2's resume through %s: redirects %v, want one to %s", via.ID, hops, rB.NodeId)
	}
	if j := joined(t, "b2", reply); j.RoomId != roomB || j.Seat != 2 {
		t.Fatalf("b2 resumed %v, want seat 2 of %s", j, roomB)
	}
	waitUntil(t, 5*time.Second, "b2 sees the board", func() bool { return b2.stones() == 2 })
	b1.move(roomB, 1, 0, 1)
	b2.move(roomB, 2, 1, 2)
	waitUntil(t, 5*time.Second, "both see four stones", func() bool { return b1.stones() == 4 && b2.stones() == 4 })

	// The nodes that took the rooms count them.
	restored := 0.0
	for _, n := range nodes[1:] {
		restored += migrations(t, n, "restored")
	}
	if restored != 2 {
		t.Fatalf("rooms restored on n2 and n3: %v, want 2", restored)
	}
}

// TestDrainWithoutTargetFinishesHere: a node is drained through the admin
// API with no other node to take its gomoku match: the match stays, says
// why in the log, plays on during the drain, and is closed at the deadline
// while its players are still connected; nobody is redirected, and the
// node exits by itself.
func TestDrainWithoutTargetFinishesHere(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 1})
	n1 := c.Nodes()[0]
	a, b := connect(t, n1, "a"), connect(t, n1, "b")
	room := createGomoku(t, a)
	joined(t, "b", b.c.Request(joinRoom(room, 0)))
	a.move(room, 1, 7, 7)

	if code, body := n1.AdminRequest(t, "POST", "/v1/admin/drain?timeout=3s", nil); code != http.StatusAccepted {
		t.Fatalf("admin drain: %d %s", code, body)
	}
	waitUntil(t, 5*time.Second, "the node to say the room cannot move", func() bool {
		return strings.Contains(n1.Log(), "drain: rooms cannot move")
	})
	if n := migrations(t, n1, "failed"); n != 1 {
		t.Fatalf("migrations failed: %v, want 1", n)
	}
	b.move(room, 2, 8, 8) // the match plays on during the drain
	for _, p := range []*player{a, b} {
		end := p.c.Next(func(m *tickroomv1.ServerMessage) bool {
			if m.RequestId == 0 && m.GetRedirect() != nil {
				t.Fatalf("%s redirected: %v", p.name, m)
			}
			return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
		}).GetRoomEvent().GetResult()
		if end.Reason != "closed" {
			t.Fatalf("%s: result %v, want closed at the deadline", p.name, end)
		}
	}
	waitUntil(t, 30*time.Second, "n1 to exit after its drain", func() bool { return !n1.Running() })
}

// TestDrainMovesTheRoomsChat: a room's chat history stayed on the node a
// drain moved the room off, so the players who resumed on its new node got
// an empty ChatHistory. The saved room now carries the chat's lines, ids
// kept, and the node that takes the room opens its chat with them.
func TestDrainMovesTheRoomsChat(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-drain-timeout", "30s"}})
	n1 := c.Nodes()[0]
	a1, a2 := connect(t, n1, "a1"), connect(t, n1, "a2")
	room := createGomoku(t, a1)
	if j := joined(t, "a2", a2.c.Request(joinRoom(room, 0))); j.Seat != 2 {
		t.Fatalf("a2 joined %v", j)
	}
	// The drain moves a room whose match runs; the match starts at a tick
	// after the second join, which may come after the lines below.
	a1.c.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetPhase() == tickroomv1.RoomPhase_ROOM_PHASE_RUNNING
	})
	var said []*tickroomv1.Chat
	for _, text := range []string{"glhf", "nice move"} {
		if r := a1.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{RoomId: room, Text: text, ExcludeSender: true}}}); r.GetOk() == nil {
			t.Fatalf("a1's line: %v", r)
		}
		said = append(said, a2.c.Next(testclient.Is[*tickroomv1.ServerMessage_Chat]).GetChat())
	}

	termed := make(chan error, 1)
	go func() { termed <- n1.Term(t, 40*time.Second) }()
	for i, p := range []*player{a1, a2} {
		p.moveTo(t, room, uint32(i+1))
		h := p.c.Next(testclient.Is[*tickroomv1.ServerMessage_ChatHistory]).GetChatHistory()
		if h.RoomId != room || len(h.Lines) != len(said) {
			t.Fatalf("%s's history after the move: %v, want the %d lines said before it", p.name, h, len(said))
		}
		for j, l := range h.Lines {
			if l.Id != said[j].Id || l.Text != said[j].Text || l.FromUserId != said[j].FromUserId || l.RoomId != room {
				t.Fatalf("%s's history line %d after the move: %v, want %v", p.name, j, l, said[j])
			}
		}
	}
	if err := <-termed; err != nil {
		t.Fatalf("n1 exited with %v after its drain", err)
	}
	if r := a2.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{RoomId: room, Text: "thanks", ExcludeSender: true}}}); r.GetOk() == nil {
		t.Fatalf("a2's line after the move: %v", r)
	}
	if l := a1.c.Next(testclient.Is[*tickroomv1.ServerMessage_Chat]).GetChat(); l.Text != "thanks" || l.Id <= said[len(said)-1].Id {
		t.Fatalf("the line after the move: %v, want an id above %d", l, said[len(said)-1].Id)
	}
}
