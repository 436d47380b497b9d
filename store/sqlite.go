package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteFile is the database's file name in the data directory.
const sqliteFile = "tickroom.db"

func sqlitePath(dir string) string { return filepath.Join(dir, sqliteFile) }

// openSQLite opens (or makes) the database in cfg.Dir: it takes the data
// directory's lock, makes the file with mode 0600, opens one writer
// connection and a pool of query-only readers, and migrates.
func openSQLite(ctx context.Context, cfg Config) (_ *DB, err error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	unlock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	path := sqlitePath(cfg.Dir)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("store: database file: %w", err)
	}
	f.Close()
	// A database put in place of the store's (a restored backup, made
	// with the umask's mode) is made private again, and its -wal and -shm
	// files, which SQLite makes with the database's mode.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&^fileMode != 0 {
			if err := os.Chmod(p, fileMode); err != nil {
				return nil, fmt.Errorf("store: database file: %w", err)
			}
			cfg.Logger.Info("store: made a database file private", "file", p, "was", fi.Mode().Perm().String())
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	busy := strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)
	// A negative cache_size is in KiB.
	cache := "cache_size(-" + strconv.Itoa(cfg.CacheSize>>10) + ")"
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+busy+")")
	q.Add("_pragma", cache)
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + abs + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One writer: SQLite allows one write transaction at a time, and one
	// connection makes them queue in Go rather than spin on SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+busy+")")
	rq.Add("_pragma", cache)
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+abs+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	db := &DB{cfg: cfg, backend: BackendSQLite, w: w, r: r, unlock: unlock, classify: classifySQLite,
		keysDir: cfg.Dir}
	defer func() {
		if err != nil {
			w.Close()
			r.Close()
		}
	}()
	if err := w.PingContext(ctx); err != nil {
		return nil, sqliteOpenError(path, err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, sqliteOpenError(path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("store: %s: journal mode is %q, want wal", path, mode)
	}
	db.version, err = migrate(ctx, w, BackendSQLite, cfg.migrations, cfg.migrateTo, classifySQLite, cfg.Logger, cfg.lockWait)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Take the write lock once, so that a file another program holds
	// locked fails here with a clear error rather than at the first write.
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, sqliteOpenError(path, err)
	}
	_ = tx.Rollback()
	return db, nil
}

// boundWAL keeps SQLite's -wal file to about Config.walLimit: past it, the
// writer checkpoints the whole log and truncates the file, with the reads
// held off meanwhile (db.reads: the reads under way end, new ones wait for
// the checkpoint, about 0.1 s); SQLite's own wait for readers, with four
// readers always overlapping, could give up after BusyTimeout. SQLite's
// automatic checkpoint copies only the frames no reader still needs, and
// the log is started again from its beginning only once every frame was
// copied, so while one of the readers is always reading (the hub keeps
// its four store readers busy for as long as clients ask for leaderboards
// and histories) the log grew with every write, without end, and kept
// that size. Write calls it after each batch and Ping, which an idle
// WriteQueue runs every few seconds, so writes made outside the queue
// (logins) are bounded too. A checkpoint that cannot finish is logged and
// tried again by the next call.
func (db *DB) boundWAL(ctx context.Context) {
	if db.backend != BackendSQLite {
		return
	}
	fi, err := os.Stat(sqlitePath(db.cfg.Dir) + "-wal")
	if err != nil || fi.Size() <= db.cfg.walLimit {
		return
	}
	db.reads.Lock()
	defer db.reads.Unlock()
	var busy, frames, copied int
	err = db.w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
	if err == nil && busy != 0 {
		err = errors.New("readers still read older frames")
	}
	if err != nil {
		db.cfg.Logger.Warn("store: the write-ahead log is over its bound and could not be checkpointed; the next write tries again",
			"wal_bytes", fi.Size(), "err", err)
	}
}

func sqliteOpenError(path string, err error) error {
	if e := classifySQLite(err); e != nil {
		return fmt.Errorf("%w: %s: %w", e, path, err)
	}
	return fmt.Errorf("store: opening %s: %w", path, err)
}

// classifySQLite maps a SQLite error to the sentinel it stands for, or nil.
func classifySQLite(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return ErrCorrupt
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return ErrLocked
	case sqlite3.SQLITE_FULL:
		return errDiskFull
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return ErrUnavailable
	}
	return nil
}

// errDiskFull reports a write refused because the disk is full.
var errDiskFull = fmt.Errorf("%w: disk full", ErrUnavailable)

// lockDir takes an exclusive, non-blocking lock on the data directory's
// lock file, so that two processes never serve from one SQLite file (each
// would hold its own writer and they would fail each other with
// SQLITE_BUSY). The lock dies with the process.
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("store: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(pid))
			if holder == "" {
				holder = "unknown"
			}
			return nil, fmt.Errorf("%w: %s is held by process %s; stop it or use another -data-dir", ErrDataDirInUse, path, holder)
		}
		return nil, fmt.Errorf("store: locking %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
