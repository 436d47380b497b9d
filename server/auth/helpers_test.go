package auth_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

// epoch is the fixed clock of these tests.
var epoch = time.Unix(1_800_000_000, 0)

func secret(fill byte) []byte { return bytes.Repeat([]byte{fill}, auth.MinSecretLen) }

var identityKey = secret('i')

// newAuthority returns an Authority on the fixed clock with one key "k1",
// identity login enabled, and a logger that discards.
func newAuthority(t testing.TB, mod func(*auth.Config)) *auth.Authority {
	t.Helper()
	cfg := auth.Config{
		Keys:     []auth.Key{{ID: "k1", Secret: secret('a')}},
		Identity: auth.IdentityConfig{HMACKey: identityKey},
		Now:      func() time.Time { return epoch },
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := auth.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mac(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// makeJWT builds a JWT with the given header and claims, signed with
// HMAC-SHA256 under key whatever the header says.
func makeJWT(t testing.TB, header, claims map[string]any, key []byte) string {
	t.Helper()
	signed := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, claims))
	return signed + "." + b64(mac(key, signed))
}

// makeHMACToken builds a two-part identity token.
func makeHMACToken(t testing.TB, claims map[string]any, key []byte) string {
	t.Helper()
	p := b64(mustJSON(t, claims))
	return p + "." + b64(mac(key, p))
}

var hs256 = map[string]any{"alg": "HS256", "typ": "JWT"}

// identityClaims returns valid identity claims for user "alice".
func identityClaims() map[string]any {
	return map[string]any{"sub": "alice", "name": "Alice", "exp": epoch.Add(time.Hour).Unix(), "iat": epoch.Unix()}
}
