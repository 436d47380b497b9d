package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/internal/limits"
)

//go:embed migrations
var migrationFiles embed.FS

// Backend names, as DB.Backend reports them.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Config configures Open.
type Config struct {
	// Dir is the data directory of the SQLite backend: the database file
	// tickroom.db, the lock file and the key files live in it. It is made
	// (mode 0700) when missing. Ignored when URL is set. Zero value means
	// "./.tickroom".
	Dir string
	// URL selects the PostgreSQL backend: a postgres:// URL or a libpq
	// key=value string. Zero value means SQLite in Dir.
	URL string
	// BusyTimeout is how long SQLite waits for a lock another process
	// holds before failing with ErrLocked. Zero value means 5 seconds.
	BusyTimeout time.Duration
	// CacheSize is how much of the database SQLite aims to keep in
	// memory for each of its connections (PRAGMA cache_size, a soft cap:
	// pages a transaction has dirtied may go over it), in bytes, rounded
	// down to KiB: memory outside the Go heap, on top of the OS's page
	// cache of the same file. The SQLite backend opens one writer and up
	// to four readers, so it holds about five times this. It must be
	// 64 KiB to 2 TiB. Zero value means 2,000 KiB, SQLite's own default:
	// ~10 MB in all, which a 3,000-player run fills most of, ~0.75 KB of
	// resident memory a player with SQLite's other memory (BENCHMARKS.md,
	// "The store's page cache"). Checked, but not used, with PostgreSQL.
	CacheSize int
	// ConnectTimeout bounds the PostgreSQL connection at open. The
	// migrations that follow are not bounded by it: they run to their end
	// (or to the end of Open's context, which cancels them on the server
	// and rolls them back), and a node that finds another migrating waits
	// for it, saying in the log every minute who holds the lock, for up
	// to 5 minutes (then ErrLocked). Zero value means 10 seconds.
	ConnectTimeout time.Duration
	// IdleInTransaction is how long PostgreSQL lets one of the store's
	// sessions sit idle inside a transaction before it ends it, releasing
	// its locks: a write whose connection was cut mid-commit without the
	// server seeing it would otherwise hold its queue's batch mark (and the
	// rows it wrote) until the server's TCP keepalive noticed, about two
	// hours by default, every later batch of that queue waiting on it. The
	// store's own transactions are never idle that long. A database URL's
	// idle_in_transaction_session_timeout wins. Zero value means 30 s.
	IdleInTransaction time.Duration
	// MaxConns caps the PostgreSQL connection pool. Zero value means 8.
	MaxConns int
	// ChannelKeep is how many lines a chat channel keeps. Zero value
	// means 200.
	ChannelKeep int
	// ChannelHistories caps the channels that keep lines at all: past
	// it, the write that adds a channel drops the whole history of the
	// channels written least recently, so the store holds at most
	// ChannelHistories × ChannelKeep channel lines. Zero value means
	// 2,000 (twice the hub's default MaxChannels: every channel a node can
	// hold open keeps its history, and as many closed ones).
	ChannelHistories int
	// ChannelTTL is how long a channel keeps its lines after its last
	// one was written; an older channel's history is dropped by a later
	// write of channel lines. Zero value means 30 days.
	ChannelTTL time.Duration
	// InboxKeep is how many direct messages a recipient's inbox keeps.
	// Zero value means 100.
	InboxKeep int
	// InboxPerSender is how many of a recipient's kept direct messages
	// one sender may hold: a sender's message past it deletes that
	// sender's oldest, so that a sender (a guest, made one every few
	// seconds) that writes a burst to a user who is offline loses its own
	// oldest lines rather than push the messages of the user's friends
	// out of the InboxKeep. Zero value means 20.
	InboxPerSender int
	// InboxStrangers is how many of a recipient's kept direct messages
	// the senders who are not its friends (no accepted friendship; a
	// request standing makes none) may hold together: a stranger's
	// message past it deletes the strangers' oldest, so that many
	// senders (guests of one address, each within InboxPerSender) never
	// push a friend's message out of the InboxKeep, where friends have
	// InboxKeep − InboxStrangers of room. Zero value means 20.
	InboxStrangers int
	// ResultKeep is how many results each player's history keeps: a
	// result goes once each of its players that still has an account (a
	// deleted guest holds none) has ResultKeep newer ones, so
	// every player keeps its newest ResultKeep (and up to about 8 more for
	// each game it plays, between the writes that trim it: a player is
	// looked at with every eighth of its results in a game, as its
	// standing counts them, and up to 16 of its results go for each
	// eighth a write passed) and the stored results grow with
	// the players, not with the games played. The standings keep counting
	// what went. Zero value means 1,000.
	ResultKeep int
	// DeviceKeep is how many device secrets an account keeps: a device
	// added past it makes the account forget the oldest, whose next login
	// needs the password again. Zero value means 32.
	DeviceKeep int
	// GuestTTL is how long a guest account (no claimed name, no linked
	// identity) is kept after its last login: each new guest deletes a few
	// guests older than that, with their devices, friendships, blocks,
	// inbox, standings and sanctions, and the results none of whose
	// players is stored any more, so stored guests grow with the guest
	// login rate over GuestTTL, not for ever. A guest whose device secret
	// is gone with it logs in as a new guest. Zero value means 30 days; it
	// should exceed the session token's lifetime (24 h by default), since
	// a session does not count as a login.
	GuestTTL time.Duration
	// Logger receives migrations applied at Info. Zero value means no
	// logging.
	Logger *slog.Logger

	// migrations replaces the embedded migrations (tests only).
	migrations fs.FS
	// migrateTo stops the migrations at this version (tests only). Zero
	// value means all of them.
	migrateTo int64
	// now replaces time.Now for ChannelTTL and GuestTTL (tests only).
	now func() time.Time
	// walLimit replaces defaultWALLimit (tests only).
	walLimit int64
	// lockWait replaces defaultLockWait (tests only).
	lockWait time.Duration
	// trimEvery is how seldom a player is looked at for ResultKeep: with
	// every trimEvery-th of its results in a game (insertResults,
	// trimResults). Zero value means 8; tests set 1 to see
	// every write keep the bound exactly.
	trimEvery int
}

