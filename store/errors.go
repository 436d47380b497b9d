package store

import "errors"

// Sentinel errors. Errors from this package wrap one of these with %w and
// add the detail (path, version, name).
var (
	// ErrNotFound reports a lookup that matched nothing.
	ErrNotFound = errors.New("store: not found")
	// ErrNameTaken reports a name another account already holds (names
	// are compared case-insensitively).
	ErrNameTaken = errors.New("store: name taken")
	// ErrIdentityTaken reports an external identity already linked to
	// another account.
	ErrIdentityTaken = errors.New("store: identity already linked")
	// ErrAccountLinked reports an account already linked to another
	// external identity: a link is never replaced.
	ErrAccountLinked = errors.New("store: account linked to another identity")
	// ErrSchemaNewer reports a database migrated by a newer binary than
	// this one; Open refuses it rather than write into an unknown schema.
	ErrSchemaNewer = errors.New("store: database schema is newer than this binary")
	// ErrMigration reports a migration that failed; the schema stays at
	// the last version that succeeded.
	ErrMigration = errors.New("store: migration failed")
	// ErrCorrupt reports a SQLite file that is not a database or whose
	// pages are damaged.
	ErrCorrupt = errors.New("store: database file is corrupt")
	// ErrLocked reports a SQLite database another process holds locked
	// past the busy timeout, or a PostgreSQL migration lock another
	// session held for as long as Open waits for it (5 minutes).
	ErrLocked = errors.New("store: database is locked")
	// ErrDataDirInUse reports a data directory another process already
	// serves from.
	ErrDataDirInUse = errors.New("store: data directory in use by another process")
	// ErrUnavailable reports a database that cannot be reached.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrClosed reports a call after Close.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid reports an argument the store refuses (empty id, a name
	// over its length, a negative limit).
	ErrInvalid = errors.New("store: invalid argument")
)
