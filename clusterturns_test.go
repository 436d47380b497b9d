package tickroom_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestQuickMatchTurnsAreOneAUser: a quick-match that finds no open room
// takes its pool's turn in Redis (tickroom:poolturn:<pool>, 1 s) and, sent
// to a less loaded node to make the room there, leaves it for that node
// to end. A client that quick-matched in ever new pools (its options make
// the pool: up to 16 of 256 bytes) and never followed the Redirects left
// a key for each, made no room, and spent none of its creation budget:
// 100 of them in a tenth of a second. A user holds one turn: taking
// another ends its last.
func TestQuickMatchTurnsAreOneAUser(t *testing.T) {
	t.Parallel()
	a, _, rdb := twoNodes(t, raceDefinition())
	mallory := dial(t, a, "mallory")
	_ = dial(t, a, "filler") // node a has more connections: new rooms go to node b
	ctx := context.Background()
	turns := func() int {
		t.Helper()
		keys, err := rdb.Client(t).Keys(ctx, "tickroom:poolturn:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	quickMatch := func(i int) *tickroomv1.ServerMessage {
		opts := map[string]string{"n": fmt.Sprint(i), "pad": strings.Repeat("x", 250)}
		return mallory.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race", Options: opts}}})
	}
	// Once a heartbeat told node a's connections, each quick-match is
	// sent to node b.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ns, err := a.Cluster().Nodes(ctx)
		if err == nil && len(ns) == 2 && max(ns[0].Conns, ns[1].Conns) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node registrations %+v, %v: want node a's 2 connections told", ns, err)
		}
	}
	for i := range 100 {
		if m := quickMatch(i); m.GetRedirect() == nil {
			t.Fatalf("quick-match %d: %v, want a Redirect to node b", i, m)
		}
	}
	if n := turns(); n > 1 {
		t.Fatalf("after 100 quick-matches of mallory's in new pools, none followed: %d pool turns in Redis, want at most 1", n)
	}
}
