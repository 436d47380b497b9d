package game

import (
	"crypto/sha256"
	"encoding/hex"
)

// PasswordDigest is the digest a cluster directory keeps of a room's
// password so that another node can check a join's password before it
// reserves a seat: hex SHA-256 of the room id, a zero byte and the
// password; empty for no password. The password itself never leaves
// the room's node.
func PasswordDigest(roomID, password string) string {
	if password == "" {
		return ""
	}
	h := sha256.Sum256([]byte(roomID + "\x00" + password))
	return hex.EncodeToString(h[:])
}

// PasswordDigest is PasswordDigest of this room's id and password.
func (r *Room) PasswordDigest() string { return PasswordDigest(r.id, r.password) }
