package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// ErrInvalidName reports a display name ValidateName refused.
var ErrInvalidName = errors.New("auth: invalid name")

const (
	// MaxNameRunes is the longest display name, in runes.
	MaxNameRunes = 32
	// GuestIDPrefix starts every guest user id. Identity logins whose
	// subject starts with it are refused, so no one can claim a guest's id.
	GuestIDPrefix = "guest-"
	// maxCombiningRun is how many combining marks may follow one character.
	maxCombiningRun = 2
	// maxNameInput bounds a name as typed, before the profile composes it:
	// a Hangul syllable typed as its three jamo (macOS and iOS keyboards)
	// is nine bytes, the most one character takes, and runs of white space
	// become one.
	maxNameInput = 9*MaxNameRunes + 64
)

// ValidateName checks a display name and returns it in its one canonical
// form, or an error wrapping ErrInvalidName. Two rules apply:
//
//  1. The PRECIS Nickname profile (RFC 8266, golang.org/x/text/secure/
//     precis): white space is trimmed and runs of it become one space,
//     full-width forms become their usual width, the name is normalized to
//     NFKC, and every character the profile disallows is refused: control
//     and format characters, invisible ones (U+200B zero width space,
//     U+FEFF, U+2060 word joiner, U+3164 and U+FFA0 Hangul fillers, tag
//     characters U+E0000-U+E007F, variation selectors...), bidirectional
//     overrides, line and paragraph separators, unassigned code points, and
//     joiners outside the scripts that need them (so emoji ZWJ sequences
//     are refused; single emoji and skin tones are fine).
//  2. A confusables policy of our own, after UTS #39's "highly
//     restrictive" level: the letters of a name come from one script, or
//     from Latin with Han and the Japanese kana, with Han and Bopomofo, or
//     with Han and Hangul (characters common to all scripts, like digits,
//     punctuation and emoji, go with any); so "Аdmin" with a Cyrillic А is
//     refused. A character may carry at most two combining marks, which
//     stops text that spills over the lines around it. Whole names that
//     look like another in a single script ("Аѕ" in Cyrillic) are not
//     caught: display names are not identities (user ids are), and the
//     client shows them as such.
//
// The result is 1 to MaxNameRunes runes. ValidateName of a result returns
// it unchanged.
func ValidateName(name string) (string, error) {
	if len(name) > maxNameInput { // refuse before scanning a huge string
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameRunes)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	out, err := precis.Nickname.String(name)
	if err != nil {
		if r, ok := firstDisallowed(name); ok {
			if unicode.IsControl(r) {
				return "", fmt.Errorf("%w: contains control character %U", ErrInvalidName, r)
			}
			return "", fmt.Errorf("%w: contains character %U, which a name may not hold (invisible, formatting, unassigned or a misplaced joiner)", ErrInvalidName, r)
		}
		return "", fmt.Errorf("%w: %v", ErrInvalidName, err)
	}
	n := utf8.RuneCountInString(out)
	switch {
	case n == 0:
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	case n > MaxNameRunes:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameRunes)
	}
	if err := checkConfusable(out); err != nil {
		return "", err
	}
	return out, nil
}

// firstDisallowed names the first character that makes the Nickname profile
// refuse s on its own, for the error message.
func firstDisallowed(s string) (rune, bool) {
	for _, r := range s {
		if _, err := precis.Nickname.String("a" + string(r)); err != nil {
			return r, true
		}
	}
	return 0, false
}

// restrictedSets are the script combinations UTS #39 section 5.2 allows in
// one "highly restrictive" identifier besides a single script.
var restrictedSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// checkConfusable applies the mixed-script and combining-mark rules.
func checkConfusable(name string) error {
	var scripts []string
	marks := 0
	for _, r := range name {
		if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) {
			if marks++; marks > maxCombiningRun {
				return fmt.Errorf("%w: more than %d combining marks on one character", ErrInvalidName, maxCombiningRun)
			}
		} else {
			marks = 0
		}
		if s := scriptOf(r); s != "" && !contains(scripts, s) {
			scripts = append(scripts, s)
		}
	}
	if len(scripts) <= 1 {
		return nil
	}
	for _, set := range restrictedSets {
		if subset(scripts, set) {
			return nil
		}
	}
	return fmt.Errorf("%w: mixes the scripts %v", ErrInvalidName, scripts)
}

// scriptOf returns the Unicode script of r, or "" for Common and Inherited
// characters (digits, punctuation, symbols, combining marks), which go with
// any script.
func scriptOf(r rune) string {
	if r < 0x80 {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// newGuestID returns GuestIDPrefix and 128 random bits in base64url.
func newGuestID() string {
	var b [16]byte
	rand.Read(b[:])
	return GuestIDPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}
