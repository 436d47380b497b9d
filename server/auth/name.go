package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidName reports a display name ValidateName refused.
var ErrInvalidName = errors.New("auth: invalid name")

const (
	// MaxNameRunes is the longest display name, in runes.
	MaxNameRunes = 32
	// GuestIDPrefix starts every guest user id. Identity logins whose
	// subject starts with it are refused, so no one can claim a guest's id.
	GuestIDPrefix = "guest-"
)

// ValidateName trims surrounding white space from a display name and
// checks what is left: 1 to MaxNameRunes runes of valid UTF-8 with no
// control characters, line or paragraph separators, or bidirectional
// overrides (which could make a name render as someone else's). It returns
// the trimmed name or an error wrapping ErrInvalidName.
func ValidateName(name string) (string, error) {
	if len(name) > 4*MaxNameRunes+64 { // refuse before scanning a huge string
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameRunes)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	case n > MaxNameRunes:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameRunes)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || isBidiControl(r) {
			return "", fmt.Errorf("%w: contains control character %U", ErrInvalidName, r)
		}
	}
	return name, nil
}

// isBidiControl reports the explicit bidirectional formatting characters
// (Unicode UAX #9, section 2).
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// newGuestID returns GuestIDPrefix and 128 random bits in base64url.
func newGuestID() string {
	var b [16]byte
	rand.Read(b[:])
	return GuestIDPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}
