package store

import (
	"context"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/pgtest"
)

// TestPostgresChannelHistoriesWrittenAtOnceByTwoNodesStayBounded: in a
// cluster two nodes write lines into new lobby channels at the same
// moment, each through its own write queue, each transaction seeing its
// own new channel and not the other's: both find the bound passed by one
// and evict the same oldest channel, leaving one channel history over
// the bound. A write that adds a channel evicted only as many as it
// added, so that one stayed for good, and each such moment added one
// more; the next write that adds a channel sheds it.
func TestPostgresChannelHistoriesWrittenAtOnceByTwoNodesStayBounded(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	cfg := Config{URL: srv.NewDatabase(t), ChannelKeep: 2, ChannelHistories: 3}
	nodeA, nodeB := open(t, cfg), open(t, cfg)
	ctx := context.Background()
	for _, c := range []string{"c0", "c1", "c2"} {
		postLines(t, nodeA, c, 1)
	}

	// Hold c0's head, so that node A's write, which evicts c0, stops
	// before its commit, its new channel written.
	hold, err := nodeA.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback() //nolint:errcheck // rolled back below
	if _, err := hold.ExecContext(ctx, `SELECT channel FROM channel_heads WHERE channel = 'c0' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	waiting := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // a guard: the waits come at once
		for {
			var got int
			if err := nodeA.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes wait on a lock, want %d", got, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	write := func(db *DB, channel string) chan error {
		done := make(chan error, 1)
		go func() {
			done <- db.AppendLines(ctx, []Line{{Channel: channel, From: "mallory", Text: channel, At: time.Now()}})
		}()
		return done
	}
	doneA := write(nodeA, "new-a")
	waiting(1)
	doneB := write(nodeB, "new-b") // sees c0 still there, evicts it too
	waiting(2)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	for _, done := range []chan error{doneA, doneB} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	// The next new channel, on either node, brings them back to the bound.
	postLines(t, nodeA, "new-c", 1)
	if got := channelCounts(t, nodeA); len(got) > 3 {
		t.Fatalf("after two nodes' writes at once and one more: %d channels keep lines, want at most 3: %v", len(got), got)
	}
}
