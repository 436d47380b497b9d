package auth

import (
	"encoding/json"
	"fmt"
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
	return a.seal(watchPassTag, payload), nil
}

// VerifyWatchPass checks pass's signature, issue time and expiry at now
// and returns what it asserts. Its errors are Verify's: ErrMalformedToken,
// ErrBadSignature (a session token is one: its signature is over another
// tag), or ErrTokenIssuedAhead or ErrTokenExpired with the pass.
func (a *Authority) VerifyWatchPass(pass string, now time.Time) (WatchPass, error) {
	payload, err := a.open(watchPassTag, pass)
	if err != nil {
		return WatchPass{}, err
	}
	var w wirePass
	if err := json.Unmarshal(payload, &w); err != nil || w.Room == "" || w.Sub == "" || w.Exp <= w.Iat {
		return WatchPass{}, ErrMalformedToken
	}
	p := WatchPass{RoomID: w.Room, UserID: w.Sub, IssuedAt: time.Unix(w.Iat, 0), ExpiresAt: time.Unix(w.Exp, 0)}
	if issuedAhead(p.IssuedAt, now) {
		return p, ErrTokenIssuedAhead
	}
	if !now.Before(p.ExpiresAt) {
		return p, ErrTokenExpired
	}
	return p, nil
}
