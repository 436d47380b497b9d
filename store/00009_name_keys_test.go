package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// testCompatibilityKeysMigrated: from migration 7 to migration 9 a name
// was claimed under its case folding made NFKC, which is not the key of
// the name when NFKC gives letters with a case: "Acme™" was under
// "acmeTM", and "AcmeTM" (under "acmetm") could be claimed beside it.
// Migration 9 puts every claimed name under NameKey; where two accounts
// already hold one name in two spellings, the one made first gets the
// name's key if the other has a key of its own spelling to keep, and each
// logs in as it typed its name. The database is at version 8 (migration 7
// run, and the results' keys) before.
func testCompatibilityKeysMigrated(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	cfg.migrateTo = 8
	old, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v := old.SchemaVersion(); v != 8 {
		t.Fatalf("schema %d before the migration, want 8", v)
	}
	tx, err := old.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	insert := func(id, name, key string, created int64) {
		t.Helper()
		var k any
		if key != "" {
			k = key
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, name_key, password_hash, created_ms, seen_ms) VALUES ($1, $2, $3, $4, $5, $5)`, id, name, k, "hash-"+id, created); err != nil {
			t.Fatal(err)
		}
	}
	// More accounts than one page of the migration, the ones to rewrite
	// read after them.
	for i := range 2*nameKeysPage + 1 {
		insert(fmt.Sprintf("p%05d", i), fmt.Sprintf("Player%d", i), fmt.Sprintf("player%d", i), 1)
	}
	insert("zz-guest", "guest", "", 5000)
	// Alone under the key of version 8: it moves to the name's.
	insert("zz-tel", "℡ Co", "TEL co", 1000)
	type account struct{ id, name, key string }
	type pair struct {
		what           string
		older, younger account // ids sort the younger first, so it is read first
		olderKeeps     bool    // the older account ends under the name's key
	}
	pairs := []pair{
		{"the older under the key of version 8", account{"c0-b", "Acme™", "acmeTM"}, account{"c0-a", "AcmeTM", "acmetm"}, false},
		{"the younger under the key of version 8", account{"c1-b", "mhz radio", "mhz radio"}, account{"c1-a", "㎒ Radio", "MHz radio"}, true},
		{"both under keys of version 8", account{"c2-b", "X™", "xTM"}, account{"c2-a", "Xᵀᵐ", "xTm"}, true},
		{"Cherokee, folded to the other case", account{"c3-b", "ᏣᎳᎩ", "ꮳꮃꭹ"}, account{"c3-a", "ꮳꮃꭹ", "ᏣᎳᎩ"}, false},
	}
	for _, p := range pairs {
		if NameKey(p.older.name) != NameKey(p.younger.name) {
			t.Errorf("%s: %q and %q are two names: %q, %q", p.what, p.older.name, p.younger.name, NameKey(p.older.name), NameKey(p.younger.name))
		}
		insert(p.older.id, p.older.name, p.older.key, 3000)
		insert(p.younger.id, p.younger.name, p.younger.key, 4000)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old.Close()

	cfg.migrateTo = 0
	db := open(t, cfg)
	if v := db.SchemaVersion(); v < 9 {
		t.Errorf("schema %d after the upgrade, want 9 or later", v)
	}
	loginAs := func(what, name, id string) {
		t.Helper()
		u, err := db.UserByName(ctx, name)
		if err != nil || u.ID != id || u.PasswordHash != "hash-"+id || !u.Claimed {
			t.Errorf("%s: UserByName(%q) = %+v, %v, want %s with its password", what, name, u, err, id)
		}
	}
	keyOf := func(id string) string {
		var key string
		if err := db.r.QueryRowContext(ctx, `SELECT name_key FROM users WHERE id = $1`, id).Scan(&key); err != nil {
			t.Fatal(err)
		}
		return key
	}
	for _, name := range []string{"℡ Co", "TEL CO", "tel co"} {
		loginAs("alone", name, "zz-tel")
	}
	if k := keyOf("zz-tel"); k != NameKey("℡ Co") {
		t.Errorf("℡ Co alone: key %q after the migration, want the name's, %q", k, NameKey("℡ Co"))
	}
	for _, p := range pairs {
		loginAs(p.what, p.older.name, p.older.id)
		loginAs(p.what, p.younger.name, p.younger.id)
		if got := keyOf(p.older.id) == NameKey(p.older.name); got != p.olderKeeps {
			t.Errorf("%s: the older account (%s) holds the name's key: %v, want %v (keys %q, %q)", p.what, p.older.name, got, p.olderKeeps, keyOf(p.older.id), keyOf(p.younger.id))
		}
	}
	for _, name := range []string{"ACMETM", "acme™", "TEL CO", "MHZ RADIO", "xtm", "XTM", "ᏣᎳᎩ", "ꮳꮃꭹ", "Ꮳꮃꭹ"} {
		if err := db.ClaimName(ctx, "zz-guest", name, "h"); !errors.Is(err, ErrNameTaken) {
			t.Errorf("claim %q after the migration: %v, want ErrNameTaken", name, err)
		}
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name_key IS NOT NULL`).Scan(&n); err != nil || n != 2*nameKeysPage+2+2*len(pairs) {
		t.Errorf("claimed accounts after the migration: %d, %v, want %d", n, err, 2*nameKeysPage+2+2*len(pairs))
	}
}
