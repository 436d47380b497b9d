package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tickroom/tickroom/internal/logspace"
	"github.com/tickroom/tickroom/server/clientip"
)

// Errors Verify returns; identity verification returns them too.
var (
	// ErrTokenExpired: the token's expiry has passed.
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrTokenIssuedAhead: the token's issue time is more than
	// MaxClockSkew ahead of the verifier's clock (the clock of the server
	// that issued it runs fast). Such a token would pass a kick, which
	// refuses the tokens issued up to its time.
	ErrTokenIssuedAhead = errors.New("auth: token issued in the future (the issuing server's clock is ahead)")
	// ErrBadSignature: the signature does not match, or no configured key
	// has the token's key id.
	ErrBadSignature = errors.New("auth: bad signature")
	// ErrMalformedToken: the token is not in the expected format.
	ErrMalformedToken = errors.New("auth: malformed token")
	// ErrInvalidClaims: Issue was given claims it cannot sign.
	ErrInvalidClaims = errors.New("auth: invalid claims")
)

// MaxClockSkew is how far ahead of the verifier's clock a session token
// or a watch pass may have been issued: the servers of a cluster, each
// issuing with its own clock, may differ this much.
const MaxClockSkew = time.Minute

// sessionTag separates session-token signatures from any other use of the
// same key.
const sessionTag = "tickroom.session.v1."

// Claims is what a session token asserts. Times have second precision.
type Claims struct {
	// UserID is the user's stable id.
	UserID string
	// Name is the user's display name.
	Name string
	// Guest is true for a guest login.
	Guest bool
	// IssuedAt is when the token was issued.
	IssuedAt time.Time
	// ExpiresAt is when the token stops being valid.
	ExpiresAt time.Time
}

// wireClaims is the JSON inside a session token.
type wireClaims struct {
	Sub   string `json:"sub"`
	Name  string `json:"name"`
	Guest bool   `json:"guest,omitempty"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// Authority issues and verifies session tokens and serves logins. It is
// immutable after New and safe for use from any goroutine.
type Authority struct {
	cfg    Config
	keys   map[string][]byte
	guests *clientip.Limiter // guest logins per client address
	// storeLogs spaces the lines of failed account store calls.
	storeLogs logspace.Spacer
}

// New returns an Authority for cfg, or an error wrapping ErrConfig.
func New(cfg Config) (*Authority, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Authority{cfg: cfg, keys: make(map[string][]byte, len(cfg.Keys)), guests: newLoginLimiter(cfg.GuestLoginRate, cfg.GuestLoginBurst, cfg.GuestLoginAddrs)}
	for _, k := range cfg.Keys {
		a.keys[k.ID] = append([]byte(nil), k.Secret...)
	}
	return a, nil
}

// TTL returns the lifetime of the tokens Issue makes when the claims set
// no expiry.
func (a *Authority) TTL() time.Duration { return a.cfg.TTL }

// Issue signs c with the first configured key. A zero IssuedAt means now; a
// zero ExpiresAt means IssuedAt plus the configured TTL. UserID must be
// non-empty and at most 128 bytes.
func (a *Authority) Issue(c Claims) (string, error) {
	if c.UserID == "" || len(c.UserID) > maxUserIDLen {
		return "", fmt.Errorf("%w: user id must be 1-%d bytes", ErrInvalidClaims, maxUserIDLen)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = a.cfg.Now()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(a.cfg.TTL)
	}
	if !c.ExpiresAt.After(c.IssuedAt) {
		return "", fmt.Errorf("%w: expiry not after issue time", ErrInvalidClaims)
	}
	payload, err := json.Marshal(wireClaims{
		Sub: c.UserID, Name: c.Name, Guest: c.Guest,
		Iat: c.IssuedAt.Unix(), Exp: c.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidClaims, err)
	}
	tok := a.seal(sessionTag, payload)
	if len(tok) > maxTokenLen {
		return "", fmt.Errorf("%w: token would be %d bytes, over %d", ErrInvalidClaims, len(tok), maxTokenLen)
	}
	return tok, nil
}

// Verify checks token's signature, issue time and expiry at now and
// returns its claims. It returns ErrMalformedToken (also for a signed
// token whose claims are unusable), ErrBadSignature (also for a key id no
// configured key has), or ErrTokenIssuedAhead (issued more than
// MaxClockSkew after now) or ErrTokenExpired together with the claims, so
// the caller can log whose token it was. A token is expired from its
// ExpiresAt second on.
func (a *Authority) Verify(token string, now time.Time) (Claims, error) {
	payload, err := a.open(sessionTag, token)
	if err != nil {
		return Claims{}, err
	}
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil || w.Sub == "" || w.Exp <= w.Iat {
		return Claims{}, ErrMalformedToken
	}
	c := Claims{
		UserID: w.Sub, Name: w.Name, Guest: w.Guest,
		IssuedAt: time.Unix(w.Iat, 0), ExpiresAt: time.Unix(w.Exp, 0),
	}
	if issuedAhead(c.IssuedAt, now) {
		return c, ErrTokenIssuedAhead
	}
	if !now.Before(c.ExpiresAt) {
		return c, ErrTokenExpired
	}
	return c, nil
}

// Refusal is the one-line reason a refused session token is told of,
// for an error of Verify.
func Refusal(err error) string {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return "session token expired"
	case errors.Is(err, ErrTokenIssuedAhead):
		return "session token issued in the future: the clock of the server that issued it is ahead; log in again"
	default:
		return "invalid session token"
	}
}

// issuedAhead reports an issue time more than MaxClockSkew after now.
func issuedAhead(issuedAt, now time.Time) bool { return issuedAt.After(now.Add(MaxClockSkew)) }

// seal signs payload with the first configured key as a token of the
// kind tag names: "<key id>.<payload>.<signature>", base64url.
func (a *Authority) seal(tag string, payload []byte) string {
	k := a.cfg.Keys[0]
	var b strings.Builder
	b.Grow(len(k.ID) + 2 + base64.RawURLEncoding.EncodedLen(len(payload)) + 43)
	b.WriteString(k.ID)
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	sig := mac(tag, k.Secret, b.String())
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return b.String()
}

// open checks the signature of a token of the kind tag names and returns
// its payload: ErrMalformedToken for one that is not three base64url
// parts of a sane size, ErrBadSignature for a key id no configured key
// has or a signature over another tag or payload.
func (a *Authority) open(tag, token string) ([]byte, error) {
	if len(token) == 0 || len(token) > maxTokenLen {
		return nil, ErrMalformedToken
	}
	kid, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrMalformedToken
	}
	payloadB64, sigB64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigB64, ".") {
		return nil, ErrMalformedToken
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigB64)
	if err != nil || len(sig) != sha256.Size {
		return nil, ErrMalformedToken
	}
	key, ok := a.keys[kid]
	if !ok {
		return nil, ErrBadSignature
	}
	if !hmac.Equal(sig, mac(tag, key, token[:len(kid)+1+len(payloadB64)])) {
		return nil, ErrBadSignature
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(payloadB64)
	if err != nil {
		return nil, ErrMalformedToken
	}
	return payload, nil
}

// mac signs the "<kid>.<claims>" prefix of a token of the kind tag names.
func mac(tag string, key []byte, signed string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tag))
	m.Write([]byte(signed))
	return m.Sum(nil)
}
