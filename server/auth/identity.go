package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Identity tokens are verified with github.com/golang-jwt/jwt/v5, the
// maintained JWT library: it checks the signature (HS256 with the shared
// key, RS256 and ES256 with the provider's public keys) and the registered
// claims exp, nbf, iss and aud. Around it stays what the library leaves to
// its callers: the header is read first, so only the algorithms that have a
// key configured get through ("none" and algorithm confusion are refused
// before any key is chosen) and a "crit" header is refused (RFC 7515
// section 4.1.11); a public key is chosen by "kid" and must suit the
// algorithm; and "sub" must be a valid user id. Logins are rare next to
// game traffic, so the library's extra allocations per token do not matter
// (BENCHMARKS.md has both figures).

// Errors VerifyIdentity returns besides those of Verify.
var (
	// ErrIdentityDisabled: no identity key is configured.
	ErrIdentityDisabled = errors.New("auth: identity login not enabled")
	// ErrBadAlgorithm: a JWT names an algorithm that has no key configured
	// (HS256 without an HMAC key, RS256 or ES256 without public keys, and
	// every other algorithm, "none" included).
	ErrBadAlgorithm = errors.New("auth: unsupported token algorithm")
	// ErrUnknownKey: an RS256 or ES256 JWT names a key id ("kid") that the
	// configured key set does not hold, or a key that does not suit its
	// algorithm.
	ErrUnknownKey = errors.New("auth: unknown token key")
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
	jwt.RegisteredClaims
	Name string `json:"name"`
}

// errBadClaims marks claims that are present but unusable.
var errBadClaims = errors.New("auth: malformed identity claims")

// Validate is called by the library's validator with the registered
// claims: sub must be a valid user id and exp a sane date.
func (c identityClaims) Validate() error {
	if c.ExpiresAt == nil || !saneDate(c.ExpiresAt) || (c.NotBefore != nil && !saneDate(c.NotBefore)) {
		return errBadClaims
	}
	if _, err := ValidateUserID(c.Subject); err != nil {
		return errBadClaims
	}
	return nil
}

// saneDate refuses NumericDates before the epoch or absurdly far ahead.
func saneDate(d *jwt.NumericDate) bool {
	s := d.Unix()
	return s >= 0 && s <= 1<<40
}

// VerifyIdentity checks an identity provider's token at now: either a JWT
// ("<header>.<claims>.<signature>") signed with HS256 under
// IdentityConfig.HMACKey or with RS256 / ES256 under one of
// IdentityConfig.PublicKeys, or an HMAC token ("<claims>.<signature>",
// HMAC-SHA256 over the base64url claims under HMACKey). It requires "sub"
// (a valid user id, see ValidateUserID) and "exp", checks "nbf", and checks
// "iss" and "aud" when the config names them.
func (a *Authority) VerifyIdentity(token string, now time.Time) (Identity, error) {
	id := a.cfg.Identity
	if len(id.HMACKey) == 0 && len(id.PublicKeys) == 0 {
		return Identity{}, ErrIdentityDisabled
	}
	if len(token) == 0 || len(token) > maxTokenLen {
		return Identity{}, ErrMalformedToken
	}
	var c identityClaims
	var err error
	switch strings.Count(token, ".") {
	case 2:
		err = a.verifyJWT(token, &c, now)
	case 1:
		err = a.verifyHMACToken(token, &c, now)
	default:
		return Identity{}, ErrMalformedToken
	}
	if err != nil {
		return Identity{}, err
	}
	return Identity{Subject: c.Subject, Name: c.Name, ExpiresAt: c.ExpiresAt.Time}, nil
}

// parserOptions returns the library's claim checks for the config at now.
func (a *Authority) parserOptions(now time.Time) []jwt.ParserOption {
	id := a.cfg.Identity
	opts := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(id.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	}
	if id.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(id.Issuer))
	}
	if id.Audience != "" {
		opts = append(opts, jwt.WithAudience(id.Audience))
	}
	return opts
}

func (a *Authority) verifyJWT(token string, c *identityClaims, now time.Time) error {
	header, _, _ := strings.Cut(token, ".")
	h, err := readJWTHeader(header)
	if err != nil {
		return err
	}
	key, err := a.cfg.Identity.keyFor(h)
	if err != nil {
		return err
	}
	opts := append(a.parserOptions(now), jwt.WithValidMethods([]string{h.Alg}))
	_, err = jwt.NewParser(opts...).ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return key, nil })
	return a.mapJWTError(err, c)
}

// verifyHMACToken checks the two-part "<claims>.<signature>" format: the
// signature by hand (it is not a JWT), the claims with the library.
func (a *Authority) verifyHMACToken(token string, c *identityClaims, now time.Time) error {
	key := a.cfg.Identity.HMACKey
	if len(key) == 0 {
		return ErrBadAlgorithm
	}
	claimsB64, sigB64, _ := strings.Cut(token, ".")
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sigB64)
	if err != nil || len(sig) != sha256.Size {
		return ErrMalformedToken
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(claimsB64))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return ErrBadSignature
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(claimsB64)
	if err != nil || json.Unmarshal(payload, c) != nil {
		return ErrMalformedToken
	}
	return a.mapJWTError(jwt.NewValidator(a.parserOptions(now)...).Validate(c), c)
}

// mapJWTError turns the library's errors into this package's, malformed
// claims first, then in the order exp, nbf, iss, aud. The library reports
// a missing iss or aud that the config requires as a missing claim.
func (a *Authority) mapJWTError(err error, c *identityClaims) error {
	missing := errors.Is(err, jwt.ErrTokenRequiredClaimMissing)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrBadAlgorithm), errors.Is(err, ErrUnknownKey):
		return err
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, errBadClaims):
		return ErrMalformedToken
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missing && a.cfg.Identity.Issuer != "" && c.Issuer == "":
		return ErrBadIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience), missing && a.cfg.Identity.Audience != "" && len(c.Audience) == 0:
		return ErrBadAudience
	}
	return ErrMalformedToken
}

// jwtHeader is what VerifyIdentity reads of a JWT header before the
// library parses the token.
type jwtHeader struct {
	Alg string
	Kid string
}

// readJWTHeader accepts a header with an "alg", a "typ" of "JWT" when
// present, and no "crit" (RFC 7515 section 4.1.11: extensions we do not
// understand).
func readJWTHeader(b64 string) (jwtHeader, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return jwtHeader{}, ErrMalformedToken
	}
	var h struct {
		Alg  *string `json:"alg"`
		Typ  *string `json:"typ"`
		Kid  *string `json:"kid"`
		Crit any     `json:"crit"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Alg == nil {
		return jwtHeader{}, ErrMalformedToken
	}
	if h.Typ != nil && !strings.EqualFold(*h.Typ, "JWT") {
		return jwtHeader{}, ErrMalformedToken
	}
	if h.Crit != nil {
		return jwtHeader{}, ErrMalformedToken
	}
	out := jwtHeader{Alg: *h.Alg}
	if h.Kid != nil {
		out.Kid = *h.Kid
	}
	return out, nil
}
