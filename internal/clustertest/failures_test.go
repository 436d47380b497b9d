package clustertest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// errorCode returns the code of an Error reply, or 0.
func errorCode(m *tickroomv1.ServerMessage) tickroomv1.ErrorCode { return m.GetError().GetCode() }

// matchPair quick-matches two players, the first on a, the second on b,
// into one gomoku room and returns the room id.
func matchPair(t *testing.T, a, b *player) string {
	t.Helper()
	ra, _ := a.follow(quickMatch("gomoku"))
	rb, _ := b.follow(quickMatch("gomoku"))
	ja, jb := joined(t, a.name, ra), joined(t, b.name, rb)
	if ja.RoomId != jb.RoomId {
		t.Fatalf("%s in %s, %s in %s", a.name, ja.RoomId, b.name, jb.RoomId)
	}
	return ja.RoomId
}

// TestNodeCrashRoomLost: the node running a room is killed (-9). Its
// players, reconnecting through the other node, are told ROOM_LOST at
// once, both before its registration expires and after; the registration
// expires within the node's TTL and the room leaves every listing; a new
// quick-match makes a room on the live node instead of sending anyone to
// the dead one. The registration is held in Redis while a asks, so that
// its ROOM_LOST cannot come from the expiry: it is told once the other
// node finds the dead one's port closed, or never.
func TestNodeCrashRoomLost(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	// Both connect to n1 so that the room is there.
	a, b := connect(t, n1, "a"), connect(t, n1, "b")
	room := matchPair(t, a, b)
	if a.c.WS.RemoteAddr().String() != n1.WS() {
		t.Fatalf("a plays on %s, want n1 %s", a.c.WS.RemoteAddr(), n1.WS())
	}
	a.move(room, 1, 7, 7)

	n1.Kill(t)
	c.RegistrationExpires(t, n1.ID, cluster.DefaultTTL)
	release := c.HoldRegistration(t, n1.ID)
	a.c.WaitClosed()

	// a comes back through n2 at once and asks to resume.
	a2 := connectAs(t, n2, "a", a.c.Token)
	r, hops := a2.follow(joinRoom(room, 1))
	if len(hops) != 0 || errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LOST {
		t.Fatalf("resume through n2 right after the crash: %v (redirects %v), want ROOM_LOST", r, hops)
	}
	// A quick-match goes to the live node.
	rq, hops := a2.follow(quickMatch("gomoku"))
	if j := joined(t, "a", rq); j.RoomId == room || len(hops) != 0 {
		t.Fatalf("quick-match after the crash: %v, redirects %v", j, hops)
	}
	release()

	// Its expiry was checked above; the wait only catches one that never
	// comes.
	c.WaitGone(t, 10*cluster.DefaultTTL, n1.ID)
	// b reconnects later, after the registration expired.
	b2 := connectAs(t, n2, "b", b.c.Token)
	if r, _ := b2.follow(joinRoom(room, 1)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LOST {
		t.Fatalf("resume after expiry: %v, want ROOM_LOST", r)
	}
	waitUntil(t, 30*time.Second, "the lost room unlisted", func() bool {
		l := b2.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}).GetRoomList()
		if l == nil {
			return false // refused (the connection's ListRooms rate): no answer yet
		}
		for _, x := range l.GetRooms() {
			if x.RoomId == room {
				return false
			}
		}
		return true
	})
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, n *Node) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + n.Admin() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRedisRestart: Redis goes away mid-match. The players on both nodes
// keep playing; cluster-wide requests fail fast with UNAVAILABLE; /readyz
// says why. Redis comes back empty: both nodes register again and
// republish their rooms and seats from memory with no operator action,
// and quick-match works again.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	a, b := connect(t, n1, "a"), connect(t, n2, "b")
	room := matchPair(t, a, b)
	a.move(room, 1, 0, 0)
	b.move(room, 2, 0, 1)

	c.Redis.Stop(t)
	for _, n := range []*Node{n1, n2} {
		waitUntil(t, 30*time.Second, n.ID+" not ready without Redis", func() bool {
			code, body := readyz(t, n)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "redis")
		})
	}
	// The match goes on.
	a.move(room, 1, 1, 0)
	b.move(room, 2, 1, 1)
	// Cluster-wide requests fail and say why, rather than wait for
	// Redis: a stopped Redis refuses the connection, and each call has
	// its deadline (a second). The 30 s only catch a request that waits
	// for Redis to come back.
	d := connect(t, n2, "d")
	if r := d.c.RequestWithin(30*time.Second, quickMatch("gomoku")); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
		t.Fatalf("quick-match without Redis: %v, want UNAVAILABLE", r)
	}
	if r := d.c.RequestWithin(30*time.Second, &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
		t.Fatalf("list without Redis: %v, want UNAVAILABLE", r)
	}

	c.Redis.Restart(t)
	c.WaitRegistered(t, 30*time.Second, n1.ID, n2.ID)
	for _, n := range []*Node{n1, n2} {
		waitUntil(t, 30*time.Second, n.ID+" ready again", func() bool { code, _ := readyz(t, n); return code == http.StatusOK })
	}
	// The room is listed again, full, from the node's memory.
	waitUntil(t, 30*time.Second, "the room republished with its two players", func() bool {
		l := d.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Game: "gomoku"}}}).GetRoomList()
		return len(l.GetRooms()) == 1 && l.Rooms[0].RoomId == room && l.Rooms[0].Players == 2
	})
	a.move(room, 1, 2, 0)
	b.move(room, 2, 2, 1)
	// Its seats are counted again: a newcomer gets a room of its own.
	r, _ := d.follow(quickMatch("gomoku"))
	if j := joined(t, "d", r); j.RoomId == room {
		t.Fatal("quick-match after the restart overfilled the running room")
	}
	_ = testclient.Is[*tickroomv1.ServerMessage_Error]
}

