package store

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tickroom/tickroom/server/auth"
)

// FuzzNameKey: a name's key is its own key, so a key searched for (the
// admin search keys the text typed) finds the name it came from, and a
// name in capitals is the same name. "Acme™" was under "acmeTM" (™ has no
// case, and NFKC turns it into capitals after the folding), which is the
// key of no name, so "AcmeTM" could be claimed beside it and a search for
// "acmetm" did not find it; Roman numerals, "℡" and "㎒" likewise; and a
// Cherokee letter folded to the other case, both ways (golang/go#46101).
//
// The capitals are checked for the names ValidateName takes (the only ones
// claimed), except two letters whose capital strings.ToUpper makes is
// another letter to Unicode's case folding as well: the dotless ı, which
// ToUpper makes I, and which the default folding (not the Turkic one)
// keeps apart from i, so "Iı" and "ıı" are two names, as they were
// before; and the combining ypogegrammeni U+0345, which ToUpper makes the
// capital iota Ι, a letter of its own and no longer a mark, so it no
// longer goes with the letter before it ("a\u0345\u0301" is "á" and an
// iota, "AΙ\u0301" an "a" and "Ί"), under NFKC_Casefold too.
func FuzzNameKey(f *testing.F) {
	for _, s := range []string{"Acme™", "Ⅻ", "ΤΑΫ́ΓΕΤΟΣ", "Straße", "ﬁ", "Ταΰγετος", "℡", "㎒", "ＡＣＭＥ", "ᏣᎳᎩ", "ꮳꮃꭹ", "\u0345\u0301", "İstanbul", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) || len(name) > MaxNameLen {
			return
		}
		key := NameKey(name)
		if again := NameKey(key); again != key {
			t.Fatalf("NameKey(%q) = %q (%+q), whose own key is %q (%+q)", name, key, key, again, again)
		}
		if _, err := auth.ValidateName(name); err != nil || strings.ContainsAny(name, "ı\u0345") {
			return
		}
		upper := strings.ToUpper(name)
		if got := NameKey(upper); got != key {
			t.Fatalf("NameKey(%q) = %q (%+q), but in capitals NameKey(%q) = %q (%+q)", name, key, key, upper, got, got)
		}
	})
}
