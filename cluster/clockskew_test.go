package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestFriendsOfANodeWhoseClockRunsAheadStayOnline: node a's clock runs a
// minute ahead of b's, and a started moments ago (a node restarted, its
// players back on it). Node b takes the presences it was told before a
// node's start for its previous process's (NodesLive), and compared the
// time it noted them, on its own clock, with a's start, on a's: every
// user of a that b's users were told is online was pushed to them as
// offline, though connected to a. The watch still takes a's users
// offline once a is gone.
func TestFriendsOfANodeWhoseClockRunsAheadStayOnline(t *testing.T) {
	t.Parallel()
	lists := map[string][]string{"ada": {"bob"}, "bob": {"ada"}}
	rs := redistest.Start(t)
	na := startNodeClock(t, rs, "a", func() time.Time { return time.Now().Add(time.Minute) })
	nb := startNode(t, rs, "b")
	a := startSocialNode(t, rs, "a", lists)
	b := startSocialNode(t, rs, "b", lists)
	online, _ := bobSeesAda(t, a, b)

	b.peers.WatchNodes(nb.Nodes, nb.LocalTime, nb.Heartbeat(), time.Second)
	time.Sleep(10 * nb.Heartbeat()) // ten polls of the live nodes
	if s := b.host.status("bob", "ada"); s != online {
		t.Fatalf("with a's clock a minute ahead, bob sees ada, connected to a, %v; want %v", s, online)
	}
	bobToldAdaOfflineOnceAIsGone(t, na, b)
}

// TestFriendsOfANodeStayOnlineBeforeThisNodesClockIsMeasured: node b's
// clock runs a minute behind Redis's, and b cannot register yet (the
// registration of a process that ran under its id lives on), so it has
// not measured the offset. Node a started moments ago. The start of a,
// on Redis's clock, was taken as it was on b's, the presences b noted
// since looked older than it, and the friends on b of a's users were
// shown them offline though connected to a; once b had measured the
// offset, the start it took before stayed as it was.
func TestFriendsOfANodeStayOnlineBeforeThisNodesClockIsMeasured(t *testing.T) {
	t.Parallel()
	lists := map[string][]string{"ada": {"bob"}, "bob": {"ada"}}
	rs := redistest.Start(t)
	behind := func() time.Time { return time.Now().Add(-time.Minute) }
	na := startNode(t, rs, "a")
	prev := startNode(t, rs, "b") // a process that holds b's id
	nb := startNodeOn(t, rs, "b", behind)
	a := startSocialNode(t, rs, "a", lists)
	b := startSocialNodeOf(t, rs, "b", lists, nodeOptions{clock: behind})
	online, _ := bobSeesAda(t, a, b)

	b.peers.WatchNodes(nb.Nodes, nb.LocalTime, nb.Heartbeat(), time.Second)
	time.Sleep(10 * nb.Heartbeat()) // ten polls of the live nodes
	if nb.Registrations() != 0 {
		t.Fatal("b registered while another process held its id")
	}
	if s := b.host.status("bob", "ada"); s != online {
		t.Fatalf("with b's clock a minute behind, before b measured it, bob sees ada, connected to a, %v; want %v", s, online)
	}
	if err := prev.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitRegistered(t, nb)
	time.Sleep(10 * nb.Heartbeat())
	if s := b.host.status("bob", "ada"); s != online {
		t.Fatalf("with b's clock a minute behind, once b measured it, bob sees ada, connected to a, %v; want %v", s, online)
	}
	bobToldAdaOfflineOnceAIsGone(t, na, b)
}

