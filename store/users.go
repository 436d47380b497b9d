package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxNameLen caps a stored name in bytes, above any name the login
// accepts.
const MaxNameLen = 128

// NameKey returns the form names are compared in: Unicode's
// NFKC_Casefold, the closure of RFC 8266's comparison. The name is
// normalized to NFKC, case folded and normalized again: so "Ada", "ADA"
// and "ada" are one name, and so are "Ταΰγετος" and "ΤΑΫ́ΓΕΤΟΣ" (ΰ folds to
// υ and two combining marks, Ϋ́ to ϋ and one, which NFKC composes again),
// and "Acme™" and "ACMETM" ("™" has no case: NFKC makes it "TM", which is
// then folded). A key is its own key (NameKey(NameKey(s)) == NameKey(s)),
// so a key searched for finds the name it was made from.
//
// golang.org/x/text has no NFKC_Casefold (its cases package leaves the
// closure as a TODO), hence the three steps; and its case folding maps
// Cherokee letters to the other case, both ways (golang/go#46101), where
// Unicode folds them to capitals, so foldCase puts them right.
func NameKey(name string) string {
	return norm.NFKC.String(foldCase(norm.NFKC.String(name)))
}

// foldCase is Unicode's default full case folding: cases.Fold, whose
// Cherokee letters come out in the wrong case (U+13A0 "Ꭰ" folds to U+AB70
// "ꭰ" and "ꭰ" to "Ꭰ"), mapped to capitals as CaseFolding.txt has them.
func foldCase(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x13a0 && r <= 0x13fd || r >= 0xab70 && r <= 0xabbf {
			return unicode.ToUpper(r)
		}
		return r
	}, cases.Fold().String(s))
}

// foldedNameKey is the key names were claimed under before migration 7:
// case folding alone. It differs from composedNameKey only for a name
// such as "Ταΰγετος", folded into a form that is not NFKC.
func foldedNameKey(name string) string { return cases.Fold().String(name) }

// composedNameKey is the key names were claimed under from migration 7 to
// migration 9: case folding, then NFKC. It differs from NameKey for a
// name with a character NFKC maps to one with a case ("Acme™" is under
// "acmeTM"), a sequence that needs composing before folding, or a
// Cherokee letter.
func composedNameKey(name string) string { return norm.NFKC.String(cases.Fold().String(name)) }

// nameKeys returns the keys an account may hold name under, each once,
// oldest first: foldedNameKey and composedNameKey where they differ from
// the newer ones, then NameKey, always last. An older key is there for an
// account claimed by a node of an older version, or left there by a
// migration because another account held the name's newer key.
func nameKeys(name string) []string {
	key := NameKey(name)
	keys := make([]string, 0, 3)
	for _, k := range []string{foldedNameKey(name), composedNameKey(name)} {
		if k != key && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return append(keys, key)
}

const (
	userCols  = "id, name, name_key IS NOT NULL, password_hash, COALESCE(subject, ''), created_ms"
	userColsU = "u.id, u.name, u.name_key IS NOT NULL, u.password_hash, COALESCE(u.subject, ''), u.created_ms"
)

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	err := row.Scan(&u.ID, &u.Name, &u.Claimed, &u.PasswordHash, &u.Subject, &created)
	u.CreatedAt = fromMS(created)
	return u, err
}

// guestPruneBatch is how many guests not seen for GuestTTL one new guest
// deletes: more than one, so a backlog (a shorter GuestTTL, a server
// stopped for long) drains while guests keep coming.
const guestPruneBatch = 4

