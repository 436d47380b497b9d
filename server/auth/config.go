// Package auth issues and verifies tickroom's session tokens and serves the
// login endpoint, POST /v1/login.
//
// A session token is "<key id>.<claims>.<signature>": the claims are
// base64url JSON, the signature is HMAC-SHA256 over a domain tag, the key id
// and the claims. The key id selects the verifying key, so keys rotate by
// adding a new key in front of Config.Keys and dropping the old one once
// the tokens it signed have expired.
//
// Login is either a guest login with a display name, which gets a random,
// unguessable user id, or an identity login with a token from an external
// identity provider: a JWT signed with HS256 under a key shared with the
// server, a two-part "<claims>.<signature>" HMAC token with the same claims,
// or a JWT signed with RS256 or ES256 under one of the provider's public
// keys (a JWKS file, see LoadJWKS). Either way the reply carries a session
// token the WebSocket handshake presents (query ?token=, or Authorization:
// Bearer).
//
// Libraries, and why:
//   - Identity JWTs are verified with github.com/golang-jwt/jwt/v5, the
//     maintained JWT library, which also brings RS256 and ES256; identity.go
//     says what is checked around it. Logins are rare, so its cost (about
//     twice that of a hand-written HS256 check, BENCHMARKS.md) does not
//     matter.
//   - Guest logins are limited per client address with golang.org/x/time/rate
//     (Config.GuestLoginRate, loginlimit.go): off the hot path, and its
//     reservations give the Retry-After a refused client needs; in a
//     cluster the buckets are counted in Redis by every node too
//     (Config.Logins). Device and password logins share that limit; wrong passwords are limited per
//     account too, by the Accounts (package account), which refuse a
//     login past it with a WrongPasswordsError (429).
//   - Display names go through the PRECIS Nickname profile of
//     golang.org/x/text/secure/precis (RFC 8266) and a confusables policy of
//     our own; see ValidateName.
//   - Session tokens keep their own small format above: the server is
//     their only issuer and reader, and a key id plus one HMAC needs no
//     JWT header, algorithm choice or library.
//
// An Authority's configuration is fixed by New; its methods are safe from
// any goroutine.
package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/server/clientip"
)

// Key is one HMAC-SHA256 signing key with its id.
type Key struct {
	// ID names the key inside tokens: 1-16 characters of A-Z, a-z, 0-9,
	// '-' and '_'.
	ID string
	// Secret is the key, at least MinSecretLen bytes of random data.
	Secret []byte
}

// MinSecretLen is the shortest secret New accepts, for session and identity
// keys alike: HMAC-SHA256 wants a key as long as its output.
const MinSecretLen = 32

// Config configures an Authority.
type Config struct {
	// Keys signs and verifies session tokens: Keys[0] signs, every key
	// verifies. Zero value means one random key made by New, logged as a
	// warning: tokens then do not survive a restart.
	Keys []Key
	// TTL is how long a session token lasts. Zero value means 24 hours.
	TTL time.Duration
	// Identity configures identity login. Zero value means identity login is
	// off and only guests can log in.
	Identity IdentityConfig
	// DisableGuests refuses guest logins. Zero value means guests may log in.
	DisableGuests bool
	// GuestLoginRate is how many guest logins one client address (one /64
	// for IPv6) may make per second, sustained; past it POST /v1/login
	// answers 429 with Retry-After. The /64s of one IPv6 /48 share
	// V6SiteFactor times an address's rate and burst besides. Zero value
	// means DefaultGuestLoginRate; rate.Inf turns the limit off; a
	// negative or NaN rate makes New fail. Retry-After is at most an hour,
	// however small the rate.
	GuestLoginRate rate.Limit
	// GuestLoginBurst is how many guest logins one address may make at
	// once. Zero value means DefaultGuestLoginBurst.
	GuestLoginBurst int
	// GuestLoginAddrs bounds the client addresses (and IPv6 /48s) whose
	// guest login buckets are kept, about 200 bytes each; past it the
	// least recently used is forgotten, one at a time. Zero value means
	// DefaultGuestLoginAddrs.
	GuestLoginAddrs int
	// Logins, when set, keeps the buckets of GuestLoginRate where every
	// node of a cluster counts them as well (package cluster's Logins, in
	// Redis): with it an address is held to the bound however a balancer
	// spreads its logins over the nodes. The node's own buckets are
	// charged all along, and decide alone while Logins fails (Redis does
	// not answer): each node then lets an address through the bound
	// again. Nil means each node counts alone.
	Logins Logins
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client of a login (see package clientip). Zero value means every
	// client is its TCP peer.
	TrustedProxies clientip.Trusted
	// MaxBodyBytes caps a login request's body. Zero value means 4 KiB.
	MaxBodyBytes int64
	// Now is the clock. Zero value means time.Now.
	Now func() time.Time
	// Accounts keeps accounts for logins (device secrets, claimed names,
	// linked identities). Zero value means none: every guest login makes a
	// new user, and an identity login's user id is its subject.
	Accounts Accounts
	// SignedOut reports, for a login of userID at now, that a new
	// password ended the user's sessions of the tokens issued up to the
	// time it returns, to the second (hub.Hub's SignedOut), and that a
	// token issued now would be one of them: the login then issues its
	// token in the next second, so that a login just after a password
	// change is not refused with the sessions the change ended. Nil means
	// none is.
	SignedOut func(userID string, now time.Time) (time.Time, bool)
	// Logger receives warnings and refused logins (at debug level). Zero
	// value means slog.Default().
	Logger *slog.Logger
}

