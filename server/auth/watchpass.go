package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// watchPassTag separates watch-pass signatures from session tokens signed
// with the same keys: a session token never verifies as a pass, nor a pass
// as a session token.
const watchPassTag = "tickroom.watchpass.v1."

// maxRoomIDLen caps a pass's room id, as the protocol caps a room id.
const maxRoomIDLen = 128

// WatchPass is what a watch pass asserts: a member of a room let whoever
// holds it watch that room's spectator feed until it expires. It grants
// nothing else: no login, no play, no chat. Times have second precision.
type WatchPass struct {
	// RoomID is the one room the pass opens.
	RoomID string
	// UserID is the member who asked for it.
	UserID string
	// IssuedAt is when the pass was issued.
	IssuedAt time.Time
	// ExpiresAt is when the pass stops being valid.
	ExpiresAt time.Time
}

// wirePass is the JSON inside a watch pass.
type wirePass struct {
	Room string `json:"room"`
	Sub  string `json:"sub"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
}

// IssueWatchPass signs p with the first configured key, in the session
// token's format ("<key id>.<claims>.<signature>") under another domain
// tag. RoomID must be 1-128 bytes, UserID 1-128 bytes, and ExpiresAt after
// IssuedAt.
func (a *Authority) IssueWatchPass(p WatchPass) (string, error) {
	if p.RoomID == "" || len(p.RoomID) > maxRoomIDLen || p.UserID == "" || len(p.UserID) > maxUserIDLen {
		return "", fmt.Errorf("%w: room id must be 1-%d bytes, user id 1-%d", ErrInvalidClaims, maxRoomIDLen, maxUserIDLen)
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return "", fmt.Errorf("%w: expiry not after issue time", ErrInvalidClaims)
	}
	payload, err := json.Marshal(wirePass{Room: p.RoomID, Sub: p.UserID, Iat: p.IssuedAt.Unix(), Exp: p.ExpiresAt.Unix()})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidClaims, err)
	}
	k := a.cfg.Keys[0]
	signed := k.ID + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac(watchPassTag, k.Secret, signed)), nil
}

// VerifyWatchPass checks pass's signature and expiry at now and returns
// what it asserts. Its errors are Verify's: ErrMalformedToken,
// ErrBadSignature (a session token is one: its signature is over another
// tag), or ErrTokenExpired with the pass.
func (a *Authority) VerifyWatchPass(pass string, now time.Time) (WatchPass, error) {
	if len(pass) == 0 || len(pass) > maxTokenLen {
		return WatchPass{}, ErrMalformedToken
	}
	kid, rest, ok := strings.Cut(pass, ".")
	if !ok {
		return WatchPass{}, ErrMalformedToken
	}
	payloadB64, sigB64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigB64, ".") {
		return WatchPass{}, ErrMalformedToken
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigB64)
	if err != nil || len(sig) != sha256.Size {
		return WatchPass{}, ErrMalformedToken
	}
	key, ok := a.keys[kid]
	if !ok {
		return WatchPass{}, ErrBadSignature
	}
	if !hmac.Equal(sig, mac(watchPassTag, key, pass[:len(kid)+1+len(payloadB64)])) {
		return WatchPass{}, ErrBadSignature
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(payloadB64)
	if err != nil {
		return WatchPass{}, ErrMalformedToken
	}
	var w wirePass
	if err := json.Unmarshal(payload, &w); err != nil || w.Room == "" || w.Sub == "" || w.Exp <= w.Iat {
		return WatchPass{}, ErrMalformedToken
	}
	p := WatchPass{RoomID: w.Room, UserID: w.Sub, IssuedAt: time.Unix(w.Iat, 0), ExpiresAt: time.Unix(w.Exp, 0)}
	if !now.Before(p.ExpiresAt) {
		return p, ErrTokenExpired
	}
	return p, nil
}
