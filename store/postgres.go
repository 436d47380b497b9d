package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
)

// cancelGrace is how long a migration's connection waits, once its
// context has ended, for the server to answer the cancel request before
// it is cut.
const cancelGrace = 5 * time.Second

// openPostgres connects to cfg.URL, checks the server answers within
// cfg.ConnectTimeout and migrates, for as long as the migrations take (and
// ctx allows). One pool serves reads and writes: the server handles
// concurrent writers itself.
func openPostgres(ctx context.Context, cfg Config) (_ *DB, err error) {
	ccfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: -database: %w", ErrInvalid, err)
	}
	if ccfg.ConnectTimeout == 0 {
		ccfg.ConnectTimeout = cfg.ConnectTimeout
	}
	if ccfg.RuntimeParams["application_name"] == "" {
		// pg_stat_activity then says which node a session is, for an
		// operator and for a node waiting for the migration lock.
		ccfg.RuntimeParams["application_name"] = applicationName()
	}
	if ccfg.RuntimeParams["idle_in_transaction_session_timeout"] == "" {
		// A session of a write cut off mid-commit would otherwise hold its
		// locks, its queue's batch mark among them, for hours (Config).
		ccfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(cfg.IdleInTransaction.Milliseconds(), 10)
	}
	pool := stdlib.OpenDB(*ccfg)
	pool.SetMaxOpenConns(cfg.MaxConns)
	pool.SetMaxIdleConns(cfg.MaxConns)
	db := &DB{cfg: cfg, backend: BackendPostgres, w: pool, r: pool, classify: classifyPostgres, byBytes: ` COLLATE "C"`}
	defer func() {
		if err != nil {
			pool.Close()
		}
	}()
	// Only the connection is bounded: a migration takes as long as its
	// tables need (or another node's migration, waited for), and one cut
	// short would roll back at every start.
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := pool.PingContext(pctx); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, redactURL(cfg.URL), err)
	}
	mpool := migrationPool(ccfg)
	db.version, err = migrate(ctx, mpool, BackendPostgres, cfg.migrations, cfg.migrateTo, classifyPostgres, cfg.Logger, cfg.lockWait)
	mpool.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redactURL(cfg.URL), err)
	}
	return db, nil
}

// migrationPool returns the connections the migrations run on, closed
// once they are done. Their context's end reaches the server: pgx's default
// only cuts the connection on the client's side, and the server then went
// on with the statement (an index build) and its session kept the
// migration lock until the statement ended, so the next node to start
// waited for a migration nobody would finish. These send a cancel request
// instead (then cut the connection past cancelGrace), the statement stops,
// its transaction rolls back, and the lock is let go at once.
func migrationPool(ccfg *pgx.ConnConfig) *sql.DB {
	mcfg := ccfg.Copy()
	mcfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
	return stdlib.OpenDB(*mcfg)
}

// applicationName names this process's sessions in pg_stat_activity when
// the database URL names none: "tickroom <host> pid <pid>", cut to
// PostgreSQL's 63 bytes.
func applicationName() string {
	host, _ := os.Hostname()
	name := fmt.Sprintf("tickroom %s pid %d", host, os.Getpid())
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// classifyPostgres maps a pgx error to the sentinel it stands for, or nil.
func classifyPostgres(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "57", "53": // connection exception, operator intervention, insufficient resources
			return ErrUnavailable
		}
		if pe.Code == "25006" {
			// read_only_sql_transaction: a standby after a failover, or
			// the database made read-only; writes pass once a primary is
			// back, as after an outage.
			return ErrUnavailable
		}
		return nil
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || pgconn.SafeToRetry(err) || errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable
	}
	return nil
}

// isUniqueViolation reports a unique constraint failure on either backend.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se interface{ Code() int }
	if errors.As(err, &se) {
		return se.Code()&0xff == 19 // SQLITE_CONSTRAINT
	}
	return false
}
