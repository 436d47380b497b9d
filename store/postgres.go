package store

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

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
	pool := stdlib.OpenDB(*ccfg)
	pool.SetMaxOpenConns(cfg.MaxConns)
	pool.SetMaxIdleConns(cfg.MaxConns)
	db := &DB{cfg: cfg, backend: BackendPostgres, w: pool, r: pool, classify: classifyPostgres}
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
	db.version, err = migrate(ctx, pool, BackendPostgres, cfg.migrations, classifyPostgres, cfg.Logger, cfg.lockWait)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redactURL(cfg.URL), err)
	}
	return db, nil
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
