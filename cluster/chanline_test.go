package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestChannelLineWhosePublishTimedOutIsDeliveredOnce: a lobby channel
// line whose publish timed out (Redis silent) is delivered by the
// sender's node to its members at once; Redis, answering again, runs the
// publish it was sent meanwhile, and the node delivered the line a second
// time as it came back. Each member gets it once.
func TestChannelLineWhosePublishTimedOutIsDeliveredOnce(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startSocialNodeOf(t, rs, "a", nil, nodeOptions{dial: true})
	ann, bob := a.login(t, "ann", 1), a.login(t, "bob", 2)
	if err := a.so.JoinChannel(ann, 1, "lobby"); err != nil {
		t.Fatal(err)
	}
	if err := a.so.JoinChannel(bob, 1, "lobby"); err != nil {
		t.Fatal(err)
	}
	bus := a.peers.bus
	waitFor(t, 10*time.Second, "node a subscribed to the lobby", func() bool {
		bus.mu.Lock()
		defer bus.mu.Unlock()
		return bus.subbed["lobby"]
	})
	say := func(text string) {
		t.Helper()
		if err := a.so.SendChat(ann, 2, &tickroomv1.SendChat{Channel: "lobby", Text: text}); err != nil {
			t.Fatalf("ann says %q: %v", text, err)
		}
	}
	got := func(text string) func() bool {
		return func() bool { return slices.Contains(a.host.chat("bob"), text) }
	}
	say("before")
	waitFor(t, 10*time.Second, "bob gets ann's first line", got("before"))

	rs.Pause(t)
	say("while silent")
	waitFor(t, 10*time.Second, "bob gets ann's line whose publish timed out", got("while silent"))
	rs.Resume(t)
	// Redis runs the publish it was sent while silent: its counter says
	// so. A line published after it reaches the node after it.
	rdb := rs.Client(t)
	waitFor(t, 10*time.Second, "Redis to run the publish it was sent while silent", func() bool {
		n, err := rdb.Get(context.Background(), a.peers.bus.keys.ChannelSeq("lobby")).Int()
		return err == nil && n == 2
	})
	waitFor(t, 10*time.Second, "the bus to reach Redis again", bus.Healthy)
	say("after")
	waitFor(t, 10*time.Second, "bob gets ann's line after Redis answered again", got("after"))
	if lines, want := a.host.chat("bob"), []string{"before", "while silent", "after"}; !slices.Equal(lines, want) {
		t.Fatalf("bob, in the lobby with ann, was sent %q; want %q", lines, want)
	}
}

// TestLinesOutAreBounded: the marks of a node's lobby lines on their way
// through Redis were dropped only as each line came back, or 10 minutes
// on; with the node's subscription down (or its channels left) none came
// back, and the marks grew with the node's line rate for 10 minutes (up
// to 20 lines a second on each of 1,000 channels). Past linesOutMax the
// oldest marks are dropped: a line whose mark was dropped is delivered as
// it comes back, and the newest still once.
func TestLinesOutAreBounded(t *testing.T) {
	t.Parallel()
	var l linesOut
	first := l.add()
	last := first
	for range linesOutMax + 1000 {
		last = l.add()
	}
	l.mu.Lock()
	n := len(l.out)
	l.mu.Unlock()
	if n > linesOutMax {
		t.Fatalf("%d lines sent, none come back: %d marks kept, want at most %d", linesOutMax+1001, n, linesOutMax)
	}
	if !l.back(first) {
		t.Fatal("the oldest line, its mark dropped, was not delivered as it came back")
	}
	if !l.failed(last) || l.back(last) {
		t.Fatal("the newest line, its publish failed, was not delivered once")
	}
}
