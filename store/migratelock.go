package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
// that it waits, and for which server process, once the wait starts and
// every lockLogEvery after: a node that starts beside one migrating (or
// beside a session left holding the lock) waits for it, and its start
// would otherwise hang in silence. Past wait it fails with ErrLocked,
// naming the holder.
type migrationLocker struct {
	log  *slog.Logger
	wait time.Duration
}

var _ lock.SessionLocker = (*migrationLocker)(nil)

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
			if !logged.IsZero() {
				l.log.Info("store: took the migration lock", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		holder := lockHolder(ctx, conn)
		waited := time.Since(start)
		if waited >= l.wait {
			return fmt.Errorf("%w: the migration lock (PostgreSQL advisory lock %d) was held for %v by server process pid %d: another node's migration did not end, or a session kept the lock (end it with pg_terminate_backend)",
				ErrLocked, migrationLockID, l.wait, holder)
		}
		if logged.IsZero() || time.Since(logged) >= lockLogEvery {
			logged = time.Now()
			l.log.Warn("store: waiting for another node's migration: the migration lock is held by another session",
				"held_by_pid", holder, "waited", waited.Round(time.Second), "gives_up_after", l.wait)
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

// SessionUnlock lets the lock go.
func (l *migrationLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var unlocked bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockID).Scan(&unlocked); err != nil {
		return fmt.Errorf("letting the migration lock go: %w", err)
	}
	if !unlocked {
		return errors.New("store: the migration lock was not held")
	}
	return nil
}

// lockHolder returns the pid of the server process that holds the
// migration lock, or 0 when it cannot be read.
func lockHolder(ctx context.Context, conn *sql.Conn) int64 {
	var pid int64
	err := conn.QueryRowContext(ctx, `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND classid::bigint = $1 AND objid::bigint = $2 LIMIT 1`,
		int64(migrationLockID>>32), int64(migrationLockID&0xffffffff)).Scan(&pid)
	if err != nil {
		return 0
	}
	return pid
}