// TestFriendsOfANodeRolledBackSeeItsUsersOffline: node a crashes and is
// started again at once from a binary of an older version (a rollback),
// which writes no "up" but its own "started" over the registration the
// crashed process left. The "up" left behind was taken for the node's
// start: no restart was seen, and the friends on b of the users noted
// from the crashed process went on seeing them online.
func TestFriendsOfANodeRolledBackSeeItsUsersOffline(t *testing.T) {
	t.Parallel()
	lists := map[string][]string{"ada": {"bob"}, "bob": {"ada"}}
	rs := redistest.Start(t)
	na := startNode(t, rs, "a")
	nb := startNode(t, rs, "b")
	a := startSocialNode(t, rs, "a", lists)
	b := startSocialNode(t, rs, "b", lists)
	online, offline := bobSeesAda(t, a, b)
	b.peers.WatchNodes(nb.Nodes, nb.LocalTime, nb.Heartbeat(), time.Second)
	waitFor(t, 10*time.Second, "a's up written", func() bool {
		nodes, err := nb.Nodes(context.Background())
		return err == nil && len(nodes) == 2 && !nodes[0].Up.IsZero()
	})
	time.Sleep(5 * nb.Heartbeat()) // five polls of the live nodes
	if s := b.host.status("bob", "ada"); s != online {
		t.Fatalf("bob sees ada, connected to a, %v; want %v", s, online)
	}

	// a crashes: its heartbeat stops without a goodbye.
	na.mu.Lock()
	close(na.stop)
	na.running = false
	na.mu.Unlock()
	<-na.done
	// An older binary starts at once under a's id and writes its
	// registration over the one left.
	rdb := rs.Client(t)
	ctx := context.Background()
	key := na.Keys().Node("a")
	if err := rdb.HSet(ctx, key, "id", "a", "ws", na.WebSocketURL(), "started", time.Now().UnixMilli(), "seen", time.Now().UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.PExpire(ctx, key, time.Minute)
	rdb.ZAdd(ctx, na.Keys().Nodes(), redis.Z{Score: float64(time.Now().Add(time.Minute).UnixMilli()), Member: "a"})
	waitFor(t, 5*time.Second, "bob told ada, connected to a's crashed process, is offline once a runs an older binary", func() bool {
		return b.host.status("bob", "ada") == offline
	})
}

// TestFriendsOfAnOlderNodeStayOnlineWhateverRedisClock: node c, of an
// older version, writes no "up": its start is its "started", on its own
// clock, which agrees with b's, both a minute ahead of Redis's. Node b
// turned it into its own clock as if it were on Redis's: c's start
// looked a minute later than it was, and the friends on b of c's users
// were shown them offline though connected.
func TestFriendsOfAnOlderNodeStayOnlineWhateverRedisClock(t *testing.T) {
	t.Parallel()
	lists := map[string][]string{"cal": {"bob"}, "bob": {"cal"}}
	rs := redistest.Start(t)
	ahead := func() time.Time { return time.Now().Add(time.Minute) }
	nb := startNodeClock(t, rs, "b", ahead)
	// The older node c, started moments ago on its clock.
	rdb := rs.Client(t)
	ctx := context.Background()
	key := nb.Keys().Node("c")
	if err := rdb.HSet(ctx, key, "id", "c", "ws", "ws://127.0.0.1:1/v1/ws", "started", ahead().UnixMilli(), "seen", time.Now().UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.PExpire(ctx, key, time.Minute)
	rdb.ZAdd(ctx, nb.Keys().Nodes(), redis.Z{Score: float64(time.Now().Add(time.Minute).UnixMilli()), Member: "c"})
	b := startSocialNodeOf(t, rs, "b", lists, nodeOptions{clock: ahead})
	c := startSocialNodeOf(t, rs, "c", lists, nodeOptions{clock: ahead})
	b.login(t, "bob", 1)
	waitFor(t, 10*time.Second, "bob's list read", func() bool { return b.loads.Load() == 1 })
	c.login(t, "cal", 1)
	online := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
	waitFor(t, 10*time.Second, "bob sees cal online", func() bool { return b.host.status("bob", "cal") == online })

	b.peers.WatchNodes(nb.Nodes, nb.LocalTime, nb.Heartbeat(), time.Second)
	time.Sleep(10 * nb.Heartbeat()) // ten polls of the live nodes
	if s := b.host.status("bob", "cal"); s != online {
		t.Fatalf("with b's and the older c's clocks a minute ahead of Redis's, bob sees cal, connected to c, %v; want %v", s, online)
	}
}

// bobSeesAda logs bob in on b and ada on a, friends, and waits until bob
// sees ada online. It returns the online and offline statuses.
func bobSeesAda(t *testing.T, a, b *socialNode) (online, offline tickroomv1.PresenceStatus) {
	t.Helper()
	b.login(t, "bob", 1)
	waitFor(t, 10*time.Second, "bob's list read", func() bool { return b.loads.Load() == 1 })
	a.login(t, "ada", 1)
	online, offline = tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE, tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
	waitFor(t, 10*time.Second, "bob sees ada online", func() bool { return b.host.status("bob", "ada") == online })
	return online, offline
}

// bobToldAdaOfflineOnceAIsGone closes node a and waits until bob, on b,
// is told ada is offline: the watch of the live nodes runs.
func bobToldAdaOfflineOnceAIsGone(t *testing.T, na *Node, b *socialNode) {
	t.Helper()
	if err := na.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob told ada is offline once a is gone", func() bool {
		return b.host.status("bob", "ada") == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
	})
}
