package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// nameKeysVersion is the schema version of the migration that puts every
// claimed name under NameKey: a Go migration (goMigrations), since
// the key is computed in Go, the same on both backends. SQL migrations
// after it are numbered from 8.
const nameKeysVersion = 7

// nameKeysPage is how many accounts the migration reads at a time.
const nameKeysPage = 500

// goMigrations returns the migrations written in Go, which come with the
// embedded SQL ones (a test that replaces those replaces these too).
func goMigrations(log *slog.Logger) []*goose.Migration {
	m := goose.NewGoMigration(nameKeysVersion, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		return rekeyNames(ctx, tx, log)
	}}, nil)
	m.Source = "00007_name_keys.go"
	return []*goose.Migration{m}
}

// rekeyNames is migration 7: a name claimed before NameKey normalized
// after folding is stored under foldedNameKey, so the same name in
// another spelling ("ΤΑΫ́ΓΕΤΟΣ" after "Ταΰγετος") could still be claimed
// by another account. Each claimed account whose key is not NameKey of
// its name gets it, reading the accounts nameKeysPage at a time by id.
//
// Two accounts may already hold one name under the two keys (both claimed
// before, or one before and one after): then the account made first
// (created_ms, then id) gets NameKey and the other keeps the key of its
// own spelling, under which UserByName finds it first, so each still logs
// in as it typed its name, with its own password. No claim is dropped.
// An account whose own spelling folds to NameKey has no other key and
// keeps it. The migration runs in one transaction, under the migration
// lock on PostgreSQL; an account claimed meanwhile by a node of an older
// version (which claims under the folded key) keeps that key.
func rekeyNames(ctx context.Context, tx *sql.Tx, log *slog.Logger) error {
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
			key := NameKey(a.name)
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
				if older || foldedNameKey(h.name) == key {
					log.Warn(collision, "keeps", h.id, "keeps_name", h.name, "other", a.id, "other_name", a.name)
					continue
				}
				// The holder was made after: it takes its own spelling's
				// key, as a is left with otherwise.
				moved, err := setNameKey(ctx, tx, h.id, foldedNameKey(h.name))
				if err != nil {
					return err
				}
				if !moved {
					continue
				}
				log.Warn(collision, "keeps", a.id, "keeps_name", a.name, "other", h.id, "other_name", h.name)
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

// collision is what the log says of two accounts holding one name.
const collision = "store: two accounts claimed one name in two spellings before names were compared after NFKC; one keeps the name's key, the other the key of its own spelling, by which it still logs in"

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
