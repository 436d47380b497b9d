package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/syncbuf"
)

// The failures an operator meets, each a clear error at open.

func TestSQLiteCorruptFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, damage := range map[string]func(path string) error{
		"not a database": func(path string) error {
			return os.WriteFile(path, []byte(strings.Repeat("this is not a SQLite file\n", 400)), 0o600)
		},
		"header damaged": func(path string) error {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("garbage garbage!"), 0) // the 16-byte magic string
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := open(t, Config{Dir: dir})
			db.Close()
			if err := damage(filepath.Join(dir, sqliteFile)); err != nil {
				t.Fatal(err)
			}
			_, err := Open(ctx, Config{Dir: dir})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Join(dir, sqliteFile)) {
				t.Fatalf("Open on a damaged file: %v, want ErrCorrupt naming the file", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestSQLiteLockedByAnotherWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, Config{Dir: dir})
	db.Close()
	// Another program (a backup tool, an sqlite3 shell) holds an exclusive
	// lock on the file.
	conn := lockSQLite(t, dir)
	_, err := Open(ctx, Config{Dir: dir, BusyTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open on a locked file: %v, want ErrLocked", err)
	}
	t.Logf("error: %v", err)
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	db = open(t, Config{Dir: dir, BusyTimeout: 100 * time.Millisecond})
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping once the lock is gone: %v", err)
	}
}

// TestSQLiteLockedDuringAMigration: with a migration pending (the first
// start of a new version), a file another program held locked failed the
// open as "migration failed: version 6 … SQLITE_BUSY", an ErrMigration
// that reads as a broken migration, where the same lock at any other
// start gives ErrLocked ("database is locked: <path>"), as Open's
// documentation and docs/store.md promise. It is ErrLocked (and still
// names the migration) now.
func TestSQLiteLockedDuringAMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	all, err := fs.Sub(migrationFiles, "migrations/"+BackendSQLite)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(all, "*.sql")
	if err != nil || len(names) < 2 {
		t.Fatalf("migrations %v: %v", names, err)
	}
	// The SQL migrations before the first Go one (a test's migrations
	// replace the Go ones too, and goose refuses a schema missing one
	// below its version): those after are pending.
	older := sqlMigrationsBefore(t, BackendSQLite, 7)
	db := open(t, Config{Dir: dir, migrations: older})
	db.Close()
	conn := lockSQLite(t, dir)
	_, err = Open(ctx, Config{Dir: dir, BusyTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !errors.Is(err, ErrMigration) {
		t.Fatalf("Open with a migration pending on a locked file: %v, want ErrLocked (and ErrMigration)", err)
	}
	t.Logf("error: %v", err)
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	db = open(t, Config{Dir: dir, BusyTimeout: 100 * time.Millisecond})
	last, err := strconv.ParseInt(strings.SplitN(names[len(names)-1], "_", 2)[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if v, want := db.SchemaVersion(), max(last, compatKeysVersion); v != want {
		t.Fatalf("schema %d once the lock is gone, want %d", v, want)
	}
}

func TestSQLiteDataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := open(t, Config{Dir: dir})
	_, err := Open(context.Background(), Config{Dir: dir})
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), "process") {
		t.Fatalf("second Open of one data directory: %v, want ErrDataDirInUse naming the holder", err)
	}
	t.Logf("error: %v", err)
	db.Close()
	db2 := open(t, Config{Dir: dir})
	db2.Close()
}

func TestSQLiteFilesArePrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	db := open(t, Config{Dir: dir})
	if _, err := db.Secret(ctx, "token-key", func() ([]byte, error) { return []byte("k"), nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateGuest(ctx, Guest{ID: "g", Name: "g", DeviceHash: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, name := range []string{sqliteFile, sqliteFile + "-wal", "token-key.key", "lock"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", name, fi.Mode().Perm(), err)
		}
	}
	// A key file others can read is refused rather than used.
	if err := os.Chmod(filepath.Join(dir, "token-key.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Secret(ctx, "token-key", nil); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("world-readable key file: %v, want an error asking for 0600", err)
	}
}

// TestRestoredSQLiteFileIsPrivate: docs/store.md restores a backup by
// putting it in place of tickroom.db, and a backup file is made with the
// umask's mode (0644, say), so the restored database, and the -wal and
// -shm files SQLite makes with its mode, held every account's password
// hash and kept message readable to other users of the machine (in a data
// directory an operator made 0755). Opening it makes it 0600 again.
func TestRestoredSQLiteFileIsPrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	db := open(t, Config{Dir: dir})
	if _, err := db.CreateGuest(ctx, Guest{ID: "g", Name: "g", DeviceHash: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := db.w.ExecContext(ctx, `VACUUM INTO '`+backup+`'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Chmod(backup, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{sqliteFile, sqliteFile + "-wal", sqliteFile + "-shm"} {
		_ = os.Remove(filepath.Join(dir, name))
	}
	if err := os.Rename(backup, filepath.Join(dir, sqliteFile)); err != nil {
		t.Fatal(err)
	}
	db = open(t, Config{Dir: dir})
	if _, err := db.CreateGuest(ctx, Guest{ID: "h", Name: "h", DeviceHash: []byte("e")}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{sqliteFile, sqliteFile + "-wal", sqliteFile + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("restored %s: mode %v, %v; want 0600", name, fi.Mode().Perm(), err)
		}
	}
}

func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = Open(context.Background(), Config{URL: "postgres://tickroom:secret-password@" + addr + "/tickroom?sslmode=disable", ConnectTimeout: 2 * time.Second})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "secret-password") {
		t.Fatalf("Open on a closed port: %v, want ErrUnavailable naming the address and not the password", err)
	}
	t.Logf("error: %v", err)
	if _, err := Open(context.Background(), Config{URL: "postgres://[bad"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open with a malformed URL: %v, want ErrInvalid", err)
	}
}

// TestPostgresReadOnlyIsUnavailable: a database that takes reads but
// refuses writes (a primary failed over to a standby, or an operator's
// default_transaction_read_only) answers SQLSTATE 25006. It was taken as
// a refusal of the item itself, so the writers that retry only an
// unavailable database (kicks and bans) gave such a write up for good;
// it is now ErrUnavailable, as a database out of reach is.
func TestPostgresReadOnlyIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t)
	db := open(t, Config{URL: srv.NewDatabase(t), ConnectTimeout: 2 * time.Second})
	if _, err := db.CreateGuest(ctx, Guest{ID: "g1", Name: "g1", DeviceHash: []byte("d1")}); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{"ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The reload reaches each backend when it next reads a command, so
	// writes may go on being taken for a while: each try is a new guest,
	// so that only a refusal ends the wait.
	var err2 error
	n := 1
	waitFor(t, "a write refused as read-only", func() bool {
		n++
		id := fmt.Sprintf("g%d", n)
		_, err2 = db.CreateGuest(ctx, Guest{ID: id, Name: id, DeviceHash: []byte("d" + id)})
		return err2 != nil
	})
	if !errors.Is(err2, ErrUnavailable) || !strings.Contains(err2.Error(), "25006") {
		t.Fatalf("write to a read-only database: %v, want ErrUnavailable (SQLSTATE 25006)", err2)
	}
}

// TestPostgresMigrationOutlastsConnectTimeout: ConnectTimeout bounded the
// whole of a PostgreSQL open, migrations included, so a migration that
// takes longer (a large table to index, or a lock to wait for) was
// cancelled and rolled back at every start: the schema never moved and
// the node could not start. And a node started beside the one migrating
// (a cluster's rolling start) waited for the migration lock under the same
// bound, and stopped with "database unavailable". Here the migration
// takes 3 s against a ConnectTimeout of 1 s and two nodes open the
// database at once: both start, and the migration is applied once.
func TestPostgresMigrationOutlastsConnectTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t)
	cfg := Config{URL: srv.NewDatabase(t), ConnectTimeout: time.Second}
	cfg.migrations = fstest.MapFS{
		"00001_one.sql":  {Data: []byte("-- +goose Up\nCREATE TABLE one (id INTEGER PRIMARY KEY);\n")},
		"00002_slow.sql": {Data: []byte("-- +goose Up\nSELECT pg_sleep(3);\nINSERT INTO one VALUES (1);\n")},
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	dbs := make([]*DB, 2)
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(ctx, cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
			continue
		}
		defer dbs[i].Close()
		if v := dbs[i].SchemaVersion(); v != 2 {
			t.Errorf("node %d: schema %d, want 2", i, v)
		}
	}
	if t.Failed() {
		return
	}
	var rows, applied int
	if err := dbs[0].w.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM one), (SELECT count(*) FROM `+versionTable+` WHERE version_id = 2)`).Scan(&rows, &applied); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || applied != 1 {
		t.Fatalf("after two nodes opened at once: %d rows the migration inserts and version 2 recorded %d times, want 1 and 1", rows, applied)
	}
}

// TestPostgresWaitForAnotherMigrationIsLogged: a node that finds another
// holding the migration lock (another node migrating, or a session left
// holding it) waited for it in silence, its start hung with nothing in the
// log for up to 5 minutes, and then failed with "database unavailable:
// reading the schema version: failed to acquire lock", though the
// database answered all along. The wait now says what it waits for, and
// which server process holds the lock, once it starts and then every
// minute; past its bound it fails with ErrLocked, naming the holder.
func TestPostgresWaitForAnotherMigrationIsLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	holder, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(4097083626)"); err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	cfg := Config{URL: url, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	opened := make(chan error, 1)
	go func() {
		db, err := Open(ctx, cfg)
		if err == nil {
			db.Close()
		}
		opened <- err
	}()
	want := fmt.Sprintf("held_by_pid=%d", pid)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "waiting for another node's migration"); {
		if time.Now().After(deadline) {
			t.Fatalf("20 s into a wait for the migration lock, the log says nothing of it:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), want) {
		t.Errorf("the wait's log line does not name the lock's holder (%s):\n%s", want, logs)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock(4097083626)"); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("Open once the lock was let go: %v", err)
	}

	// Past the wait's bound: ErrLocked, naming the holder.
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(4097083626)"); err != nil {
		t.Fatal(err)
	}
	cfg.lockWait = 2 * time.Second
	_, err = Open(ctx, cfg)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint("pid ", pid)) {
		t.Fatalf("Open past the wait's bound: %v, want ErrLocked naming pid %d", err, pid)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open past the wait's bound: %v, reachable all along, not ErrUnavailable", err)
	}
	t.Logf("error: %v", err)
}

// lockSQLite takes an exclusive lock on the database file in dir, as
// another program (a backup tool, an sqlite3 shell) may, and returns the
// connection that holds it (COMMIT lets it go); it closes when the test
// ends.
func lockSQLite(t *testing.T, dir string) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	// A write of the store's own may hold the file when the lock is
	// asked: it is waited for (SQLITE_BUSY at once without a timeout).
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqliteFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	return conn
}
