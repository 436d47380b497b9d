package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3/lock"
)

// migrationLockID is the PostgreSQL advisory lock nodes take to migrate
// one at a time: goose's (lock.DefaultLockID), which nodes of older
// versions take too.
const migrationLockID = lock.DefaultLockID

const (
	// defaultLockWait bounds a node's wait for another's migration lock.
	defaultLockWait = 5 * time.Minute
	// lockPoll is how often the lock is tried while another holds it.
	lockPoll = 5 * time.Second
	// lockLogEvery spaces the log lines of a wait for the lock.
	lockLogEvery = time.Minute
)

// migrationLocker takes the PostgreSQL migration lock, as goose's session
// locker does (trying every lockPoll for up to wait), but says in the log
// that it waits, and for whom (the holder's server process, its
// application_name, address and statement, from pg_stat_activity), once
// the wait starts and every lockLogEvery after: a node that starts beside
// one migrating (or beside a session left holding the lock) waits for it,
// and its start would otherwise hang in silence. Past wait it fails with
// ErrLocked, naming the holder.
//
// The lock is session-level, held by the connection the migrations run
// on (goose runs them there, each in its own transaction), so it lasts as
// long as that session: see migrationPool and checkClientGone for how it
// ends with a start cancelled or killed mid-statement.
type migrationLocker struct {
	log  *slog.Logger
	wait time.Duration
}

var _ lock.SessionLocker = (*migrationLocker)(nil)

// checkClientGone asks the server to look for a closed client connection
// every second while a statement of the migrating session runs
// (client_connection_check_interval, PostgreSQL 14 and later, on Linux,
// macOS and the BSDs). A node killed mid-migration (SIGKILL, a crash)
// sends no cancel request, and its session otherwise held the lock until
// the statement ended; now the server ends the session, rolling the
// migration back, within a second of the kernel closing the socket. An
// older server refuses the setting, and the lock then lasts as before.
const checkClientGone = "SET client_connection_check_interval = 1000"

// SessionLock takes the lock on conn, waiting while another session holds
// it.
func (l *migrationLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	start := time.Now()
	var logged time.Time
	for {
		var locked bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", migrationLockID).Scan(&locked); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if locked {
			_, _ = conn.ExecContext(ctx, checkClientGone)
			if !logged.IsZero() {
				l.log.Info("store: took the migration lock", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		h := lockHolder(ctx, conn)
		waited := time.Since(start)
		if waited >= l.wait {
			return fmt.Errorf("%w: the migration lock (PostgreSQL advisory lock %d) was held for %v by server process pid %d (%s): another node's migration did not end, or a session kept the lock (end it with pg_terminate_backend)",
				ErrLocked, migrationLockID, l.wait, h.pid, h)
		}
		if logged.IsZero() || time.Since(logged) >= lockLogEvery {
			logged = time.Now()
			l.log.Warn("store: waiting for another node's migration: the migration lock is held by another session",
				"held_by_pid", h.pid, "held_by", h.app, "held_by_addr", h.addr, "holder_state", h.state,
				"holder_state_for", h.stateFor, "holder_query", h.query,
				"waited", waited.Round(time.Second), "gives_up_after", l.wait)
		}
		t := time.NewTimer(min(lockPoll, l.wait-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SessionUnlock lets the lock go. A migration cancelled mid-statement may
// leave the session in its failed transaction (database/sql's rollback
// runs under the cancelled context and is never sent), where the unlock
// is refused: that transaction is rolled back and the unlock tried again,
// so the lock goes before Open returns rather than when the session is
// closed after.
func (l *migrationLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var unlocked bool
	err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockID).Scan(&unlocked)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "25P02" { // in_failed_sql_transaction
		if _, err = conn.ExecContext(ctx, "ROLLBACK"); err == nil {
			err = conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockID).Scan(&unlocked)
		}
	}
	if err != nil {
		return fmt.Errorf("letting the migration lock go: %w", err)
	}
	if !unlocked {
		return errors.New("store: the migration lock was not held")
	}
	return nil
}

// holder is the session that holds the migration lock, as
// pg_stat_activity shows it.
type holder struct {
	pid      int64 // 0 when it cannot be read
	app      string
	addr     string
	state    string
	stateFor time.Duration
	query    string // the statement running, or the last one
}

// maxHolderQuery caps the holder's statement in logs and errors.
const maxHolderQuery = 200

func (h holder) String() string {
	if h.pid == 0 {
		return "not known"
	}
	return fmt.Sprintf("application_name %q, client %s, %s for %v: %s", h.app, h.addr, h.state, h.stateFor, h.query)
}

// lockHolder returns the session that holds the migration lock.
func lockHolder(ctx context.Context, conn *sql.Conn) holder {
	var h holder
	var secs float64
	err := conn.QueryRowContext(ctx, `SELECT l.pid, coalesce(a.application_name, ''),
		coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''),
		coalesce(extract(epoch FROM now() - a.state_change), 0)::float8, coalesce(a.query, '')
		FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		AND l.classid::bigint = $1 AND l.objid::bigint = $2 LIMIT 1`,
		int64(migrationLockID>>32), int64(migrationLockID&0xffffffff)).Scan(&h.pid, &h.app, &h.addr, &h.state, &secs, &h.query)
	if err != nil {
		return holder{}
	}
	h.stateFor = time.Duration(secs * float64(time.Second)).Round(time.Second)
	h.query = strings.Join(strings.Fields(h.query), " ")
	if len(h.query) > maxHolderQuery {
		h.query = h.query[:maxHolderQuery] + "…"
	}
	return h
}
