package auth_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
