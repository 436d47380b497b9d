package auth_test

import (
	"crypto"
	"testing"
)

// BenchmarkVerifyIdentityHS256 measures the verification of one HS256
// identity JWT, what every identity login costs.
func BenchmarkVerifyIdentityHS256(b *testing.B) {
	a := newAuthority(b, nil)
	tok := makeJWT(b, hs256, identityClaims(), identityKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.VerifyIdentity(tok, epoch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyIdentityRS256 and BenchmarkVerifyIdentityES256 measure a
// provider-signed identity token against its key set.
func BenchmarkVerifyIdentityRS256(b *testing.B) {
	benchSigned(b, map[string]any{"alg": "RS256", "kid": "r1"}, testKeys.rsa)
}

func BenchmarkVerifyIdentityES256(b *testing.B) {
	benchSigned(b, map[string]any{"alg": "ES256", "kid": "e1"}, testKeys.ec)
}

func benchSigned(b *testing.B, header map[string]any, key crypto.Signer) {
	a := newAuthority(b, withJWKS(false))
	tok := signJWT(b, header, identityClaims(), key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.VerifyIdentity(tok, epoch); err != nil {
			b.Fatal(err)
		}
	}
}
