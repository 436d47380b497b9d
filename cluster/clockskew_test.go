package cluster

import (
	"context"
	"testing"
	"time"

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
	b.login(t, "bob", 1)
	waitFor(t, 10*time.Second, "bob's list read", func() bool { return b.loads.Load() == 1 })
	a.login(t, "ada", 1)
	online, offline := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE, tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
	waitFor(t, 10*time.Second, "bob sees ada online", func() bool { return b.host.status("bob", "ada") == online })

	b.peers.WatchNodes(nb.Nodes, nb.LocalTime, nb.Heartbeat(), time.Second)
	time.Sleep(10 * nb.Heartbeat()) // ten polls of the live nodes
	if s := b.host.status("bob", "ada"); s != online {
		t.Fatalf("with a's clock a minute ahead, bob sees ada, connected to a, %v; want %v", s, online)
	}
	// The watch runs: once a is gone, bob is told ada is offline.
	if err := na.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob told ada is offline once a is gone", func() bool { return b.host.status("bob", "ada") == offline })
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
	b.login(t, "bob", 1)
	waitFor(t, 10*time.Second, "bob's list read", func() bool { return b.loads.Load() == 1 })
	a.login(t, "ada", 1)
	online, offline := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE, tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
	waitFor(t, 10*time.Second, "bob sees ada online", func() bool { return b.host.status("bob", "ada") == online })

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
	// The watch runs: once a is gone, bob is told ada is offline.
	if err := na.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "bob told ada is offline once a is gone", func() bool { return b.host.status("bob", "ada") == offline })
}
