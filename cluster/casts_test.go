package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// TestUnfriendingReachesAnotherNodeWhileTheLookupQueueIsFull: a block
// ends a friendship on both sides, the other user's side on its node,
// told by a cast. The cast went through the lookup queue, and while it
// was full (other requests waiting on Redis) it was refused: the
// friendship stood on the other node until that user's lists were read
// again. Here node a's lookup workers are held and their queue filled,
// and u blocks r of node b: r's node must drop the friendship.
func TestUnfriendingReachesAnotherNodeWhileTheLookupQueueIsFull(t *testing.T) {
	t.Parallel()
	lists := map[string][]string{"u": {"r"}, "r": {"u"}}
	rs := redistest.Start(t)
	a := startSocialNode(t, rs, "a", lists)
	b := startSocialNode(t, rs, "b", lists)
	b.login(t, "r", 1)
	m := a.login(t, "u", 1)
	online := tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
	waitFor(t, 10*time.Second, "u and r see each other online", func() bool {
		return a.host.status("u", "r") == online && b.host.status("r", "u") == online
	})

	holdLookups(t, a)
	if err := a.so.Block(m, 1, &tickroomv1.BlockUser{UserId: "r"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "u no longer a friend of r on node b", func() bool { return !b.so.IsFriend("r", "u") })
	if a.so.IsFriend("u", "r") {
		t.Fatal("u still counts r a friend after blocking it")
	}
}

// TestStaleDirectMessageCopyIsNotDeliveredOnAnotherNode: the copy of a
// direct message for its recipient's other nodes, queued while Redis
// stalled but before the node knew it (no heartbeat failed yet), waited
// for Redis and reached the other node once it answered, however late:
// a call's offer rang there for a call long ended. Here bob is connected
// on nodes a and b, and Redis stalls (SIGSTOP) for more than node a's
// CopyMaxAge while ada, his friend on a, messages him: his connection on
// b must never get that copy, counted lost on a, and gets the message
// ada sends once Redis answers again.
func TestStaleDirectMessageCopyIsNotDeliveredOnAnotherNode(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP), as the tests of
	// presenceretry_test.go.
	const maxAge = 500 * time.Millisecond
	lists := map[string][]string{"ada": {"bob"}, "bob": {"ada"}}
	shared := func(c *social.Config) { c.SharedUsers = true }
	rs := redistest.Start(t)
	a := startSocialNodeOf(t, rs, "a", lists, nodeOptions{dial: true, copyMaxAge: maxAge, social: shared})
	b := startSocialNodeOf(t, rs, "b", lists, nodeOptions{social: shared})
	ada := a.login(t, "ada", 1)
	a.login(t, "bob", 2)
	b.login(t, "bob", 3)
	waitFor(t, 10*time.Second, "the users' lists merged", func() bool {
		return a.loads.Load() == 2 && a.so.IsFriend("ada", "bob") && a.so.IsFriend("bob", "ada") && b.so.IsFriend("bob", "ada")
	})
	bobOnB := func(text string) bool { return slices.Contains(b.host.direct("bob"), text) }
	if r := sendDirect(t, a, ada, "ada", 1, "bob", "up"); r.GetOk() == nil {
		t.Fatalf("ada's message to bob, Redis up: %v, want Ok", r)
	}
	waitFor(t, 10*time.Second, "bob on b to get ada's message, Redis up", func() bool { return bobOnB("up") })
	lost := a.peers.CastsLost.Load()

	rs.Pause(t)
	if r := sendDirect(t, a, ada, "ada", 2, "bob", "stale"); r.GetOk() == nil {
		t.Fatalf("ada's message to bob, Redis stalled: %v, want Ok (bob is connected on her node)", r)
	}
	time.Sleep(3 * maxAge) // the copy outlives its bound, waiting on Redis
	rs.Resume(t)

	bus := a.peers.bus
	waitFor(t, 10*time.Second, "node a's bus to reach Redis again", bus.Healthy)
	if r := sendDirect(t, a, ada, "ada", 3, "bob", "fresh"); r.GetOk() == nil {
		t.Fatalf("ada's message to bob, Redis back: %v, want Ok", r)
	}
	// Copies go in order: "fresh" comes after "stale", or alone.
	waitFor(t, 15*time.Second, "bob on b to get ada's message sent once Redis answered again", func() bool { return bobOnB("fresh") })
	if got := b.host.direct("bob"); slices.Contains(got, "stale") {
		t.Fatalf("bob's connection on b got %q: the copy of a message queued %v before Redis answered again, past its bound of %v", got, 3*maxAge, maxAge)
	}
	if got := a.peers.CastsLost.Load() - lost; got != 1 {
		t.Fatalf("node a counted %d casts lost, want 1 (the stale copy)", got)
	}
}