// TestLocalJoinWhileTheDirectoryIsBehind: Redis loses its data (a restart
// that comes back empty, here FLUSHALL) and, until the node's next
// heartbeat registers it again and republishes its rooms, the directory
// knows nothing of them. A player resuming a room of the node it is
// connected to is served from the room itself, as when Redis does not
// answer at all, not refused with ROOM_NOT_FOUND: the room is right
// there.
func TestLocalJoinWhileTheDirectoryIsBehind(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 1})
	n1 := c.Nodes()[0]
	rdb := c.Redis.Client(t)
	a, b := connect(t, n1, "a"), connect(t, n1, "b")
	room := matchPair(t, a, b)
	a.move(room, 1, 0, 0)
	b.move(room, 2, 0, 1)
	ctx := context.Background()
	for try := 0; ; try++ {
		// a drops and comes back, on the room's node.
		a.c.WS.Close()
		a.c.WaitClosed()
		nc, _, err := testclient.Dial(t, n1.WSURL(), a.c.Token, testclient.Options{Label: "a", OnState: a.onState})
		if err != nil {
			t.Fatal(err)
		}
		nc.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
		a.c = nc
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		r := a.c.Request(joinRoom(room, a.tick()))
		if n, err := rdb.Exists(ctx, cluster.Keys{Prefix: cluster.DefaultPrefix}.Node(n1.ID)).Result(); err != nil || n == 1 {
			// The heartbeat registered the node again before the join
			// reached Redis: try once more.
			if try < 5 {
				continue
			}
			t.Fatalf("the node registered again before every try (%v)", err)
		}
		if j := r.GetJoined(); j == nil || !j.Resumed || j.Seat != 1 {
			t.Fatalf("resume on the room's node while the directory is empty: %v, want Joined, resumed in seat 1", r)
		}
		break
	}
	a.move(room, 1, 1, 0)
}

// reservedQuickMatch has player a on c's first node make a gomoku room
// and player b on its second quick-match, redirected there with a
// reservation; b's connection to the second node is closed. It returns
// b, the room, the redirect and the quick-match.
func reservedQuickMatch(t *testing.T, c *Cluster) (b *player, room string, rd *tickroomv1.Redirect, qm *tickroomv1.ClientMessage) {
	t.Helper()
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	a := connect(t, n1, "a")
	b = connect(t, n2, "b")
	room = createGomoku(t, a) // on n1, a's node
	qm = &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{
		Game: "gomoku", Options: map[string]string{"move_seconds": "0"},
	}}}
	rd = b.c.Request(qm).GetRedirect()
	if rd == nil || rd.NodeId != n1.ID || rd.RoomId != room || rd.Reservation == "" {
		t.Fatalf("b's quick-match on n2: redirect %v, want one to n1 for %s", rd, room)
	}
	b.c.WS.Close()
	return b, room, rd, qm
}

// TestQuickMatchReservationHonouredWithoutRedis: a quick-match redirected
// to the node of an open room, whose player reconnects there while Redis
// is out of reach, is served there (protocol/README.md: the node a
// reservation names honours it even when Redis is briefly unreachable),
// not refused with UNAVAILABLE.
func TestQuickMatchReservationHonouredWithoutRedis(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	b, room, rd, qm := reservedQuickMatch(t, c)

	c.Redis.Stop(t)
	nc, _, err := testclient.Dial(t, rd.Url, b.c.Token, testclient.Options{Label: "b"})
	if err != nil {
		t.Fatal(err)
	}
	nc.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	qm.GetQuickMatch().Reservation = rd.Reservation
	r := nc.Request(qm)
	if j := r.GetJoined(); j == nil || j.RoomId != room || j.Seat != 2 {
		t.Fatalf("b's quick-match on n1 with its reservation, Redis down: %v, want Joined in seat 2 of %s", r, room)
	}
}

// TestCreationsRefusedWithoutRedisCostNothing: a CreateRoom refused with
// UNAVAILABLE because Redis is out of reach (its room could not be
// listed, and was closed) gives its cost back to the creator's budget:
// more such refusals than the budget holds never turn into RATE_LIMITED,
// and once Redis is back the creator makes a room at once.
func TestCreationsRefusedWithoutRedisCostNothing(t *testing.T) {
	t.Parallel()
	// A gomoku room costs 1 unit; a budget of 3 that refills one a
	// thousand seconds.
	c := Start(t, Config{Nodes: 1, Args: []string{"-room-create-burst", "3", "-room-create-rate", "0.001"}})
	n := c.Nodes()[0]
	a := connect(t, n, "a")
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
		Game: "gomoku", Options: map[string]string{"move_seconds": "0"},
	}}}
	c.Redis.Stop(t)
	for i := range 5 {
		r := a.c.Request(create)
		if code := r.GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
			t.Fatalf("creation %d with Redis down: %v, want ERROR_CODE_UNAVAILABLE", i+1, r)
		}
	}
	c.Redis.Restart(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := a.c.Request(create)
		if r.GetJoined() != nil {
			return
		}
		if code := r.GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE || time.Now().After(deadline) {
			t.Fatalf("creation once Redis is back: %v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