const (
	defaultDir         = ".tickroom"
	defaultBusyTimeout = 5 * time.Second
	defaultCacheSize   = 2000 << 10
	// minCacheSize is 16 pages of 4 KiB: a smaller cache keeps next to
	// nothing between statements.
	minCacheSize       = 64 << 10
	defaultConnTimeout = 10 * time.Second
	defaultIdleInTx    = 30 * time.Second
	defaultMaxConns    = 8
	defaultChannelKeep = 200
	defaultInboxKeep   = 100
	// defaultInboxPerSender is InboxPerSender's default.
	defaultInboxPerSender = 20
	// defaultInboxStrangers is InboxStrangers's default.
	defaultInboxStrangers = 20
	defaultDeviceKeep     = 32
	defaultResultKeep     = 1000

	// defaultWALLimit is the size of SQLite's -wal file past which a
	// write checkpoints the whole log and truncates it (boundWAL): SQLite's
	// own checkpoint, after each commit once the log holds 1,000 pages
	// (~4 MB), never finishes while some reader is always reading, and
	// the log then grows with every write and keeps its size.
	defaultWALLimit = 64 << 20

	defaultChannelHistories = 2000
	defaultChannelTTL       = 30 * 24 * time.Hour
	defaultGuestTTL         = 30 * 24 * time.Hour
)

