package cluster

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
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
