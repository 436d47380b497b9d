package auth_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
)

// FuzzVerify checks Verify never panics and accepts only tokens whose
// claims are usable: a user id and an expiry after now.
func FuzzVerify(f *testing.F) {
	a := newAuthority(f, nil)
	good, err := a.Issue(auth.Claims{UserID: "alice", Name: "Alice"})
	if err != nil {
		f.Fatal(err)
	}
	short, err := a.Issue(auth.Claims{UserID: "bob", ExpiresAt: epoch.Add(time.Second)})
	if err != nil {
		f.Fatal(err)
	}
	p := strings.Split(good, ".")
	for _, s := range []string{
		good, short, good + "x", p[0] + "." + p[1], p[0] + ".." + p[2], "..", ".", "",
		p[0] + "." + b64([]byte(`{"sub":"x","exp":99999999999}`)) + "." + p[2],
		"k1." + b64([]byte("null")) + "." + p[2],
		strings.Repeat("k1.", 2000),
	} {
		f.Add(s, int64(0))
		f.Add(s, int64(3600))
	}
	f.Fuzz(func(t *testing.T, token string, offset int64) {
		now := epoch.Add(time.Duration(offset) * time.Second)
		c, err := a.Verify(token, now)
		if err != nil {
			return
		}
		if c.UserID == "" || !now.Before(c.ExpiresAt) {
			t.Fatalf("accepted unusable claims %+v at %v", c, now)
		}
		if token != good && token != short {
			t.Fatalf("accepted a token it never issued: %q", token)
		}
	})
}

// FuzzVerifyIdentity checks identity verification never panics and never
// accepts a token without a subject.
func FuzzVerifyIdentity(f *testing.F) {
	a := newAuthority(f, withJWKS(true)) // HS256, RS256 and ES256 all enabled
	f.Add(makeJWT(f, hs256, identityClaims(), identityKey))
	f.Add(signJWT(f, map[string]any{"alg": "RS256", "kid": "r1"}, identityClaims(), testKeys.rsa))
	f.Add(signJWT(f, map[string]any{"alg": "ES256", "kid": "e1"}, identityClaims(), testKeys.ec))
	f.Add(signJWT(f, map[string]any{"alg": "ES256", "kid": "r1"}, identityClaims(), testKeys.ec))
	f.Add(makeHMACToken(f, identityClaims(), identityKey))
	f.Add(makeJWT(f, map[string]any{"alg": "none"}, identityClaims(), identityKey))
	f.Add(makeJWT(f, hs256, with(identityClaims(), "aud", []any{1, "x"}, "nbf", "x"), identityKey))
	f.Add("e30.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := a.VerifyIdentity(token, epoch)
		if err == nil && (id.Subject == "" || !epoch.Before(id.ExpiresAt)) {
			t.Fatalf("accepted %+v", id)
		}
	})
}

// FuzzValidateName checks every accepted name is short, valid UTF-8 and
// trimmed.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"Alice", " a ", "", "\x00", "\u202e", strings.Repeat("🎲", 33), "\xff", "Admin\u200b", "\u0410dmin", "ｆｕｌｌ", "e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := auth.ValidateName(in)
		if err != nil {
			return
		}
		n := utf8.RuneCountInString(got)
		if n < 1 || n > auth.MaxNameRunes || !utf8.ValidString(got) || strings.TrimSpace(got) != got {
			t.Fatalf("accepted %q as %q", in, got)
		}
		if again, err := auth.ValidateName(got); err != nil || again != got {
			t.Fatalf("%q validated to %q, which validates to %q, %v", in, got, again, err)
		}
	})
}

// FuzzParseJWKS checks a key set read from an identity provider is taken
// or refused with ErrJWKS, never a crash, and that every key taken is one
// VerifyIdentity can use: RSA of 2048 bits or more with a sane exponent,
// or a point on P-256.
func FuzzParseJWKS(f *testing.F) {
	f.Add(testJWKS)
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("_w", 40) + `","y":"AQ"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","use":"enc","n":"","e":""},{"kty":"oct"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := auth.ParseJWKS(b)
		if err != nil {
			if !errors.Is(err, auth.ErrJWKS) {
				t.Fatalf("error %v is not ErrJWKS", err)
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		for _, k := range keys {
			switch key := k.Key.(type) {
			case *rsa.PublicKey:
				if key.N.BitLen() < 2048 || key.E < 3 {
					t.Fatalf("took RSA key %q of %d bits, e %d", k.ID, key.N.BitLen(), key.E)
				}
			case *ecdsa.PublicKey:
				if key.Curve != elliptic.P256() || !key.Curve.IsOnCurve(key.X, key.Y) {
					t.Fatalf("took EC key %q off P-256", k.ID)
				}
			default:
				t.Fatalf("took key %q of type %T", k.ID, k.Key)
			}
		}
	})
}

// FuzzLogin checks POST /v1/login with any body answers one of the
// documented statuses with a JSON body, and that a login it grants is
// a token Verify takes for a name ValidateName takes, the one it answered.
func FuzzLogin(f *testing.F) {
	a := newAuthority(f, func(c *auth.Config) { c.GuestLoginRate = rate.Inf })
	f.Add([]byte(`{"name":"Alice"}`))
	f.Add([]byte(`{"name":" a "}`))
	f.Add([]byte(`{"name":"Alice"} {}`))
	f.Add([]byte(`{"name":"\u202e"}`))
	f.Add([]byte(`{"identity_token":"e30.e30."}`))
	f.Add([]byte(`{"identity_token":"` + makeJWT(f, hs256, identityClaims(), identityKey) + `","name":"Bob"}`))
	f.Add([]byte(`{"password":"x","name":"a"}`))
	f.Add([]byte(`{"name":` + strings.Repeat(`"a`, 3000) + `"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/login", bytes.NewReader(body))
		r.RemoteAddr = "192.0.2.1:1000"
		a.LoginHandler().ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			var res auth.LoginResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatalf("200 with body %q: %v", w.Body, err)
			}
			c, err := a.Verify(res.Token, epoch)
			if err != nil || c.UserID != res.UserID || c.Name != res.Name {
				t.Fatalf("granted %+v, whose token verifies as %+v, %v", res, c, err)
			}
			if name, err := auth.ValidateName(res.Name); err != nil || name != res.Name {
				t.Fatalf("granted the name %q: %q, %v", res.Name, name, err)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			var res auth.ErrorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Error == "" {
				t.Fatalf("%d with body %q: %v", w.Code, w.Body, err)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
