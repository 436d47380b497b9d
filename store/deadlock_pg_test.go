package store

import (
	"context"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/pgtest"
)

// TestPostgresLockOfALostWriteIsLetGo: a write whose connection was lost
// mid-commit without the server seeing it (a network cut) leaves its
// session idle inside its transaction, holding its queue's batch mark. The
// server ends such a session after Config.IdleInTransaction, so the
// queue's next batches, which take that mark first, are written again
// rather than each waiting out its timeout until the server's TCP
// keepalive notices the dead client (about two hours by default).
func TestPostgresLockOfALostWriteIsLetGo(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	db := open(t, Config{URL: srv.NewDatabase(t), IdleInTransaction: time.Second})
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	line := func(seq int64) *Batch {
		return &Batch{Lines: []Line{{Channel: "lobby", From: "amy", FromName: "amy", Text: "hi", At: at}}, writer: "q1", seq: seq}
	}
	if err := db.Write(ctx, line(1)); err != nil {
		t.Fatal(err)
	}
	// The lost write: its mark taken, its transaction never ended.
	lost, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lost.Rollback() //nolint:errcheck // the server ended it
	if _, err := db.markBatch(ctx, lost, line(2)); err != nil {
		t.Fatal(err)
	}
	// The server ends the lost session after IdleInTransaction (1 s);
	// the 15 s, fifteen times that, only catch a mark held until the
	// server's TCP keepalive (hours).
	start := time.Now()
	for seq := int64(3); ; seq++ {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := db.Write(wctx, line(seq))
		cancel()
		if err == nil {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("the queue's batches still not written %v after a write was lost holding its mark: %v", time.Since(start).Round(time.Second), err)
		}
	}
}
