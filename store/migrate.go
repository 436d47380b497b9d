package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// versionTable is goose's bookkeeping table.
const versionTable = "tickroom_schema_version"

// goMigrations returns the migrations written in Go, which come with the
// embedded SQL ones (a test that replaces those replaces these too): the
// two that put claimed names under a new key, computed in Go the same on
// both backends (00007_name_keys.go, 00009_name_keys.go).
func goMigrations(log *slog.Logger) []*goose.Migration {
	var out []*goose.Migration
	for _, m := range []struct {
		version int64
		source  string
		rk      rekeying
	}{
		{nameKeysVersion, "00007_name_keys.go", nameKeys7},
		{compatKeysVersion, "00009_name_keys.go", nameKeys9},
	} {
		g := goose.NewGoMigration(m.version, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return rekeyNames(ctx, tx, log, m.rk)
		}}, nil)
		g.Source = m.source
		out = append(out, g)
	}
	return out
}

// migrate applies the backend's pending migrations to db, up to version
// upTo if it is not zero, and returns the schema version. It refuses a
// schema newer than the newest migration.
func migrate(ctx context.Context, db *sql.DB, backend string, override fs.FS, upTo int64, classify func(error) error, log *slog.Logger, lockWait time.Duration) (int64, error) {
	fsys := override
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if fsys == nil {
		// The Go migrations come with the embedded SQL ones; a test's
		// migrations replace both.
		opts = append(opts, goose.WithGoMigrations(goMigrations(log)...))
		sub, err := fs.Sub(migrationFiles, "migrations/"+backend)
		if err != nil {
			return 0, err
		}
		fsys = sub
	}
	dialect := database.DialectSQLite3
	if backend == BackendPostgres {
		dialect = database.DialectPostgres
		// Nodes starting together take turns: the first migrates, the
		// others wait for it (saying so in the log) and find nothing
		// pending.
		opts = append(opts, goose.WithSessionLocker(&migrationLocker{log: log, wait: lockWait}))
	}
	store, err := database.NewStore(dialect, versionTable)
	if err != nil {
		return 0, err
	}
	opts = append(opts, goose.WithStore(store))
	p, err := goose.NewProvider("", db, fsys, opts...)
	if err != nil {
		return 0, fmt.Errorf("%w: reading the embedded migrations: %w", ErrMigration, err)
	}
	var newest int64
	for _, s := range p.ListSources() {
		newest = max(newest, s.Version)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("store: cancelled reading the schema version: %w", context.Cause(ctx))
		}
		return 0, wrapDriver("reading the schema version", err, classify)
	}
	if current > newest {
		return 0, fmt.Errorf("%w: the database is at version %d, this binary knows up to %d; run a newer tickroom or restore a backup taken before the upgrade", ErrSchemaNewer, current, newest)
	}
	if current < newest {
		// A migration of large tables takes a while: say why the start
		// waits.
		log.Info("store: migrating the schema", "from", current, "to", newest)
	}
	if upTo == 0 {
		upTo = newest
	}
	results, err := p.UpTo(ctx, upTo)
	if err != nil {
		var perr *goose.PartialError
		if errors.As(err, &perr) && perr.Failed != nil {
			v := perr.Failed.Source.Version
			at := current
			if n := len(perr.Applied); n > 0 {
				at = perr.Applied[n-1].Source.Version
			}
			if ctx.Err() != nil {
				// A signal during the start: the statement was cancelled
				// on the server too (migrationPool) and its transaction
				// rolled back.
				return 0, fmt.Errorf("store: migration cancelled: version %d (%s): %w; rolled back, the schema stays at version %d", v, perr.Failed.Source.Path, context.Cause(ctx), at)
			}
			// A database that was locked or out of reach failed the
			// migration, not its SQL: say so, as at any other start.
			cause := perr.Err
			if e := classify(cause); e != nil {
				cause = fmt.Errorf("%w: %w", e, cause)
			}
			return 0, fmt.Errorf("%w: version %d (%s): %w; the schema stays at version %d", ErrMigration, v, perr.Failed.Source.Path, cause, at)
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("store: cancelled before migrating: %w", context.Cause(ctx))
		}
		return 0, wrapDriver("migrating", err, classify)
	}
	version := current
	for _, r := range results {
		version = max(version, r.Source.Version)
		log.Info("store: migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	if len(results) == 0 && current < upTo {
		// Another node migrated while this one waited for the lock in Up,
		// after both read the version: what it left is the version.
		v, err := p.GetDBVersion(ctx)
		if err != nil {
			return 0, wrapDriver("reading the schema version", err, classify)
		}
		version = v
	}
	return version, nil
}

func wrapDriver(op string, err error, classify func(error) error) error {
	if errors.Is(err, ErrLocked) { // the migration lock (migrationLocker)
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if e := classify(err); e != nil {
		return fmt.Errorf("%w: %s: %w", e, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}
