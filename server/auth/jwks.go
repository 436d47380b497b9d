package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// PublicKey is one identity provider key that verifies RS256 or ES256
// identity tokens.
type PublicKey struct {
	// ID is the key id tokens name in their "kid" header. Empty matches a
	// token without "kid" only.
	ID string
	// Key is an *rsa.PublicKey (RS256, at least 2048 bits) or an
	// *ecdsa.PublicKey on P-256 (ES256).
	Key any
}

// ErrJWKS reports a JSON Web Key Set that ParseJWKS refused.
var ErrJWKS = errors.New("auth: invalid JWKS")

// maxJWKSBytes caps a key set file; providers publish a handful of keys.
const maxJWKSBytes = 1 << 20

// LoadJWKS reads a JSON Web Key Set file (RFC 7517), as identity providers
// publish at their jwks_uri; see ParseJWKS.
func LoadJWKS(path string) ([]PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	defer f.Close()
	b := make([]byte, maxJWKSBytes+1)
	n, _ := f.Read(b)
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	if n > maxJWKSBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrJWKS, path, maxJWKSBytes)
	}
	return ParseJWKS(b[:n])
}

// ParseJWKS reads the RSA and P-256 EC signing keys of a JSON Web Key Set
// ({"keys": [...]}, RFC 7517 and RFC 7518 section 6). Keys meant for
// encryption ("use": "enc") and of other types are skipped; a key whose
// "alg" names an algorithm other than RS256 or ES256 is skipped too. It
// fails when no usable key is left, or when one is malformed.
//
// No JWKS library is used: the format is a few base64url fields around the
// standard library's key types, and the parse runs once at start.
func ParseJWKS(b []byte) ([]PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	var out []PublicKey
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch {
		case k.Kty == "RSA" && (k.Alg == "" || k.Alg == "RS256"):
			n, err1 := b64Int(k.N)
			e, err2 := b64Int(k.E)
			if err1 != nil || err2 != nil || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
				return nil, fmt.Errorf("%w: key %d (%q): bad n or e", ErrJWKS, i, k.Kid)
			}
			if n.BitLen() < 2048 {
				return nil, fmt.Errorf("%w: key %d (%q): RSA key of %d bits, want at least 2048", ErrJWKS, i, k.Kid, n.BitLen())
			}
			out = append(out, PublicKey{ID: k.Kid, Key: &rsa.PublicKey{N: n, E: int(e.Int64())}})
		case k.Kty == "EC" && (k.Alg == "" || k.Alg == "ES256"):
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := b64Int(k.X)
			y, err2 := b64Int(k.Y)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%w: key %d (%q): bad x or y", ErrJWKS, i, k.Kid)
			}
			pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
			if _, err := pub.ECDH(); err != nil { // refuses points off the curve
				return nil, fmt.Errorf("%w: key %d (%q): point not on P-256", ErrJWKS, i, k.Kid)
			}
			out = append(out, PublicKey{ID: k.Kid, Key: pub})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no RS256 or ES256 signing key", ErrJWKS)
	}
	return out, nil
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, ErrJWKS
	}
	return new(big.Int).SetBytes(b), nil
}

// keyFor returns the verifying key for a JWT header: the HMAC key for
// HS256, the public key of the header's "kid" for RS256 and ES256. An
// algorithm without a configured key is refused here, before the library
// sees the token.
func (c IdentityConfig) keyFor(h jwtHeader) (any, error) {
	switch h.Alg {
	case "HS256":
		if len(c.HMACKey) == 0 {
			return nil, ErrBadAlgorithm
		}
		return c.HMACKey, nil
	case "RS256", "ES256":
		if len(c.PublicKeys) == 0 {
			return nil, ErrBadAlgorithm
		}
		for _, k := range c.PublicKeys {
			if k.ID != h.Kid {
				continue
			}
			switch key := k.Key.(type) {
			case *rsa.PublicKey:
				if h.Alg == "RS256" {
					return key, nil
				}
			case *ecdsa.PublicKey:
				if h.Alg == "ES256" {
					return key, nil
				}
			}
		}
		return nil, ErrUnknownKey
	}
	return nil, ErrBadAlgorithm
}

// publicKeyAlg names the algorithm a public key verifies, or "" for a key
// VerifyIdentity cannot use.
func publicKeyAlg(k any) string {
	switch key := k.(type) {
	case *rsa.PublicKey:
		if key != nil && key.N != nil && key.N.BitLen() >= 2048 {
			return "RS256"
		}
	case *ecdsa.PublicKey:
		if key != nil && key.Curve == elliptic.P256() {
			return "ES256"
		}
	}
	return ""
}