// IdentityConfig configures the verification of external identity tokens.
type IdentityConfig struct {
	// HMACKey is the secret shared with the identity provider, at least
	// MinSecretLen bytes, for HS256 JWTs and HMAC tokens. Zero value means
	// neither is accepted.
	HMACKey []byte
	// PublicKeys verify RS256 and ES256 JWTs, chosen by the token's "kid";
	// LoadJWKS reads them from a provider's key set. Zero value means
	// neither algorithm is accepted. Identity login is off when both
	// HMACKey and PublicKeys are empty.
	PublicKeys []PublicKey
	// Issuer, when set, must equal the token's "iss" claim. Zero value means
	// "iss" is not checked.
	Issuer string
	// Audience, when set, must be the token's "aud" claim or one of its
	// entries. Zero value means "aud" is not checked.
	Audience string
	// Leeway is the clock skew allowed when checking "exp" and "nbf". Zero
	// value means none.
	Leeway time.Duration
}

const (
	defaultTTL          = 24 * time.Hour
	defaultMaxBodyBytes = 4 << 10
	// maxTokenLen caps every token before any decoding, so a peer-declared
	// size never drives an allocation.
	maxTokenLen = 4096
)

// ErrConfig reports an invalid Config; New wraps it with the detail.
var ErrConfig = errors.New("auth: invalid config")

// withDefaults validates cfg and fills in its zero values.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.TTL < 0 || cfg.MaxBodyBytes < 0 || cfg.Identity.Leeway < 0 || cfg.GuestLoginRate < 0 || cfg.GuestLoginBurst < 0 || cfg.GuestLoginAddrs < 0 {
		return cfg, fmt.Errorf("%w: negative TTL, MaxBodyBytes, Leeway, GuestLoginRate, GuestLoginBurst or GuestLoginAddrs", ErrConfig)
	}
	if err := limits.NonNegative("GuestLoginRate", cfg.GuestLoginRate); err != nil {
		return cfg, fmt.Errorf("%w: %w", ErrConfig, err) // NaN
	}
	if cfg.GuestLoginRate == 0 {
		cfg.GuestLoginRate = DefaultGuestLoginRate
	}
	if cfg.GuestLoginAddrs == 0 {
		cfg.GuestLoginAddrs = DefaultGuestLoginAddrs
	}
	if cfg.GuestLoginBurst == 0 {
		cfg.GuestLoginBurst = DefaultGuestLoginBurst
	}
	if cfg.TTL == 0 {
		cfg.TTL = defaultTTL
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if n := len(cfg.Identity.HMACKey); n > 0 && n < MinSecretLen {
		return cfg, fmt.Errorf("%w: identity HMAC key is %d bytes, want at least %d", ErrConfig, n, MinSecretLen)
	}
	for _, k := range cfg.Identity.PublicKeys {
		if _, err := cfg.Identity.keyFor(jwtHeader{Alg: publicKeyAlg(k.Key), Kid: k.ID}); err != nil {
			return cfg, fmt.Errorf("%w: identity public key %q is neither RSA (2048 bits or more) nor ECDSA P-256", ErrConfig, k.ID)
		}
	}
	if len(cfg.Keys) == 0 {
		secret := make([]byte, MinSecretLen)
		rand.Read(secret)
		id := make([]byte, 6)
		rand.Read(id)
		cfg.Keys = []Key{{ID: "r" + base64.RawURLEncoding.EncodeToString(id), Secret: secret}}
		cfg.Logger.Warn("auth: no session key configured; using a random key, so session tokens will not survive a restart")
	}
	seen := make(map[string]bool, len(cfg.Keys))
	for _, k := range cfg.Keys {
		if !validKeyID(k.ID) {
			return cfg, fmt.Errorf("%w: key id %q: want 1-16 of A-Z a-z 0-9 - _", ErrConfig, k.ID)
		}
		if seen[k.ID] {
			return cfg, fmt.Errorf("%w: duplicate key id %q", ErrConfig, k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) < MinSecretLen {
			return cfg, fmt.Errorf("%w: key %q is %d bytes, want at least %d", ErrConfig, k.ID, len(k.Secret), MinSecretLen)
		}
	}
	return cfg, nil
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