func (c Config) withDefaults() (Config, error) {
	if c.BusyTimeout < 0 || c.CacheSize < 0 || c.ConnectTimeout < 0 || c.IdleInTransaction < 0 || c.MaxConns < 0 || c.ChannelKeep < 0 || c.InboxKeep < 0 || c.InboxPerSender < 0 || c.InboxStrangers < 0 || c.ResultKeep < 0 || c.ChannelHistories < 0 || c.ChannelTTL < 0 || c.DeviceKeep < 0 || c.GuestTTL < 0 {
		return c, fmt.Errorf("%w: negative BusyTimeout, CacheSize, ConnectTimeout, IdleInTransaction, MaxConns, ChannelKeep, ChannelHistories, ChannelTTL, InboxKeep, InboxPerSender, InboxStrangers, ResultKeep, DeviceKeep or GuestTTL", ErrInvalid)
	}
	if c.CacheSize > 0 && (c.CacheSize < minCacheSize || c.CacheSize>>10 > math.MaxInt32) {
		return c, fmt.Errorf("%w: CacheSize %d is not within 64 KiB to 2 TiB", ErrInvalid, c.CacheSize)
	}
	if c.Dir == "" {
		c.Dir = defaultDir
	}
	limits.Default(&c.BusyTimeout, defaultBusyTimeout)
	limits.Default(&c.CacheSize, defaultCacheSize)
	limits.Default(&c.ConnectTimeout, defaultConnTimeout)
	limits.Default(&c.IdleInTransaction, defaultIdleInTx)
	limits.Default(&c.MaxConns, defaultMaxConns)
	limits.Default(&c.ChannelKeep, defaultChannelKeep)
	limits.Default(&c.InboxKeep, defaultInboxKeep)
	limits.Default(&c.InboxPerSender, defaultInboxPerSender)
	limits.Default(&c.InboxStrangers, defaultInboxStrangers)
	limits.Default(&c.DeviceKeep, defaultDeviceKeep)
	limits.Default(&c.ResultKeep, defaultResultKeep)
	limits.Default(&c.trimEvery, 8)
	limits.Default(&c.lockWait, defaultLockWait)
	limits.Default(&c.walLimit, defaultWALLimit)
	limits.Default(&c.ChannelHistories, defaultChannelHistories)
	limits.Default(&c.ChannelTTL, defaultChannelTTL)
	limits.Default(&c.GuestTTL, defaultGuestTTL)
	if c.now == nil {
		c.now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// DB is an open store on one backend. It implements every concern's
// interface; its methods are safe from any goroutine.
type DB struct {
	cfg      Config
	backend  string
	w        *sql.DB // writes: one connection on SQLite
	r        *sql.DB // reads: the same pool as w on PostgreSQL
	keysDir  string  // SQLite: key files live here; "" keeps keys in the secrets table
	unlock   func()  // releases the data directory lock
	classify func(error) error
	version  int64 // schema version after migrations
	// byBytes follows a user id in an ORDER BY: on PostgreSQL it sorts
	// by bytes (COLLATE "C"), as SQLite does, rather than by the
	// database's collation (a linguistic one sorts "a" before "B"), so
	// that both backends, and databases made with different locales,
	// return tied rows in the same order. Empty on SQLite.
	byBytes string
	closed  atomic.Bool
	// reads is held shared by every read of r, from the query until its
	// rows are closed, and exclusively by boundWAL's checkpoint, so that
	// the checkpoint finds a moment with no reader on an older snapshot.
	reads sync.RWMutex
	// channelsOver is set while more channels may keep history than
	// ChannelHistories (at Open, or after a write that hit its eviction
	// cap): writes of channel lines then evict a backlog too.
	channelsOver atomic.Bool
}

// Open opens the store cfg selects, PostgreSQL when cfg.URL is set and
// SQLite in cfg.Dir otherwise, and applies pending migrations. It fails
// with a wrapped ErrUnavailable, ErrCorrupt, ErrLocked, ErrDataDirInUse,
// ErrMigration or ErrSchemaNewer; there is no fallback.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var db *DB
	if cfg.URL != "" {
		db, err = openPostgres(ctx, cfg)
	} else {
		db, err = openSQLite(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	// A database written with a larger ChannelHistories (or before it
	// existed) may hold more: the first writes of channel lines evict
	// the backlog a slice at a time.
	db.channelsOver.Store(true)
	return db, nil
}

// Backend returns BackendSQLite or BackendPostgres.
func (db *DB) Backend() string { return db.backend }

// Where describes the database for logs: the SQLite file's path, or the
// PostgreSQL host and database (never the password).
func (db *DB) Where() string { return db.where() }

// SchemaVersion returns the schema version after the migrations Open ran.
func (db *DB) SchemaVersion() int64 { return db.version }

// Ping checks that the database answers; it returns a wrapped
// ErrUnavailable when not.
func (db *DB) Ping(ctx context.Context) error {
	if db.closed.Load() {
		return ErrClosed
	}
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var one int
	if err := db.w.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return db.fail("ping", err)
	}
	db.boundWAL(ctx)
	return nil
}

// Close closes the database and releases the data directory. Calls
// after the first return ErrClosed.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if db.unlock != nil {
		db.unlock()
	}
	return err
}

