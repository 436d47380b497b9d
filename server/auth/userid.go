package auth

import (
	"errors"
	"fmt"
)

// ErrInvalidUserID reports a user id ValidateUserID refused.
var ErrInvalidUserID = errors.New("auth: invalid user id")

// MaxUserIDLen is the longest user id, in bytes: guest ids, identity
// tokens' "sub", and every user id a client names in a message.
const MaxUserIDLen = 128

// maxUserIDLen is MaxUserIDLen for this package's older callers.
const maxUserIDLen = MaxUserIDLen

// ValidateUserID checks a user id: 1 to MaxUserIDLen bytes of printable
// ASCII without spaces (0x21-0x7E). OpenID Connect limits "sub" to ASCII,
// so every provider's ids fit, and an id made only of visible ASCII cannot
// hide invisible or look-alike characters. It returns the id or an error
// wrapping ErrInvalidUserID.
func ValidateUserID(id string) (string, error) {
	if id == "" || len(id) > MaxUserIDLen {
		return "", fmt.Errorf("%w: must be 1-%d bytes", ErrInvalidUserID, MaxUserIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return "", fmt.Errorf("%w: byte %#x at %d is not printable ASCII", ErrInvalidUserID, c, i)
		}
	}
	return id, nil
}
