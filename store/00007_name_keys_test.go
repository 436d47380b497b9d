package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// testNameKeysMigrated: a name claimed before NameKey normalized after
// folding is stored under foldedNameKey, and the same name in another
// spelling could be claimed again by another account. Migration 7 puts
// every claimed name under NameKey; where two accounts already hold one
// name in two spellings, the one made first gets the name's key and the
// other keeps its own spelling's, and each logs in as it typed its name.
func testNameKeysMigrated(t *testing.T, fresh backend) {
	ctx := context.Background()
	cfg := fresh(t)
	backendName := BackendSQLite
	if cfg.URL != "" {
		backendName = BackendPostgres
	}
	// The SQL migrations before 7 alone: the schema before migration 7.
	cfg.migrations = sqlMigrationsBefore(t, backendName, nameKeysVersion)
	old, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v := old.SchemaVersion(); v >= nameKeysVersion {
		t.Fatalf("schema %d before the migration", v)
	}
	tx, err := old.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	insert := func(id, name, key, hash string, created int64) {
		t.Helper()
		var k any
		if key != "" {
			k = key
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, name_key, password_hash, created_ms, seen_ms) VALUES ($1, $2, $3, $4, $5, $5)`, id, name, k, hash, created); err != nil {
			t.Fatal(err)
		}
	}
	// More accounts than one page of the migration, the one to rewrite
	// read in the last page.
	for i := range 2*nameKeysPage + 1 {
		insert(fmt.Sprintf("p%05d", i), fmt.Sprintf("Player%d", i), NameKey(fmt.Sprintf("Player%d", i)), "h", 1)
	}
	insert("zz-first", "Ταΰγετος", foldedNameKey("Ταΰγετος"), "hash-first", 1000)
	insert("zz-second", "guest", "", "", 2000)
	type pair struct {
		name, older, younger string // older's spelling, then younger's
		olderKey, youngerKey func(string) string
	}
	pairs := []pair{
		// Claimed before and again after the upgrade.
		{"before, then after", "Χαΐρης", "ΧΑ\u03aa\u0301ΡΗΣ", foldedNameKey, NameKey},
		// Both claimed before (the younger read first, by id).
		{"both before", "ΕΥ\u03ab\u0301ΔΡΟΣ", "Ευΰδρος", foldedNameKey, foldedNameKey},
		// The older under NameKey, the younger under the folded key (a
		// node of an older version claimed it after the upgrade).
		{"after, then by an older node", "Αΐδης", "Α\u03aa\u0301ΔΗΣ", NameKey, foldedNameKey},
	}
	for i, p := range pairs {
		if NameKey(p.older) != NameKey(p.younger) || foldedNameKey(p.older) == foldedNameKey(p.younger) {
			t.Fatalf("%s: %q and %q are not one name under two folded keys", p.name, p.older, p.younger)
		}
		// ids sort the younger first, so the migration reads it first.
		older, younger := fmt.Sprintf("c%d-b-older", i), fmt.Sprintf("c%d-a-younger", i)
		insert(older, p.older, p.olderKey(p.older), "hash-"+older, 3000)
		insert(younger, p.younger, p.youngerKey(p.younger), "hash-"+younger, 4000)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old.Close()

	cfg.migrations = nil
	db := open(t, cfg)
	if v := db.SchemaVersion(); v < nameKeysVersion {
		t.Fatalf("schema %d after the upgrade", v)
	}
	if err := db.ClaimName(ctx, "zz-second", "ΤΑ\u03ab\u0301ΓΕΤΟΣ", "hash-second"); !errors.Is(err, ErrNameTaken) {
		t.Errorf("claim ΤΑΫ́ΓΕΤΟΣ after Ταΰγετος was claimed before the upgrade: %v, want ErrNameTaken", err)
	}
	for _, name := range []string{"Ταΰγετος", "ΤΑ\u03ab\u0301ΓΕΤΟΣ", "ταΰγετος"} {
		if u, err := db.UserByName(ctx, name); err != nil || u.ID != "zz-first" || u.PasswordHash != "hash-first" {
			t.Errorf("UserByName(%q) = %+v, %v, want zz-first with its password", name, u, err)
		}
	}
	for i, p := range pairs {
		older, younger := fmt.Sprintf("c%d-b-older", i), fmt.Sprintf("c%d-a-younger", i)
		for name, id := range map[string]string{p.older: older, p.younger: younger} {
			u, err := db.UserByName(ctx, name)
			if err != nil || u.ID != id || u.Name != name || u.PasswordHash != "hash-"+id || !u.Claimed {
				t.Errorf("%s: UserByName(%q) = %+v, %v, want %s with its name and password", p.name, name, u, err, id)
			}
		}
		var key string
		if err := db.r.QueryRowContext(ctx, `SELECT name_key FROM users WHERE id = $1`, older).Scan(&key); err != nil || key != NameKey(p.older) {
			t.Errorf("%s: the older account's key %q, %v, want the name's key %q", p.name, key, err, NameKey(p.older))
		}
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name_key IS NOT NULL`).Scan(&n); err != nil || n != 2*nameKeysPage+2+2*len(pairs) {
		t.Errorf("claimed accounts after the migration: %d, %v, want %d", n, err, 2*nameKeysPage+2+2*len(pairs))
	}
}