// CreateGuest implements Users. In the same transaction it deletes up to
// guestPruneBatch guests not seen for GuestTTL, oldest first, walking the
// users_guest_seen index: the guests stored are then those seen within
// GuestTTL, and a backlog that each new guest shrinks.
func (db *DB) CreateGuest(ctx context.Context, g Guest) (User, error) {
	if g.ID == "" || g.Name == "" || len(g.Name) > MaxNameLen || len(g.DeviceHash) == 0 {
		return User{}, fmt.Errorf("%w: a guest needs an id, a name of at most %d bytes and a device hash", ErrInvalid, MaxNameLen)
	}
	now := db.cfg.now().UnixMilli()
	u := User{ID: g.ID, Name: g.Name, CreatedAt: time.UnixMilli(now)}
	err := db.tx(ctx, "creating a guest", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, created_ms, seen_ms) VALUES ($1, $2, $3, $3)`, g.ID, g.Name, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (hash, user_id, created_ms) VALUES ($1, $2, $3)`, g.DeviceHash, g.ID, now); err != nil {
			return err
		}
		// A failed prune (a deadlock with another node's) costs this login
		// nothing: it is undone alone, and the next new guest prunes.
		if _, err := tx.ExecContext(ctx, `SAVEPOINT prune`); err != nil {
			return err
		}
		if err := pruneGuests(ctx, tx, now-db.cfg.GuestTTL.Milliseconds()); err != nil {
			db.cfg.Logger.Warn("store: deleting guests not seen for GuestTTL failed; the next new guest tries again", "err", err)
			_, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT prune`)
			return err
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// pruneResultsPerGuest bounds the results one pruned guest takes with it
// in one step, so a guest that played a great many games costs the login
// that prunes it a bounded delete; a guest with more keeps its account
// row (its devices, lists and standings gone: it cannot log in again)
// until a later step has taken the rest.
const pruneResultsPerGuest = 1000

// pruneGuests deletes up to guestPruneBatch guests last seen before cut,
// with what only they had: their devices, friendships (both sides),
// blocks (both ways), inbox, standings and sanctions, and the results none of whose
// other players has an account (up to pruneResultsPerGuest each; the
// account goes once none is left, so a guest with more comes first again
// in the next prune). Results with another player keep the guest's name,
// as that player's history. A guest seen again meanwhile is kept.
func pruneGuests(ctx context.Context, tx *sql.Tx, cut int64) error {
	const guest = `name_key IS NULL AND subject IS NULL AND seen_ms < $1`
	ids, err := txStrings(ctx, tx, `SELECT id FROM users WHERE `+guest+` ORDER BY seen_ms LIMIT $2`, cut, guestPruneBatch)
	if err != nil {
		return err
	}
	for _, id := range ids {
		// Still a guest not seen since cut? The update takes the row's
		// lock (PostgreSQL), so a login elsewhere waits for this prune.
		res, err := tx.ExecContext(ctx, `UPDATE users SET seen_ms = seen_ms WHERE id = $2 AND `+guest, cut, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue
		}
		for _, q := range []string{
			`DELETE FROM devices WHERE user_id = $1`,
			`DELETE FROM friendships WHERE user_a = $1`,
			`DELETE FROM friendships WHERE user_b = $1`,
			`DELETE FROM blocks WHERE blocker = $1`,
			`DELETE FROM blocks WHERE blocked = $1`,
			`DELETE FROM inbox WHERE to_id = $1`,
			`DELETE FROM standings WHERE user_id = $1`,
			`DELETE FROM sanctions WHERE user_id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		// Its results with no other player left (result_players go by
		// cascade).
		res, err = tx.ExecContext(ctx, `DELETE FROM results WHERE id IN (SELECT rp.result_id FROM result_players rp WHERE rp.user_id = $1
			AND NOT EXISTS (SELECT 1 FROM result_players o JOIN users u ON u.id = o.user_id WHERE o.result_id = rp.result_id AND o.user_id <> $1)
			LIMIT `+strconv.Itoa(pruneResultsPerGuest)+`)`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n >= pruneResultsPerGuest {
			continue // more may be left: the account stays for the next prune
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return err
		}
	}
	return nil
}

