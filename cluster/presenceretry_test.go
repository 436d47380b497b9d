package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// TestPresenceReachesAFriendOnAnotherNodeAfterRedisStalls: a presence
// cast whose lookup on Redis (where is the friend?) failed was made
// three times, 100 ms apart, then dropped, so a Redis that stalled for a
// moment (busy, or its host loaded: each lookup timing out) left the
// friend on another node never told, the node's registration never
// lapsing to have it told again. Here Redis stalls for 1.5 s, node a's
// lookups timing out after 100 ms, while u logs in on a: its friend r on
// node b must see it online once Redis answers again.
func TestPresenceReachesAFriendOnAnotherNodeAfterRedisStalls(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP); it runs alone, before
	// the parallel tests.
	lists := map[string][]string{"u": {"r"}, "r": {"u"}}
	rs := redistest.Start(t)
	a := startSocialNodeOf(t, rs, "a", lists, nodeOptions{usersTimeout: 100 * time.Millisecond, dial: true})
	b := startSocialNode(t, rs, "b", lists)
	b.login(t, "r", 1)
	waitFor(t, 10*time.Second, "node b's user's list read", func() bool { return b.loads.Load() == 1 })
	// u's session is recorded before Redis stalls, as the hub does when it
	// takes the login.
	if _, err := a.users.Claim(context.Background(), "u", 1, time.Now(), false); err != nil {
		t.Fatal(err)
	}

	const stall = 1500 * time.Millisecond
	rs.Pause(t)
	c := new(server.Conn)
	a.host.mu.Lock()
	a.host.users[c] = "u"
	a.host.mu.Unlock()
	a.so.Welcomed(a.so.Connect("u", "", c))
	time.Sleep(stall) // the stall itself, while a's lookups time out
	rs.Resume(t)

	online := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
	waitFor(t, 15*time.Second, "r sees u online or u's cast lost", func() bool {
		return b.host.status("r", "u") == online || a.peers.PushesLost.Load() > 0
	})
	if lost := a.peers.PushesLost.Load(); lost > 0 {
		t.Fatalf("after Redis stalled %v: presence casts lost on node a: %d; r sees u %v, want %v", stall, lost, b.host.status("r", "u"), online)
	}
}
