package store

import (
	"context"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/pgtest"
)

// TestPostgresInboxAckKeepsAMessageCommittedAfterTheRead: in a cluster two
// nodes keep direct messages for one offline user, each through its own
// write queue, and PostgreSQL hands out ids as the rows are inserted, not
// as they commit: a message may commit after a newer id was already read.
// Acknowledging what was read must not delete it, or the recipient never
// gets it.
func TestPostgresInboxAckKeepsAMessageCommittedAfterTheRead(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	db := open(t, Config{URL: srv.NewDatabase(t)})
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)

	// Node A's batch: its message inserted (its id taken), not committed.
	slow, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback() //nolint:errcheck // committed below
	if _, err := slow.ExecContext(ctx, `INSERT INTO inbox (to_id, from_id, from_name, text, at_ms) VALUES ($1, $2, $3, $4, $5)`,
		"bob", "amy", "Amy", "from node A", ms(at)); err != nil {
		t.Fatal(err)
	}
	// Node B's batch, written meanwhile, with a newer id.
	if err := db.AppendLines(ctx, []Line{{To: "bob", From: "cat", FromName: "Cat", Text: "from node B", At: at}}); err != nil {
		t.Fatal(err)
	}
	// Bob logs in: his inbox is read, then node A's batch commits, then
	// what was read is acknowledged.
	read, err := db.Inbox(ctx, "bob")
	if err != nil || len(read) != 1 || read[0].Text != "from node B" {
		t.Fatalf("Inbox = %+v, %v; want node B's message", read, err)
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.AckInbox(ctx, "bob", inboxIDs(read)); err != nil {
		t.Fatal(err)
	}
	left, err := db.Inbox(ctx, "bob")
	if err != nil || len(left) != 1 || left[0].Text != "from node A" {
		t.Fatalf("after acknowledging node B's message, Inbox = %+v, %v; want node A's message, never delivered, still kept", left, err)
	}
}

func inboxIDs(ls []Line) []int64 {
	ids := make([]int64, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	return ids
}