// Seen implements Users.
func (db *DB) Seen(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE users SET seen_ms = $2 WHERE id = $1`, id, db.cfg.now().UnixMilli())
	return db.affected("recording a login", res, err)
}

// CreateLinked implements Users.
func (db *DB) CreateLinked(ctx context.Context, id, name, subject string) (User, error) {
	if id == "" || subject == "" || name == "" || len(name) > MaxNameLen {
		return User{}, fmt.Errorf("%w: a linked account needs an id, a subject and a name of at most %d bytes", ErrInvalid, MaxNameLen)
	}
	now := time.Now().UnixMilli()
	_, err := db.w.ExecContext(ctx, `INSERT INTO users (id, name, subject, created_ms, seen_ms) VALUES ($1, $2, $3, $4, $4)`, id, name, subject, now)
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("%w: %q", ErrIdentityTaken, subject)
	}
	if err != nil {
		return User{}, db.fail("creating a linked account", err)
	}
	return User{ID: id, Name: name, Subject: subject, CreatedAt: time.UnixMilli(now)}, nil
}

// UserByID implements Users.
func (db *DB) UserByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	return u, db.fail("user by id", err)
}

// UserByDevice implements Users.
func (db *DB) UserByDevice(ctx context.Context, deviceHash []byte) (User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColsU+` FROM devices d JOIN users u ON u.id = d.user_id WHERE d.hash = $1`, deviceHash))
	return u, db.fail("user by device", err)
}

// UserByName implements Users. An account may still hold its name under
// an older key (nameKeys): migrations 7 and 9 left it there when another
// account held the same name under the newer key, and a node of an older
// version claims under its own key until it is upgraded. So every key of
// the name as given is read, in one query, and:
//   - an account whose name is the one given, as typed, is the answer, the
//     one made first when several are (created, then id, as migrations 7
//     and 9 decide): an older node that no longer finds a name moved to
//     NameKey lets another account claim that very spelling under its own
//     key, and the name's first holder must still log in by it;
//   - else the older keys are tried first, oldest first, so each of two
//     accounts holding one name in two spellings is found by its own;
//     one found under an older key counts only if that key is not its
//     name's NameKey (a name's older key may, rarely, be another name's
//     NameKey: "\u0345\u0301" folded before composing is "ί"), and then
//     NameKey decides.
func (db *DB) UserByName(ctx context.Context, name string) (User, error) {
	keys := nameKeys(name)
	var in [3]string // the keys, the last repeated for those missing
	for i := range in {
		in[i] = keys[min(i, len(keys)-1)]
	}
	rows, err := db.query(ctx, `SELECT `+userCols+`, name_key FROM users WHERE name_key IN ($1, $2, $3)`, in[0], in[1], in[2])
	if err != nil {
		return User{}, db.fail("user by name", err)
	}
	defer rows.Close()
	type found struct {
		u   User
		key string
	}
	var all []found
	for rows.Next() {
		var f found
		var created int64
		if err := rows.Scan(&f.u.ID, &f.u.Name, &f.u.Claimed, &f.u.PasswordHash, &f.u.Subject, &created, &f.key); err != nil {
			return User{}, db.fail("user by name", err)
		}
		f.u.CreatedAt = fromMS(created)
		all = append(all, f)
	}
	if err := rows.Err(); err != nil {
		return User{}, db.fail("user by name", err)
	}
	// Among those whose name is the one typed: the one under NameKey,
	// where the migrations and every node of this version put the name's
	// first holder (an account's creation time says nothing of when it
	// claimed its name), else the one made first.
	key := keys[len(keys)-1]
	var first *found
	better := func(f, than *found) bool {
		if (f.key == key) != (than.key == key) {
			return f.key == key
		}
		return f.u.CreatedAt.Before(than.u.CreatedAt) || f.u.CreatedAt.Equal(than.u.CreatedAt) && f.u.ID < than.u.ID
	}
	for i := range all {
		if f := &all[i]; f.u.Name == name && (first == nil || better(f, first)) {
			first = f
		}
	}
	if first != nil {
		return first.u, nil
	}
	for _, key := range keys {
		for _, f := range all {
			if f.key == key && (key == keys[len(keys)-1] || NameKey(f.u.Name) != key) {
				return f.u, nil
			}
		}
	}
	return User{}, db.fail("user by name", sql.ErrNoRows)
}

// UserBySubject implements Users.
func (db *DB) UserBySubject(ctx context.Context, subject string) (User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE subject = $1`, subject))
	return u, db.fail("user by subject", err)
}

// ClaimName implements Users.
func (db *DB) ClaimName(ctx context.Context, id, name, passwordHash string) error {
	return db.claimName(ctx, id, name, passwordHash, false, nil)
}

