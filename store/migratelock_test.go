package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/syncbuf"
)

// TestPostgresCancelledMigrationLetsTheLockGo: a start cancelled while a
// migration statement ran (a signal during a long index build) cut the
// connection on the client's side only: the server went on with the
// statement, and its session kept the migration lock until the statement
// ended, so the next node to start waited for a migration nobody would
// finish (here the lock was still held by the server process running
// pg_sleep after Open had returned). A waiting node's log named the
// holder by its server pid alone. Now the cancellation reaches the
// statement (a cancel request), the migration's transaction rolls back
// and the lock is let go before Open returns; a waiting node names the
// holder's application_name, address and statement, and gives up past
// its bound with ErrLocked saying the same.
func TestPostgresCancelledMigrationLetsTheLockGo(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	one := "-- +goose Up\nCREATE TABLE one (id INTEGER PRIMARY KEY);\n"
	slow := fstest.MapFS{
		"00001_one.sql":  {Data: []byte(one)},
		"00002_slow.sql": {Data: []byte("-- +goose Up\nCREATE TABLE two (id INTEGER);\nSELECT pg_sleep(600);\n")},
	}

	// Node a migrates, slowly.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	migrating := make(chan error, 1)
	go func() {
		db, err := Open(ctx, Config{URL: url + "&application_name=node-a", migrations: slow})
		if err == nil {
			db.Close()
		}
		migrating <- err
	}()
	waitFor(t, "node a's migration running pg_sleep", func() bool {
		var n int
		err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()`).Scan(&n)
		return err == nil && n == 1
	})

	// Node b waits for it, says for whom, and gives up past its bound.
	logs := &syncbuf.Buffer{}
	_, err = Open(context.Background(), Config{URL: url, migrations: slow, lockWait: 2e9, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), `"node-a"`) || !strings.Contains(err.Error(), "pg_sleep(600)") {
		t.Errorf("Open while node a migrates, past the wait's bound: %v, want ErrLocked naming node-a and its statement", err)
	}
	if l := logs.String(); !strings.Contains(l, "held_by=node-a") || !strings.Contains(l, "holder_query=") || !strings.Contains(l, "pg_sleep(600)") {
		t.Errorf("node b's log does not say who holds the lock and what it runs:\n%s", l)
	}
	t.Logf("node b: %v\n%s", err, logs)

	// Node a's start is cancelled mid-statement.
	cancel()
	err = <-migrating
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the schema stays at version 1") {
		t.Errorf("Open cancelled mid-migration: %v, want context.Canceled and the schema at version 1", err)
	}
	t.Logf("node a: %v", err)
	var holders []string
	rows, err := admin.Query(`SELECT l.pid || ' ' || coalesce(a.state, '') || ' ' || coalesce(a.query, '') FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = $1`, int64(migrationLockID&0xffffffff))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		holders = append(holders, h)
	}
	rows.Close()
	if len(holders) > 0 {
		t.Fatalf("after the cancelled Open returned, the migration lock is still held: %q", holders)
	}
	var two sql.NullString
	if err := admin.QueryRow(`SELECT to_regclass('two')::text`).Scan(&two); err != nil {
		t.Fatal(err)
	}
	if two.Valid {
		t.Errorf("the cancelled migration left its table behind")
	}

	// The next node migrates at once.
	fast := fstest.MapFS{
		"00001_one.sql":  {Data: []byte(one)},
		"00002_fast.sql": {Data: []byte("-- +goose Up\nCREATE TABLE two (id INTEGER);\n")},
	}
	db, err := Open(context.Background(), Config{URL: url, migrations: fast})
	if err != nil {
		t.Fatalf("Open after the cancelled migration: %v", err)
	}
	defer db.Close()
	if v := db.SchemaVersion(); v != 2 {
		t.Fatalf("schema %d after the next node's start, want 2", v)
	}
}