// fail wraps a driver error with what was being done and maps it to a
// sentinel where one applies.
func (db *DB) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, op)
	}
	if db.closed.Load() {
		return fmt.Errorf("%w: %s", ErrClosed, op)
	}
	if e := db.classify(err); e != nil {
		return fmt.Errorf("%w: %s: %w", e, op, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func (db *DB) where() string {
	if db.backend == BackendSQLite {
		return sqlitePath(db.cfg.Dir)
	}
	return redactURL(db.cfg.URL)
}

// tx runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) tx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	if db.closed.Load() {
		return ErrClosed
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.fail(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		if isSentinel(err) {
			return err
		}
		return db.fail(op, err)
	}
	return db.fail(op, tx.Commit())
}

// query runs a read on r; the rows hold db.reads until they are closed.
// No read may start while the caller holds one open: a checkpoint waiting
// between them would wait for ever.
func (db *DB) query(ctx context.Context, query string, args ...any) (*readRows, error) {
	db.reads.RLock()
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		db.reads.RUnlock()
		return nil, err
	}
	return &readRows{Rows: rows, unlock: db.reads.RUnlock}, nil
}

// readRows are a read's rows; Close releases db.reads.
type readRows struct {
	*sql.Rows
	once   sync.Once
	unlock func()
}

func (r *readRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.unlock)
	return err
}

// queryRow runs a read of one row on r; its Scan releases db.reads.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) readRow {
	db.reads.RLock()
	return readRow{row: db.r.QueryRowContext(ctx, query, args...), unlock: db.reads.RUnlock}
}

type readRow struct {
	row    *sql.Row
	unlock func()
}

func (r readRow) Scan(dest ...any) error {
	defer r.unlock()
	return r.row.Scan(dest...)
}

// exec runs one write statement.
func (db *DB) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	res, err := db.w.ExecContext(ctx, query, args...)
	return res, db.fail(op, err)
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrNotFound, ErrNameTaken, ErrIdentityTaken, ErrInvalid, ErrClosed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func checkLimit(limit int) error {
	if limit <= 0 || limit > MaxPage {
		return fmt.Errorf("%w: limit %d not in 1..%d", ErrInvalid, limit, MaxPage)
	}
	return nil
}

// MaxPage is the most rows one paged read returns.
const MaxPage = 500

func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			rest = rest[:q]
		}
		return u[:i+3] + rest
	}
	// key=value form: keep host, port and dbname only.
	var keep []string
	for _, f := range strings.Fields(u) {
		if k, _, ok := strings.Cut(f, "="); ok && (k == "host" || k == "port" || k == "dbname") {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

// fileMode is the mode of every file the store makes in the data directory.
const fileMode os.FileMode = 0o600
