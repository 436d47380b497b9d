package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
)

// nameKeysVersion is the schema version of the migration that puts every
// claimed name under composedNameKey, NameKey as it was then: a Go
// migration (goMigrations), since the key is computed in Go, the same on
// both backends.
const nameKeysVersion = 7

// nameKeysPage is how many accounts a rekeying reads at a time.
const nameKeysPage = 500

// nameKeys7 is migration 7: a name claimed before NameKey normalized after
// folding is stored under foldedNameKey, so the same name in another
// spelling ("ΤΑΫ́ΓΕΤΟΣ" after "Ταΰγετος") could still be claimed by
// another account. It keeps the key of its day, composedNameKey, so it
// does what it did on a database migrated then; migration 9 goes on from
// there.
var nameKeys7 = rekeying{
	key:       composedNameKey,
	own:       foldedNameKey,
	collision: "store: two accounts claimed one name in two spellings before names were compared after NFKC; one keeps the name's key, the other the key of its own spelling, by which it still logs in",
}

// rekeying is how a migration puts claimed names under a new key.
type rekeying struct {
	// key is the key each claimed name goes under.
	key func(name string) string
	// own is the key an account keeps when another holds its name's key:
	// the one its own spelling had before, by which UserByName finds it
	// (nameKeys).
	own func(name string) string
	// collision is what the log says of two accounts holding one name.
	collision string
}

// rekeyNames runs a rekeying (migrations 7 and 9): each claimed account
// whose key is not rk.key of its name gets it, reading the accounts
// nameKeysPage at a time by id.
//
// Two accounts may already hold one name under two keys (both claimed
// before, or one before and one after): then the account made first
// (created_ms, then id) gets the name's key and the other keeps the key of
// its own spelling (rk.own), under which UserByName finds it first, so
// each still logs in as it typed its name, with its own password. No claim
// is dropped. An account whose own spelling's key is already the name's
// has no other key and keeps it. The migration runs in one transaction,
// under the migration lock on PostgreSQL; an account claimed meanwhile by
// a node of an older version (which claims under its own key) keeps that
// key.
func rekeyNames(ctx context.Context, tx *sql.Tx, log *slog.Logger, rk rekeying) error {
	type account struct {
		id, name, key string
		created       int64
	}
	after := ""
	for {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, name_key, created_ms FROM users
			WHERE name_key IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`, after, nameKeysPage)
		if err != nil {
			return err
		}
		var page []account
		for rows.Next() {
			var a account
			if err := rows.Scan(&a.id, &a.name, &a.key, &a.created); err != nil {
				rows.Close()
				return err
			}
			page = append(page, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, a := range page {
			key := rk.key(a.name)
			if a.key == key {
				continue
			}
			var h account
			err := tx.QueryRowContext(ctx, `SELECT id, name, name_key, created_ms FROM users WHERE name_key = $1`, key).Scan(&h.id, &h.name, &h.key, &h.created)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err == nil {
				older := h.created < a.created || h.created == a.created && h.id < a.id
				if older || rk.own(h.name) == key {
					log.Warn(rk.collision, "keeps", h.id, "keeps_name", h.name, "other", a.id, "other_name", a.name)
					continue
				}
				// The holder was made after: it takes its own spelling's
				// key, as a is left with otherwise.
				moved, err := setNameKey(ctx, tx, h.id, rk.own(h.name))
				if err != nil {
					return err
				}
				if !moved {
					continue
				}
				log.Warn(rk.collision, "keeps", a.id, "keeps_name", a.name, "other", h.id, "other_name", h.name)
			}
			if _, err := setNameKey(ctx, tx, a.id, key); err != nil {
				return err
			}
		}
		if len(page) < nameKeysPage {
			return nil
		}
		after = page[len(page)-1].id
	}
}

// setNameKey sets an account's name key in a savepoint and reports
// whether it did: a key another account holds (claimed meanwhile) leaves
// the account's key as it was.
func setNameKey(ctx context.Context, tx *sql.Tx, id, key string) (bool, error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT name_key`); err != nil {
		return false, err
	}
	_, err := tx.ExecContext(ctx, `UPDATE users SET name_key = $2 WHERE id = $1`, id, key)
	if isUniqueViolation(err) {
		_, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT name_key`)
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("setting the name key of %s: %w", id, err)
	}
	_, err = tx.ExecContext(ctx, `RELEASE SAVEPOINT name_key`)
	return err == nil, err
}
