package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

// providerKeys are an identity provider's signing keys, made once per test
// binary: RSA generation takes a while.
type providerKeys struct {
	rsa, otherRSA *rsa.PrivateKey
	ec, otherEC   *ecdsa.PrivateKey
}

var testKeys = func() providerKeys {
	mustRSA := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	mustEC := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	return providerKeys{rsa: mustRSA(), otherRSA: mustRSA(), ec: mustEC(), otherEC: mustEC()}
}()

// jwksJSON is the provider's published key set: the RSA key as "r1", the
// EC key as "e1", and an encryption key that must be ignored.
func jwksJSON(t testing.TB) []byte {
	t.Helper()
	return testJWKS
}

var testJWKS = func() []byte {
	r, e := testKeys.rsa.PublicKey, testKeys.ec.PublicKey
	pt, err := e.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": b64(r.N.Bytes()), "e": b64(big.NewInt(int64(r.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(testKeys.otherRSA.N.Bytes()), "e": "AQAB"},
	}})
	if err != nil {
		panic(err)
	}
	return b
}()

// signJWT builds a JWT with header and claims, signed with RS256 or ES256
// (by the header's alg) under key, whatever else the header says.
func signJWT(t testing.TB, header, claims map[string]any, key crypto.Signer) string {
	t.Helper()
	signed := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, claims))
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64) // JWS ES256: R || S, 32 bytes each
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return signed + "." + b64(sig)
}

func withJWKS(hmac bool) func(*auth.Config) {
	return func(c *auth.Config) {
		keys, err := auth.ParseJWKS(testJWKS)
		if err != nil {
			panic(err)
		}
		c.Identity.PublicKeys = keys
		if !hmac {
			c.Identity.HMACKey = nil
		}
	}
}

func TestVerifyIdentityPublicKeys(t *testing.T) {
	claims := identityClaims()
	rs := func(kid string) map[string]any { return map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid} }
	es := func(kid string) map[string]any { return map[string]any{"alg": "ES256", "kid": kid} }
	pubDER, err := x509.MarshalPKIXPublicKey(&testKeys.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		mod   func(*auth.Config)
		token string
		now   time.Time
		want  error
	}{
		{"RS256", withJWKS(false), signJWT(t, rs("r1"), claims, testKeys.rsa), epoch, nil},
		{"ES256", withJWKS(false), signJWT(t, es("e1"), claims, testKeys.ec), epoch, nil},
		{"HS256 beside the key set", withJWKS(true), makeJWT(t, hs256, claims, identityKey), epoch, nil},
		{"RS256 by another key", withJWKS(false), signJWT(t, rs("r1"), claims, testKeys.otherRSA), epoch, auth.ErrBadSignature},
		{"ES256 by another key", withJWKS(false), signJWT(t, es("e1"), claims, testKeys.otherEC), epoch, auth.ErrBadSignature},
		{"RS256 claims edited", withJWKS(false), func() string {
			p := strings.Split(signJWT(t, rs("r1"), claims, testKeys.rsa), ".")
			return p[0] + "." + b64(mustJSON(t, with(claims, "sub", "admin"))) + "." + p[2]
		}(), epoch, auth.ErrBadSignature},
		{"unknown kid", withJWKS(false), signJWT(t, rs("r9"), claims, testKeys.rsa), epoch, auth.ErrUnknownKey},
		{"no kid", withJWKS(false), signJWT(t, map[string]any{"alg": "RS256"}, claims, testKeys.rsa), epoch, auth.ErrUnknownKey},
		{"encryption key not used", withJWKS(false), signJWT(t, rs("enc"), claims, testKeys.otherRSA), epoch, auth.ErrUnknownKey},
		{"ES256 naming the RSA key", withJWKS(false), signJWT(t, es("r1"), claims, testKeys.ec), epoch, auth.ErrUnknownKey},
		{"RS256 expired", withJWKS(false), signJWT(t, rs("r1"), claims, testKeys.rsa), epoch.Add(time.Hour), auth.ErrTokenExpired},
		{"RS256 without sub", withJWKS(false), signJWT(t, rs("r1"), with(claims, "sub", nil), testKeys.rsa), epoch, auth.ErrMalformedToken},
		{"RS256 with an invisible sub", withJWKS(false), signJWT(t, rs("r1"), with(claims, "sub", "alice\u200b"), testKeys.rsa), epoch, auth.ErrMalformedToken},
		{"RS256 with a 129-byte sub", withJWKS(false), signJWT(t, rs("r1"), with(claims, "sub", strings.Repeat("a", 129)), testKeys.rsa), epoch, auth.ErrMalformedToken},
		{"HS256 without an HMAC key", withJWKS(false), makeJWT(t, hs256, claims, identityKey), epoch, auth.ErrBadAlgorithm},
		{"HMAC token without an HMAC key", withJWKS(false), makeHMACToken(t, claims, identityKey), epoch, auth.ErrBadAlgorithm},
		// Algorithm confusion: the public key used as an HMAC secret.
		{"HS256 keyed with the public key", withJWKS(false), makeJWT(t, map[string]any{"alg": "HS256", "kid": "r1"}, claims, pubDER), epoch, auth.ErrBadAlgorithm},
		{"HS256 keyed with the public key, HMAC on", withJWKS(true), makeJWT(t, map[string]any{"alg": "HS256", "kid": "r1"}, claims, pubDER), epoch, auth.ErrBadSignature},
		{"RS256 without a key set", nil, signJWT(t, rs("r1"), claims, testKeys.rsa), epoch, auth.ErrBadAlgorithm},
		{"PS256", withJWKS(false), signJWT(t, map[string]any{"alg": "PS256", "kid": "r1"}, claims, testKeys.rsa), epoch, auth.ErrBadAlgorithm},
		{"ES384", withJWKS(false), signJWT(t, map[string]any{"alg": "ES384", "kid": "e1"}, claims, testKeys.ec), epoch, auth.ErrBadAlgorithm},
		{"alg none with a kid", withJWKS(false), signJWT(t, map[string]any{"alg": "none", "kid": "r1"}, claims, testKeys.rsa), epoch, auth.ErrBadAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthority(t, tt.mod)
			id, err := a.VerifyIdentity(tt.token, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyIdentity = %v, want %v", err, tt.want)
			}
			if err == nil && (id.Subject != "alice" || id.Name != "Alice") {
				t.Errorf("identity = %+v", id)
			}
		})
	}
}