// ClaimNameSigningOut implements Users: the claim, the deletion of the
// account's devices and the insert of the new one are one transaction.
func (db *DB) ClaimNameSigningOut(ctx context.Context, id, name, passwordHash string, newDevice []byte) error {
	return db.claimName(ctx, id, name, passwordHash, true, newDevice)
}

// claimName is ClaimName, and with signOut ClaimNameSigningOut.
func (db *DB) claimName(ctx context.Context, id, name, passwordHash string, signOut bool, newDevice []byte) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name must be 1-%d bytes", ErrInvalid, MaxNameLen)
	}
	const op = "claiming a name"
	// An account may still hold the name under an older key (UserByName),
	// which the unique index on NameKey does not see: such a name is taken
	// too, or a second account would hold it and logins by that spelling
	// would find the first.
	keys := nameKeys(name)
	key := keys[len(keys)-1]
	older := [2]string{key, key} // the older keys, NameKey again for one missing
	copy(older[:], keys[:len(keys)-1])
	matched := false
	err := db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET name = $2, name_key = $3, password_hash = $4
			WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE name_key IN ($5, $6) AND id <> $1)`, id, name, key, passwordHash, older[0], older[1])
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %q", ErrNameTaken, name)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return nil // nothing written: told apart below
		}
		matched = true
		if !signOut {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = $1`, id); err != nil {
			return err
		}
		if len(newDevice) > 0 {
			_, err = tx.ExecContext(ctx, `INSERT INTO devices (hash, user_id, created_ms) VALUES ($1, $2, $3)`, newDevice, id, db.cfg.now().UnixMilli())
		}
		return err
	})
	if err != nil || matched {
		return err
	}
	var one int
	switch qerr := db.queryRow(ctx, `SELECT 1 FROM users WHERE name_key IN ($1, $2) AND id <> $3`, older[0], older[1], id).Scan(&one); {
	case qerr == nil:
		return fmt.Errorf("%w: %q", ErrNameTaken, name)
	case !errors.Is(qerr, sql.ErrNoRows):
		return db.fail(op, qerr)
	}
	return fmt.Errorf("%w: %s", ErrNotFound, op)
}

// LinkSubject implements Users.
func (db *DB) LinkSubject(ctx context.Context, id, subject string) error {
	if subject == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalid)
	}
	// A link is never replaced: the account's current one is kept, in the
	// same statement, whatever the caller read before.
	res, err := db.w.ExecContext(ctx, `UPDATE users SET subject = $2 WHERE id = $1 AND (subject IS NULL OR subject = $2)`, id, subject)
	if isUniqueViolation(err) {
		return fmt.Errorf("%w: %q", ErrIdentityTaken, subject)
	}
	err = db.affected("linking an identity", res, err)
	if errors.Is(err, ErrNotFound) {
		if u, rerr := db.UserByID(ctx, id); rerr == nil && u.Subject != "" && u.Subject != subject {
			return fmt.Errorf("%w: %q", ErrAccountLinked, id)
		}
	}
	return err
}

// AddDevice implements Users. The account keeps its newest DeviceKeep
// devices, this one included: the others are deleted in the same
// transaction (on the devices_user index).
func (db *DB) AddDevice(ctx context.Context, id string, deviceHash []byte) error {
	if len(deviceHash) == 0 {
		return fmt.Errorf("%w: empty device hash", ErrInvalid)
	}
	return db.tx(ctx, "adding a device", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (hash, user_id, created_ms) VALUES ($1, $2, $3)`, deviceHash, id, db.cfg.now().UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = $1 AND hash <> $2 AND hash NOT IN
			(SELECT hash FROM devices WHERE user_id = $1 AND hash <> $2 ORDER BY created_ms DESC, hash LIMIT $3)`, id, deviceHash, db.cfg.DeviceKeep-1)
		return err
	})
}

// affected turns an UPDATE that matched no row into ErrNotFound.
func (db *DB) affected(op string, res sql.Result, err error) error {
	if err != nil {
		return db.fail(op, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, op)
	}
	return nil
}
