package cluster

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
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

// TestPresenceOfManyUsersTravelsTogether: the presence casts waiting to
// be sent each made a Redis lookup and a bus message of their own, one
// user after another, so that a mass login of users of few friends each
// trailed on a loaded host by as many round trips. Here 100 users of one
// friend, r on node b, log in on node a while a's background lookups are
// all taken (a busy node), their casts waiting: once they are free, r
// must see every one online, told in a few messages, not one a user.
func TestPresenceOfManyUsersTravelsTogether(t *testing.T) {
	t.Parallel()
	const users = 100
	lists := friendsOfR(users)
	rs := redistest.Start(t)
	a := startSocialNode(t, rs, "a", lists)
	var casts atomic.Int64
	b := startSocialNodeOf(t, rs, "b", lists, nodeOptions{casts: &casts})
	b.login(t, "r", 1)
	waitFor(t, 10*time.Second, "node b's user's list read", func() bool { return b.loads.Load() == 1 })

	for range bgLookups {
		a.peers.bgSlots <- struct{}{}
	}
	for i := range users {
		a.login(t, fmt.Sprint("u", i), uint64(i+1))
	}
	for range bgLookups {
		<-a.peers.bgSlots
	}

	online := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
	waitFor(t, 15*time.Second, "r sees every user of node a online", func() bool {
		for i := range users {
			if b.host.status("r", fmt.Sprint("u", i)) != online {
				return false
			}
		}
		return true
	})
	// Each sender's first entry, taken before the lookups were free, then
	// the rest of its share together (8), and a few more for the
	// presences cast again meanwhile (a login's answers coming in): far
	// from one a user.
	if got, most := casts.Load(), int64(users/4); got > most {
		t.Fatalf("the presence of %d users logged in at once was told to node b in %d messages, want at most %d", users, got, most)
	}
}

// TestPresenceReachesAFriendOnAnotherNodeWhenItsPublishIsRefused: a
// presence cast whose lookup on Redis answered was handed to the bus and
// forgotten, so a Redis that stalled just then left the friend on another
// node never told, nothing counted lost: the bus refuses messages while it
// knows Redis down. Here Redis stalls right after node a found where u's
// friend r is, and other traffic has the bus mark it down before the cast
// is handed on: once Redis answers again, r on node b must see u online.
func TestPresenceReachesAFriendOnAnotherNodeWhenItsPublishIsRefused(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP), as the test above.
	lists := map[string][]string{"u": {"r"}, "r": {"u"}}
	rs := redistest.Start(t)
	a := startSocialNodeOf(t, rs, "a", lists, nodeOptions{dial: true})
	b := startSocialNode(t, rs, "b", lists)
	b.login(t, "r", 1)
	waitFor(t, 10*time.Second, "node b's user's list read", func() bool { return b.loads.Load() == 1 })

	bus := a.peers.bus
	lookedUp, goOn := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() {
		once.Do(func() {
			close(lookedUp)
			<-goOn
		})
	}
	a.peers.lookedUp.Store(&hook)
	a.login(t, "u", 1)
	select {
	case <-lookedUp:
	case <-time.After(10 * time.Second):
		t.Fatal("u's presence cast was not looked up within 10 s")
	}
	rs.Pause(t)
	// Other traffic finds Redis silent, and the bus marks it down.
	_ = bus.ToAll(&Envelope{Kind: "none"})
	waitFor(t, 10*time.Second, "node a's bus to mark Redis down", func() bool { return !bus.Healthy() })
	close(goOn)
	waitFor(t, 10*time.Second, "node a's bus to refuse a message", func() bool { return bus.Dropped.Load() > 0 })
	rs.Resume(t)

	online := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
	deadline := time.Now().Add(12 * time.Second)
	for b.host.status("r", "u") != online && a.peers.PushesLost.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := b.host.status("r", "u"); got != online {
		t.Fatalf("12 s after Redis answered again: r sees u %v, want %v; presence casts lost on node a: %d; bus messages refused on a: %d, failed: %d",
			got, online, a.peers.PushesLost.Load(), bus.Dropped.Load(), bus.Failed.Load())
	}
}

// TestPresenceResentAfterAMoveLeavesTheUserOnline: a user whose presence
// cast failed to publish, and who then moved to another node, is not told
// offline by the resend of the node it left: its friend keeps seeing it
// online, from the node it is on now.
func TestPresenceResentAfterAMoveLeavesTheUserOnline(t *testing.T) {
	// v's casts go through u's pusher, so that they wait behind u's.
	v := ""
	for i := 0; ; i++ {
		if v = fmt.Sprint("v", i); maphash.String(shardSeed, v)%pushers == maphash.String(shardSeed, "u")%pushers {
			break
		}
	}
	lists := map[string][]string{"u": {"r"}, v: {"r"}, "r": {"u", v}}
	rs := redistest.Start(t)
	a := startSocialNodeOf(t, rs, "a", lists, nodeOptions{dial: true})
	b := startSocialNode(t, rs, "b", lists)
	c := startSocialNode(t, rs, "c", lists)
	c.login(t, "r", 1)
	waitFor(t, 10*time.Second, "c reads r", func() bool { return c.loads.Load() == 1 })

	bus := a.peers.bus
	lookedUp, goOn := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() { once.Do(func() { close(lookedUp); <-goOn }) }
	a.peers.lookedUp.Store(&hook)
	m := a.login(t, "u", 1)
	<-lookedUp
	a.login(t, v, 2)
	rs.Pause(t)
	close(goOn) // u's cast is taken by the bus and fails to publish
	waitFor(t, 10*time.Second, "u's cast to fail to publish", func() bool { return bus.Failed.Load() > 0 })
	// The resend waits until u has moved to b and r was told so.
	release := make(chan struct{})
	hold := func() { <-release }
	a.peers.lookedUp.Store(&hold)
	a.so.Moved(m)
	a.so.Disconnect(m)
	rs.Resume(t)
	b.login(t, "u", 3)
	online := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
	waitFor(t, 10*time.Second, "r to see u online, from b", func() bool { return c.host.status("r", "u") == online })
	close(release)
	// Nothing to wait for: the resend would have told r within this.
	time.Sleep(3 * time.Second)
	if got := c.host.status("r", "u"); got != online {
		t.Fatalf("u is online on b, and r on c sees u %v after a's resend; a: publishes failed %d, refused %d, presence casts lost %d",
			got, bus.Failed.Load(), bus.Dropped.Load(), a.peers.PushesLost.Load())
	}
}

// friendsOfR returns the friend lists of n users u0… and r, the friend of
// each.
func friendsOfR(n int) map[string][]string {
	lists := map[string][]string{}
	for i := range n {
		u := fmt.Sprint("u", i)
		lists[u] = []string{"r"}
		lists["r"] = append(lists["r"], u)
	}
	return lists
}