func TestLoadJWKS(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys, err := auth.LoadJWKS(write("good.json", jwksJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "r1" || keys[1].ID != "e1" {
		t.Fatalf("keys = %+v, want r1 and e1 (the encryption key skipped)", keys)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, body string }{
		{"not JSON", "{"},
		{"no keys", `{"keys":[]}`},
		{"only an encryption key", `{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`},
		{"1024-bit RSA", string(mustJSON(t, map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "s", "n": b64(small.N.Bytes()), "e": "AQAB"}}}))},
		{"point off the curve", `{"keys":[{"kty":"EC","crv":"P-256","kid":"x","x":"AQ","y":"Ag"}]}`},
		{"bad base64", `{"keys":[{"kty":"RSA","kid":"x","n":"!!","e":"AQAB"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.LoadJWKS(write("bad.json", []byte(tt.body))); !errors.Is(err, auth.ErrJWKS) {
				t.Fatalf("LoadJWKS = %v, want ErrJWKS", err)
			}
		})
	}
	if _, err := auth.LoadJWKS(write("huge.json", make([]byte, 2<<20))); !errors.Is(err, auth.ErrJWKS) {
		t.Fatalf("2 MiB file: %v", err)
	}
	if _, err := auth.LoadJWKS(filepath.Join(dir, "missing.json")); !errors.Is(err, auth.ErrJWKS) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestLoginWithRS256 logs in over HTTP with a provider's RS256 token.
func TestLoginWithRS256(t *testing.T) {
	url := startLogin(t, newAuthority(t, withJWKS(false)))
	tok := signJWT(t, map[string]any{"alg": "RS256", "kid": "r1"}, identityClaims(), testKeys.rsa)
	r := login(t, url, http.MethodPost, string(mustJSON(t, map[string]any{"identity_token": tok})))
	if r.status != http.StatusOK || r.ok.UserID != "alice" || r.ok.Guest {
		t.Fatalf("login: %d %+v %+v", r.status, r.ok, r.err)
	}
	forged := signJWT(t, map[string]any{"alg": "RS256", "kid": "r1"}, identityClaims(), testKeys.otherRSA)
	if r := login(t, url, http.MethodPost, string(mustJSON(t, map[string]any{"identity_token": forged}))); r.status != http.StatusUnauthorized {
		t.Fatalf("forged RS256 login: %d %+v", r.status, r.err)
	}
}
