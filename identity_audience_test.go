package tickroom_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tickroom/tickroom"
)

// TestIdentityTokensForAnotherAppAreRefused: a provider's public keys
// (-identity-jwks) sign the ID tokens of every app it serves (Google's,
// Auth0's tenant keys), so a server that took any token they sign let
// a token a user got for another app, someone else's app included, log
// in as that user here. With IdentityAudience (-identity-audience) and
// IdentityIssuer (-identity-issuer) set, only this game's tokens pass.
func TestIdentityTokensForAnotherAppAreRefused(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	_, a, _, _ := accountServerWith(t, t.TempDir(), func(o *tickroom.Options) {
		o.IdentityKey = nil
		o.IdentityJWKSFile = file
		o.IdentityIssuer = "https://idp.example/"
		o.IdentityAudience = "our-game"
	})
	token := func(iss, aud string) string {
		t.Helper()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"sub": "idp|ada", "name": "Ada", "iss": iss, "aud": aud, "exp": time.Now().Add(time.Hour).Unix(),
		})
		tok.Header["kid"] = "r1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct{ what, iss, aud string }{
		{"another app's token", "https://idp.example/", "another-app"},
		{"another provider's token", "https://other.example/", "our-game"},
	} {
		if st, m := a.post("/v1/login", "", map[string]string{"identity_token": token(tc.iss, tc.aud)}); st != 401 {
			t.Fatalf("%s: %d %v, want 401", tc.what, st, m)
		}
	}
	if st, m := a.post("/v1/login", "", map[string]string{"identity_token": token("https://idp.example/", "our-game")}); st != 200 || str(m, "user_id") != "idp|ada" {
		t.Fatalf("this game's token: %d %v", st, m)
	}
}
