package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
)

// Errors VerifyIdentity returns besides those of Verify.
var (
	// ErrIdentityDisabled: no identity key is configured.
	ErrIdentityDisabled = errors.New("auth: identity login not enabled")
	// ErrBadAlgorithm: a JWT names an algorithm other than HS256 ("none"
	// included).
	ErrBadAlgorithm = errors.New("auth: unsupported token algorithm")
	// ErrNotYetValid: the token's "nbf" lies in the future.
	ErrNotYetValid = errors.New("auth: token not yet valid")
	// ErrBadIssuer: the token's "iss" is not the configured issuer.
	ErrBadIssuer = errors.New("auth: wrong token issuer")
	// ErrBadAudience: the token's "aud" does not name the configured
	// audience.
	ErrBadAudience = errors.New("auth: wrong token audience")
)

// Identity is who an external identity token says the user is.
type Identity struct {
	// Subject is the provider's user id ("sub"); it becomes the user id.
	Subject string
	// Name is the "name" claim, possibly empty.
	Name string
	// ExpiresAt is the token's "exp".
	ExpiresAt time.Time
}

// identityClaims are the claims both identity formats carry. exp and sub
// are required; the rest are checked when present or configured.
type identityClaims struct {
	Sub  string          `json:"sub"`
	Name string          `json:"name"`
	Exp  *float64        `json:"exp"`
	Nbf  *float64        `json:"nbf"`
	Iss  string          `json:"iss"`
	Aud  json.RawMessage `json:"aud"`
}

// VerifyIdentity checks an identity provider's token at now: either a JWT
// ("<header>.<claims>.<signature>", header alg exactly "HS256") or an HMAC
// token ("<claims>.<signature>", signature HMAC-SHA256 over the base64url
// claims), both signed with IdentityConfig.HMACKey. It requires "sub" and
// "exp", checks "nbf", and checks "iss" and "aud" when the config names
// them.
func (a *Authority) VerifyIdentity(token string, now time.Time) (Identity, error) {
	key := a.cfg.Identity.HMACKey
	if len(key) == 0 {
		return Identity{}, ErrIdentityDisabled
	}
	if len(token) == 0 || len(token) > maxTokenLen {
		return Identity{}, ErrMalformedToken
	}
	parts := strings.Split(token, ".")
	var signed, claimsB64, sigB64 string
	switch len(parts) {
	case 3:
		if err := checkJWTHeader(parts[0]); err != nil {
			return Identity{}, err
		}
		signed, claimsB64, sigB64 = parts[0]+"."+parts[1], parts[1], parts[2]
	case 2:
		signed, claimsB64, sigB64 = parts[0], parts[0], parts[1]
	default:
		return Identity{}, ErrMalformedToken
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigB64)
	if err != nil || len(sig) != sha256.Size {
		return Identity{}, ErrMalformedToken
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return Identity{}, ErrBadSignature
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(claimsB64)
	if err != nil {
		return Identity{}, ErrMalformedToken
	}
	var c identityClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Exp == nil || c.Sub == "" || len(c.Sub) > maxUserIDLen {
		return Identity{}, ErrMalformedToken
	}
	exp, ok := numericDate(*c.Exp)
	if !ok {
		return Identity{}, ErrMalformedToken
	}
	leeway := a.cfg.Identity.Leeway
	if !now.Before(exp.Add(leeway)) {
		return Identity{}, ErrTokenExpired
	}
	if c.Nbf != nil {
		nbf, ok := numericDate(*c.Nbf)
		if !ok {
			return Identity{}, ErrMalformedToken
		}
		if now.Add(leeway).Before(nbf) {
			return Identity{}, ErrNotYetValid
		}
	}
	if iss := a.cfg.Identity.Issuer; iss != "" && c.Iss != iss {
		return Identity{}, ErrBadIssuer
	}
	if aud := a.cfg.Identity.Audience; aud != "" && !hasAudience(c.Aud, aud) {
		return Identity{}, ErrBadAudience
	}
	return Identity{Subject: c.Sub, Name: c.Name, ExpiresAt: exp}, nil
}

// checkJWTHeader accepts only {"alg":"HS256"} headers (typ, when present,
// must be "JWT"). Refusing every other alg shuts out "none" and algorithm
// confusion.
func checkJWTHeader(b64 string) error {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return ErrMalformedToken
	}
	var h struct {
		Alg  *string `json:"alg"`
		Typ  *string `json:"typ"`
		Crit any     `json:"crit"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Alg == nil {
		return ErrMalformedToken
	}
	if *h.Alg != "HS256" {
		return ErrBadAlgorithm
	}
	if h.Typ != nil && !strings.EqualFold(*h.Typ, "JWT") {
		return ErrMalformedToken
	}
	if h.Crit != nil { // RFC 7515 4.1.11: extensions we do not understand
		return ErrMalformedToken
	}
	return nil
}

// numericDate converts a JWT NumericDate (seconds, possibly fractional).
func numericDate(f float64) (time.Time, bool) {
	if math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// hasAudience reports whether the "aud" claim, a string or an array of
// strings, names want.
func hasAudience(raw json.RawMessage, want string) bool {
	if len(raw) == 0 {
		return false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, a := range many {
		if a == want {
			return true
		}
	}
	return false
}
