package clustertest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestRedisSilentPartition freezes Redis (SIGSTOP): alive, its port open,
// answering nothing, as behind a network partition that drops packets.
// The match on n1 goes on, move after move; a direct message to a user of
// the other node and a join of a room listed on the other node are refused
// with ERROR_CODE_UNAVAILABLE instead of hanging;
// /readyz answers 503 with the reason. The pause lasts past the
// registration TTL, so when Redis resumes both registrations have expired:
// each node registers again by itself, the rooms of both are listed again,
// and direct messages cross nodes again.
func TestRedisSilentPartition(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP); it runs alone, before the
	// parallel tests.
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	// a and b play on n1; e's room is on n2.
	a, b := connect(t, n1, "a"), connect(t, n1, "b")
	room := matchPair(t, a, b)
	e := connect(t, n2, "e")
	other := createGomoku(t, e)
	ada, _ := connectUser(t, n1, "ada")
	bob, bobID := connectUser(t, n2, "bob")
	d := connect(t, n1, "d")
	reachUntil(t, ada, bobID, bob)
	waitUntil(t, 30*time.Second, "n2's room listed on n1", func() bool {
		return listed(d, other)
	})
	// Stones two apart on two rows: nobody makes five.
	x := uint32(0)
	play := func() {
		t.Helper()
		a.move(room, 1, x, 0)
		b.move(room, 2, x, 4)
		x += 2
	}
	play()

	c.Redis.Pause(t)
	paused := time.Now()
	for _, n := range []*Node{n1, n2} {
		waitUntil(t, 30*time.Second, n.ID+" not ready while Redis is silent", func() bool {
			code, body := readyz(t, n)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "redis")
		})
	}
	play()
	// The paused Redis never answers: a request is answered at all only
	// as the node knows Redis silent, or by its calls' deadlines (a
	// second or two). The 30 s only catch a request that waits for good.
	unavailable := func(what string, c *testclient.Client, m *tickroomv1.ClientMessage) {
		t.Helper()
		start := time.Now()
		r := c.RequestWithin(30*time.Second, m)
		if errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
			t.Fatalf("%s while Redis is silent: %v, want UNAVAILABLE", what, r)
		}
		t.Logf("%s refused after %v", what, time.Since(start).Round(time.Millisecond))
	}
	unavailable("direct message to a user on n2", ada, &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{
		SendDirect: &tickroomv1.SendDirect{ToUserId: bobID, Text: "across"},
	}})
	play()
	unavailable("join of n2's room from n1", d.c, joinRoom(other, 0))
	play()
	// Hold the partition past the registration TTL; the match goes on.
	for time.Since(paused) < cluster.DefaultTTL+time.Second {
		time.Sleep(500 * time.Millisecond)
	}
	play()
	if code, _ := readyz(t, n1); code != http.StatusServiceUnavailable {
		t.Fatalf("n1 /readyz %d while Redis is silent", code)
	}

	c.Redis.Resume(t)
	resumed := time.Now()
	c.WaitRegistered(t, 30*time.Second, n1.ID, n2.ID)
	for _, n := range []*Node{n1, n2} {
		waitUntil(t, 30*time.Second, n.ID+" ready again", func() bool { code, _ := readyz(t, n); return code == http.StatusOK })
	}
	waitUntil(t, 30*time.Second, "both nodes' rooms listed again", func() bool {
		return listed(d, room, other)
	})
	// Their registrations had expired: each registered afresh and
	// republished what it holds, rather than refreshing a live key.
	for _, n := range []*Node{n1, n2} {
		waitUntil(t, 30*time.Second, n.ID+" registered again", func() bool {
			return strings.Contains(n.Log(), "registered again after losing Redis")
		})
	}
	t.Logf("registered and listed again %v after the resume", time.Since(resumed).Round(time.Millisecond))
	play()
	// Direct messages cross nodes again: send until one reaches bob.
	deadline := time.Now().Add(20 * time.Second)
	for got := false; !got; {
		sendUntil(t, ada, bobID, 0)
		for _, m := range bob.Drain(300 * time.Millisecond) {
			if dm := m.GetDirectMessage(); dm != nil && dm.FromName == "ada" {
				t.Logf("bob got %q", dm.Text)
				got = got || dm.Text == "ping"
			}
		}
		if !got && time.Now().After(deadline) {
			t.Fatal("no direct message reached bob across nodes after Redis resumed")
		}
	}
	// And the room on n2 can be joined from n1 again, through its node.
	r, hops := d.follow(joinRoom(other, 0))
	if j := joined(t, "d", r); j.RoomId != other || len(hops) != 1 {
		t.Fatalf("join of n2's room after the partition: %v, redirects %v", j, hops)
	}
}

// listed reports whether one ListRooms of p's shows every room of rooms:
// one request a poll, since a connection's ListRooms have a rate (20 at
// once, then 4 a second) and two a poll would leave the second refused for
// every token the first takes.
func listed(p *player, rooms ...string) bool {
	l := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "gomoku"}}}).GetRoomList()
	seen := 0
	for _, x := range l.GetRooms() {
		if slices.Contains(rooms, x.RoomId) {
			seen++
		}
	}
	return seen == len(rooms)
}
