package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The suite's cases of account names and identities: names unique
// whatever their case or compatibility form, and an identity linked to
// one account.

func testNamesUnique(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	for i, name := range []string{"a", "b", "c", "d"} {
		if _, err := db.CreateGuest(ctx, Guest{ID: name, Name: "guest", DeviceHash: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.ClaimName(ctx, "a", "Zoë", "hash-a"); err != nil {
		t.Fatal(err)
	}
	for _, taken := range []string{"Zoë", "ZOË", "zoë"} {
		if err := db.ClaimName(ctx, "b", taken, "hash-b"); !errors.Is(err, ErrNameTaken) {
			t.Errorf("ClaimName(%q) = %v, want ErrNameTaken", taken, err)
		}
	}
	// Case folding, not just lower-casing: ß folds to ss.
	if err := db.ClaimName(ctx, "c", "Straße", "h"); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimName(ctx, "d", "STRASSE", "h"); !errors.Is(err, ErrNameTaken) {
		t.Errorf("STRASSE after Straße: %v, want ErrNameTaken", err)
	}
	// Folded, a name may need composing again: ΰ (U+03B0) folds to υ and
	// two marks, Ϋ́ (U+03AB U+0301) to ϋ and one.
	if _, err := db.CreateGuest(ctx, Guest{ID: "e", Name: "guest", DeviceHash: []byte{4}}); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimName(ctx, "e", "Ταΰγετος", "h"); err != nil {
		t.Fatal(err)
	}
	if err := db.ClaimName(ctx, "d", "ΤΑ\u03ab\u0301ΓΕΤΟΣ", "h"); !errors.Is(err, ErrNameTaken) {
		t.Errorf("ΤΑΫ́ΓΕΤΟΣ after Ταΰγετος: %v, want ErrNameTaken", err)
	}
	if u, err := db.UserByName(ctx, "ΤΑ\u03ab\u0301ΓΕΤΟΣ"); err != nil || u.ID != "e" {
		t.Errorf("UserByName(ΤΑΫ́ΓΕΤΟΣ) = %+v, %v, want e", u, err)
	}
	// A name claimed under the key of before (folded, not normalized
	// again) is found as it was typed.
	if _, err := db.w.ExecContext(ctx, `UPDATE users SET name_key = $2 WHERE id = $1`, "e", foldedNameKey("Ταΰγετος")); err != nil {
		t.Fatal(err)
	}
	if u, err := db.UserByName(ctx, "Ταΰγετος"); err != nil || u.ID != "e" {
		t.Errorf("UserByName(Ταΰγετος) claimed under the folded key = %+v, %v, want e", u, err)
	}
	// Nor can that spelling be claimed again while that account holds it:
	// its key is not NameKey's, so the unique index alone let a second
	// account take it, which every login by that spelling then missed.
	if err := db.ClaimName(ctx, "d", "Ταΰγετος", "h"); !errors.Is(err, ErrNameTaken) {
		t.Errorf("Ταΰγετος held under the folded key, claimed again: %v, want ErrNameTaken", err)
	}
	if u, err := db.UserByName(ctx, "Ταΰγετος"); err != nil || u.ID != "e" {
		t.Errorf("UserByName(Ταΰγετος) after a second claim = %+v, %v, want e", u, err)
	}
	u, err := db.UserByName(ctx, "ZOË")
	if err != nil || u.ID != "a" || u.Name != "Zoë" || !u.Claimed || u.PasswordHash != "hash-a" {
		t.Fatalf("UserByName(ZOË) = %+v, %v", u, err)
	}
	// Re-claiming one's own name (a new password) is fine.
	if err := db.ClaimName(ctx, "a", "zoë", "hash-a2"); err != nil {
		t.Fatalf("re-claim own name: %v", err)
	}
	if err := db.ClaimName(ctx, "nobody", "Eve", "h"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("claim for an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := db.UserByName(ctx, "guest"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unclaimed guest name is found by name: %v", err)
	}
}

// testCompatibilityNames: a name whose NFKC has a case is one name with
// that NFKC in any case: "™" has none, and NFKC turns it into "TM", so
// "Acme™" was under the key "acmeTM" and "AcmeTM" (under "acmetm") could be
// claimed by another account, and looked up as "acmetm" did not find it.
// Likewise "℡" (NFKC "TEL") and "㎒" ("MHz"); and Cherokee, which the
// case folding of golang.org/x/text turned into the other case, both ways,
// so "ᏣᎳᎩ" and "ꮳꮃꭹ" were two names.
func testCompatibilityNames(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	for i, tc := range []struct{ claimed, other string }{
		{"Acme™", "AcmeTM"},
		{"BetaTM", "beta™"},
		{"℡ Co", "tel co"},
		{"㎒ Radio", "MHZ RADIO"},
		{"ᏣᎳᎩ", "ꮳꮃꭹ"},
	} {
		first, second := fmt.Sprintf("%d-first", i), fmt.Sprintf("%d-second", i)
		for j, id := range []string{first, second} {
			if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: "guest", DeviceHash: []byte{byte(i), byte(j)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.ClaimName(ctx, first, tc.claimed, "hash-"+first); err != nil {
			t.Fatalf("claim %q: %v", tc.claimed, err)
		}
		if err := db.ClaimName(ctx, second, tc.other, "hash-"+second); !errors.Is(err, ErrNameTaken) {
			t.Errorf("claim %q after %q by another account: %v, want ErrNameTaken", tc.other, tc.claimed, err)
		}
		for _, name := range []string{tc.claimed, tc.other, NameKey(tc.claimed), strings.ToUpper(tc.claimed)} {
			if u, err := db.UserByName(ctx, name); err != nil || u.ID != first || u.Name != tc.claimed {
				t.Errorf("UserByName(%q) after %q was claimed: %+v, %v, want %s", name, tc.claimed, u, err, first)
			}
		}
	}
	// A node of an older version, during a rolling upgrade, claims under
	// the key of its version: the account logs in by the name as it was
	// claimed, and no other account can claim a spelling with that key
	// (one whose key is another on the older version, "ΔΑΪ́Σ" beside "Δαΐς"
	// claimed before migration 7, still can, as on that version).
	for i, tc := range []struct{ name, key, taken string }{
		{"Gamma™", "gammaTM", "GAMMA™"},      // the key from migration 7 to 9
		{"Δαΐς", "δαι\u0308\u0301σ", "δαΐς"}, // before migration 7: folded, not composed
	} {
		id := fmt.Sprintf("old-node-%d", i)
		if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: "guest", DeviceHash: []byte{byte(100 + i)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.ExecContext(ctx, `UPDATE users SET name = $2, name_key = $3, password_hash = 'h' WHERE id = $1`, id, tc.name, tc.key); err != nil {
			t.Fatal(err)
		}
		if u, err := db.UserByName(ctx, tc.name); err != nil || u.ID != id {
			t.Errorf("UserByName(%q) claimed under %+q by an older node: %+v, %v, want %s", tc.name, tc.key, u, err, id)
		}
		if err := db.ClaimName(ctx, "0-second", tc.taken, "h"); !errors.Is(err, ErrNameTaken) {
			t.Errorf("claim %q after an older node claimed %q under %+q: %v, want ErrNameTaken", tc.taken, tc.name, tc.key, err)
		}
	}
	// An older node, which no longer finds "ᏣᎳᎩ" under the key it knows
	// once the name moved to NameKey, lets another account claim the very
	// same spelling under that key: a login by it still finds the account
	// that held it first.
	if _, err := db.CreateGuest(ctx, Guest{ID: "intruder", Name: "guest", DeviceHash: []byte{200}}); err != nil {
		t.Fatal(err)
	}
	// An account made before the name's first holder (a guest of long
	// ago): claiming keeps its creation time.
	if _, err := db.w.ExecContext(ctx, `UPDATE users SET name = $2, name_key = $3, password_hash = 'h', created_ms = 1 WHERE id = $1`, "intruder", "ᏣᎳᎩ", "ꮳꮃꭹ"); err != nil {
		t.Fatal(err)
	}
	if u, err := db.UserByName(ctx, "ᏣᎳᎩ"); err != nil || u.ID != "4-first" {
		t.Errorf("UserByName(%q) once an older node let another account claim it under %+q: %+v, %v, want 4-first, which claimed it first", "ᏣᎳᎩ", "ꮳꮃꭹ", u, err)
	}
}

func testIdentity(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	for i, id := range []string{"a", "b"} {
		if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: id, DeviceHash: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.LinkSubject(ctx, "a", "sub-1"); err != nil {
		t.Fatal(err)
	}
	if err := db.LinkSubject(ctx, "b", "sub-1"); !errors.Is(err, ErrIdentityTaken) {
		t.Fatalf("second link: %v, want ErrIdentityTaken", err)
	}
	// A link is never replaced (POST /v1/account/link checks the account
	// it read, but two links of one account may both pass that check):
	// another identity is ErrAccountLinked, the same one again is fine.
	if err := db.LinkSubject(ctx, "a", "sub-3"); !errors.Is(err, ErrAccountLinked) {
		t.Fatalf("another identity for a linked account: %v, want ErrAccountLinked", err)
	}
	if err := db.LinkSubject(ctx, "a", "sub-1"); err != nil {
		t.Fatalf("the same link again: %v", err)
	}
	if err := db.LinkSubject(ctx, "nobody", "sub-4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a link of no account: %v, want ErrNotFound", err)
	}
	if u, err := db.UserBySubject(ctx, "sub-1"); err != nil || u.ID != "a" || u.Subject != "sub-1" {
		t.Fatalf("UserBySubject = %+v, %v", u, err)
	}
	if u, err := db.CreateLinked(ctx, "sub-2", "Cy", "sub-2"); err != nil || u.Subject != "sub-2" {
		t.Fatalf("CreateLinked = %+v, %v", u, err)
	}
	if _, err := db.CreateLinked(ctx, "c", "Cy", "sub-1"); !errors.Is(err, ErrIdentityTaken) {
		t.Fatalf("CreateLinked with a linked subject: %v, want ErrIdentityTaken", err)
	}
	if u, err := db.UserBySubject(ctx, "sub-2"); err != nil || u.ID != "sub-2" || u.Name != "Cy" {
		t.Fatalf("UserBySubject(sub-2) = %+v, %v", u, err)
	}
}
