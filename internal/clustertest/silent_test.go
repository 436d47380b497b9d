package clustertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// silentRedis pauses c's Redis (a silent partition: it takes the nodes'
// calls and answers none) and waits until n's heartbeat has found it
// silent (/readyz 503 naming Redis).
func silentRedis(t *testing.T, c *Cluster, n *Node) {
	t.Helper()
	c.Redis.Pause(t)
	waitUntil(t, 10*time.Second, n.ID+" not ready while Redis is silent", func() bool {
		code, body := readyz(t, n)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "redis")
	})
}

// TestOwnNodeJoinsWhileRedisIsSilent: while Redis takes calls and answers
// none, a JoinRoom of a room on the player's own node, with its password
// or without, waited out the directory's reservation of the seat, a Redis
// timeout (a second), before the room let it in all the same: 8 joins
// took 8 s and more. Once the node's heartbeat has found Redis silent
// the reservation is not asked for, the room's own seats and password
// decide at once: 8 joins take far less than half a timeout each, however
// loaded the machine, and a wrong password is still refused.
func TestOwnNodeJoinsWhileRedisIsSilent(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP) and bounds the time the
	// joins take; it runs alone, before the parallel tests.
	c := Start(t, Config{Nodes: 2})
	n1 := c.Nodes()[0]
	const joins = 8
	rooms, passwords := make([]string, joins), make([]string, joins)
	joiners := make([]*player, joins)
	for i := range joins {
		keeper := connect(t, n1, fmt.Sprintf("keeper%d", i))
		if i%2 == 1 {
			passwords[i] = "sesame"
		}
		r := keeper.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
			Game: "gomoku", Password: passwords[i],
		}}})
		rooms[i] = joined(t, keeper.name, r).RoomId
		joiners[i] = connect(t, n1, fmt.Sprintf("joiner%d", i))
	}
	join := func(i int, password string) *tickroomv1.ServerMessage {
		return joiners[i].c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{
			RoomId: rooms[i], Password: password,
		}}})
	}

	silentRedis(t, c, n1)
	if r := join(1, "guess"); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
		t.Fatalf("a wrong password while Redis is silent: %v, want WRONG_PASSWORD", r)
	}
	start := time.Now()
	for i := range joins {
		if j := joined(t, joiners[i].name, join(i, passwords[i])); j.Seat != 2 {
			t.Fatalf("%s joined %s in seat %d, want 2", joiners[i].name, rooms[i], j.Seat)
		}
	}
	took, most := time.Since(start), joins*cluster.DefaultTimeout/2
	t.Logf("%d joins while Redis was silent took %v", joins, took.Round(time.Millisecond))
	if took >= most {
		t.Fatalf("%d joins of rooms on the player's node while Redis was silent took %v, want less than half a Redis timeout each (%v)", joins, took.Round(time.Millisecond), most)
	}
}

// TestQuickMatchReservationWhileRedisIsSilent: a quick-match redirected to
// the node of an open room, whose player comes there with its reservation
// while Redis takes calls and answers none, waited out a Redis timeout in
// each of the reservation's check, the cluster-wide match and the seat's
// reservation before the room there took it (3 s and more). Once the
// node's heartbeat has found Redis silent none of them is asked: it is
// served there at once, in less than one timeout however loaded the
// machine.
func TestQuickMatchReservationWhileRedisIsSilent(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP) and bounds the time the
	// quick-match takes; it runs alone, before the parallel tests.
	c := Start(t, Config{Nodes: 2})
	n1 := c.Nodes()[0]
	b, room, rd, qm := reservedQuickMatch(t, c)
	nc, _, err := testclient.Dial(t, rd.Url, b.c.Token, testclient.Options{Label: "b"})
	if err != nil {
		t.Fatal(err)
	}
	nc.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])

	silentRedis(t, c, n1)
	qm.GetQuickMatch().Reservation = rd.Reservation
	start := time.Now()
	r := nc.Request(qm)
	took := time.Since(start)
	t.Logf("the quick-match while Redis was silent took %v", took.Round(time.Millisecond))
	if j := r.GetJoined(); j == nil || j.RoomId != room || j.Seat != 2 {
		t.Fatalf("b's quick-match on n1 with its reservation, Redis silent: %v, want Joined in seat 2 of %s", r, room)
	}
	if took >= cluster.DefaultTimeout {
		t.Fatalf("b's quick-match with its reservation while Redis was silent took %v, want less than one Redis timeout (%v)", took.Round(time.Millisecond), cluster.DefaultTimeout)
	}
}
