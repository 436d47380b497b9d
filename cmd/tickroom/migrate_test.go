package main

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/syncbuf"
)

// TestBinarySignalDuringAMigrationStops: the store's migrations run to
// their end (an index over a large table, or another node's migration
// waited for, up to 5 minutes), and the binary catches SIGTERM and SIGINT
// from before it opens the store, so a signal meanwhile did nothing until
// they were done: an operator's Ctrl-C on a node waiting for the
// migration lock was ignored for minutes. The binary now stops at once.
func TestBinarySignalDuringAMigrationStops(t *testing.T) {
	bin := buildBinary(t)
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	ctx := context.Background()
	// Another node migrating: it holds goose's migration lock.
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, "SELECT pg_advisory_lock(4097083626)"); err != nil {
		t.Fatal(err)
	}
	cmd, stderr, exited := startOnDatabase(t, bin, url)
	time.Sleep(time.Second) // waiting for the lock
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(stderr.String(), "signal during the start") {
			t.Fatalf("exit %v after SIGTERM during the start, stderr:\n%s", err, stderr)
		}
	case <-time.After(15 * time.Second):
		// Minutes before; the start's own bound is startStopWait (10 s),
		// what a loaded machine's cancel on the database may take.
		t.Fatalf("still running 15 s after SIGTERM, waiting for another node's migration; stderr:\n%s", stderr)
	}
}

// TestBinarySignalDuringAMigrationLetsTheLockGo: a SIGTERM while a
// migration statement ran (here one waiting for a table lock another
// session holds, as a long index build would run) ended the process at
// once, but not the statement: the server went on with it, and its
// session kept the migration lock, so the next node to start waited for a
// migration nobody would finish (the lock was still held after the
// binary had exited). Now the signal cancels the start: the statement is
// cancelled on the server, the migration rolls back, and the lock is let
// go before the process exits. A node killed outright (SIGKILL) cannot
// cancel anything: the server notices its closed connection within a
// second and ends the session, where the lock stayed until the statement
// ended.
func TestBinarySignalDuringAMigrationLetsTheLockGo(t *testing.T) {
	bin := buildBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			srv := pgtest.Start(t)
			url := srv.NewDatabase(t)
			ctx := context.Background()
			migrateTo(t, url, 5)
			// An older node's transaction holds a table version 6 alters.
			other, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close(ctx)
			if _, err := other.Exec(ctx, "BEGIN; LOCK TABLE standings IN ACCESS SHARE MODE"); err != nil {
				t.Fatal(err)
			}
			// Looks at the server from outside other's transaction, whose
			// view of pg_stat_activity stays as it was at its start.
			admin, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(ctx)
			cmd, stderr, exited := startOnDatabase(t, bin, url)
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				var n int
				if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DROP INDEX%'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the migration to version 6 is not waiting for the table; stderr:\n%s", stderr)
				}
			}
			_ = cmd.Process.Signal(sig)
			if err := <-exited; err == nil {
				t.Fatalf("exit status 0 after %v during a migration", sig)
			}
			holder := func() string {
				var h string
				err := admin.QueryRow(ctx, `SELECT l.pid || ' ' || coalesce(a.query, '') FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
					WHERE l.locktype = 'advisory' AND l.granted AND l.objid = 4097083626`).Scan(&h)
				if err == pgx.ErrNoRows {
					return ""
				}
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			if sig == syscall.SIGKILL {
				for deadline := time.Now().Add(20 * time.Second); holder() != ""; time.Sleep(50 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("20 s after the node was killed, the migration lock is held by %s", holder())
					}
				}
			} else {
				if h := holder(); h != "" {
					t.Fatalf("after the binary exited on %v, the migration lock is still held by %s; stderr:\n%s", sig, h, stderr)
				}
				if !strings.Contains(stderr.String(), "migration cancelled: version 6") {
					t.Errorf("stderr does not say the migration was cancelled:\n%s", stderr)
				}
			}
			var v int
			if err := admin.QueryRow(ctx, "SELECT max(version_id) FROM tickroom_schema_version").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != 5 {
				t.Fatalf("schema at version %d after the migration was stopped, want 5", v)
			}
		})
	}
}

// migrateTo brings the database at url to version v of the store's
// PostgreSQL migrations, as an older tickroom left it.
func migrateTo(t *testing.T, url string, v int64) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("../../store/migrations/postgres"),
		goose.WithDisableGlobalRegistry(true), goose.WithTableName("tickroom_schema_version"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

// startOnDatabase starts bin on the PostgreSQL database url, on ports of
// its own; it returns the process, its stderr and its exit, and kills it
// when the test ends.
func startOnDatabase(t *testing.T, bin, url string) (*exec.Cmd, *syncbuf.Buffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-database", url)
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, stderr, exited
}
