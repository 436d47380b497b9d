package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestVerifyIdentity(t *testing.T) {
	strict := func(c *auth.Config) {
		c.Identity.Issuer = "https://id.example"
		c.Identity.Audience = "tickroom"
	}
	claims := identityClaims()
	scoped := with(claims, "iss", "https://id.example", "aud", "tickroom")
	hour := epoch.Add(time.Hour).Unix()
	unsigned := b64(mustJSON(t, map[string]any{"alg": "none"})) + "." + b64(mustJSON(t, claims))
	tests := []struct {
		name  string
		mod   func(*auth.Config)
		token string
		now   time.Time
		want  error
	}{
		{"jwt", nil, makeJWT(t, hs256, claims, identityKey), epoch, nil},
		{"jwt without typ", nil, makeJWT(t, map[string]any{"alg": "HS256"}, claims, identityKey), epoch, nil},
		{"hmac token", nil, makeHMACToken(t, claims, identityKey), epoch, nil},
		{"fractional exp", nil, makeJWT(t, hs256, with(claims, "exp", float64(hour)+0.5), identityKey), epoch, nil},
		{"alg none, empty signature", nil, unsigned + ".", epoch, auth.ErrBadAlgorithm},
		{"alg none, no signature part", nil, unsigned, epoch, auth.ErrMalformedToken},
		{"alg none, signed anyway", nil, makeJWT(t, map[string]any{"alg": "none"}, claims, identityKey), epoch, auth.ErrBadAlgorithm},
		{"alg None", nil, makeJWT(t, map[string]any{"alg": "None"}, claims, identityKey), epoch, auth.ErrBadAlgorithm},
		{"alg HS512", nil, makeJWT(t, map[string]any{"alg": "HS512"}, claims, identityKey), epoch, auth.ErrBadAlgorithm},
		{"alg RS256", nil, makeJWT(t, map[string]any{"alg": "RS256"}, claims, identityKey), epoch, auth.ErrBadAlgorithm},
		{"no alg", nil, makeJWT(t, map[string]any{"typ": "JWT"}, claims, identityKey), epoch, auth.ErrMalformedToken},
		{"crit header", nil, makeJWT(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, claims, identityKey), epoch, auth.ErrMalformedToken},
		{"wrong key", nil, makeJWT(t, hs256, claims, secret('w')), epoch, auth.ErrBadSignature},
		{"session key is not an identity key", nil, makeJWT(t, hs256, claims, secret('a')), epoch, auth.ErrBadSignature},
		{"claims edited", nil, func() string {
			p := strings.Split(makeJWT(t, hs256, claims, identityKey), ".")
			return p[0] + "." + b64(mustJSON(t, with(claims, "sub", "admin"))) + "." + p[2]
		}(), epoch, auth.ErrBadSignature},
		{"expired", nil, makeJWT(t, hs256, claims, identityKey), epoch.Add(time.Hour), auth.ErrTokenExpired},
		{"expired within leeway", func(c *auth.Config) { c.Identity.Leeway = time.Minute }, makeJWT(t, hs256, claims, identityKey), epoch.Add(time.Hour + 30*time.Second), nil},
		{"no exp", nil, makeJWT(t, hs256, with(claims, "exp", nil), identityKey), epoch, auth.ErrMalformedToken},
		{"exp a string", nil, makeJWT(t, hs256, with(claims, "exp", "soon"), identityKey), epoch, auth.ErrMalformedToken},
		{"negative exp", nil, makeJWT(t, hs256, with(claims, "exp", -1), identityKey), epoch, auth.ErrMalformedToken},
		{"no sub", nil, makeJWT(t, hs256, with(claims, "sub", nil), identityKey), epoch, auth.ErrMalformedToken},
		{"nbf in the future", nil, makeJWT(t, hs256, with(claims, "nbf", epoch.Add(time.Minute).Unix()), identityKey), epoch, auth.ErrNotYetValid},
		{"nbf within leeway", func(c *auth.Config) { c.Identity.Leeway = 2 * time.Minute }, makeJWT(t, hs256, with(claims, "nbf", epoch.Add(time.Minute).Unix()), identityKey), epoch, nil},
		{"nbf passed", nil, makeJWT(t, hs256, with(claims, "nbf", epoch.Unix()), identityKey), epoch, nil},
		{"issuer and audience match", strict, makeJWT(t, hs256, scoped, identityKey), epoch, nil},
		{"audience in a list", strict, makeJWT(t, hs256, with(scoped, "aud", []string{"other", "tickroom"}), identityKey), epoch, nil},
		{"wrong issuer", strict, makeJWT(t, hs256, with(scoped, "iss", "https://evil.example"), identityKey), epoch, auth.ErrBadIssuer},
		{"no issuer", strict, makeJWT(t, hs256, with(scoped, "iss", nil), identityKey), epoch, auth.ErrBadIssuer},
		{"wrong audience", strict, makeJWT(t, hs256, with(scoped, "aud", "other"), identityKey), epoch, auth.ErrBadAudience},
		{"audience list without ours", strict, makeJWT(t, hs256, with(scoped, "aud", []string{"a", "b"}), identityKey), epoch, auth.ErrBadAudience},
		{"no audience", strict, makeJWT(t, hs256, with(scoped, "aud", nil), identityKey), epoch, auth.ErrBadAudience},
		{"identity login off", func(c *auth.Config) { c.Identity = auth.IdentityConfig{} }, makeJWT(t, hs256, claims, identityKey), epoch, auth.ErrIdentityDisabled},
		{"session token is not an identity", nil, func() string {
			tok, _ := newAuthority(t, nil).Issue(auth.Claims{UserID: "alice"})
			return tok
		}(), epoch, auth.ErrMalformedToken},
		{"garbage", nil, "a.b.c", epoch, auth.ErrMalformedToken},
		{"oversized", nil, strings.Repeat("a", 5000), epoch, auth.ErrMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthority(t, tt.mod)
			id, err := a.VerifyIdentity(tt.token, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyIdentity = %v, want %v", err, tt.want)
			}
			if err == nil && (id.Subject != "alice" || id.Name != "Alice" || id.ExpiresAt.Before(epoch)) {
				t.Errorf("identity = %+v", id)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Alice", "Alice", true},
		{"  padded  ", "padded", true},
		{strings.Repeat("é", 32), strings.Repeat("é", 32), true},
		{strings.Repeat("🎲", 32), strings.Repeat("🎲", 32), true},
		{"family 👨‍👩‍👧", "", false}, // an emoji ZWJ sequence: RFC 8266 allows ZWJ only where a script needs it
		{"👍🏽 ok", "👍🏽 ok", true},
		{"two  spaces", "two spaces", true},
		{"ｆｕｌｌ", "full", true},
		{"e\u0301", "\u00e9", true},
		{"Admin\u200b", "", false},
		{"\ufeffAdmin", "", false},
		{"Ad\u2060min", "", false},
		{"\u3164", "", false},
		{"Admin\u3164", "", false},
		{"\uffa0x", "", false},
		{"Admin\U000E0041\U000E007F", "", false},
		{"x\ufe0fy", "", false},
		{"\u0410dmin", "", false},                                                  // Cyrillic А in a Latin name
		{"\u0391lice", "", false},                                                  // Greek Α
		{"\u0410\u043b\u0438\u0441\u0430", "\u0410\u043b\u0438\u0441\u0430", true}, // Алиса, all Cyrillic
		{"Taro 太郎 たろう", "Taro 太郎 たろう", true},
		{"Kim 김", "Kim 김", true},
		{"a\u0301\u0301", "\u00e1\u0301", true}, // NFKC composes the first mark
		{"x\u0301\u0302", "x\u0301\u0302", true},
		{"x\u0301\u0302\u0303", "", false},
		{strings.Repeat("a", 33), "", false},
		{"", "", false},
		{"   ", "", false},
		{"tab\there", "", false},
		{"new\nline", "", false},
		{"nul\x00", "", false},
		{"del\x7f", "", false},
		{"bidi\u202eevil", "", false},
		{"isolate\u2066x", "", false},
		{"line\u2028sep", "", false},
		{"bad \xff utf8", "", false},
		{strings.Repeat("a", 10000), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.ValidateName(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Errorf("ValidateName(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrInvalidName) {
				t.Errorf("error %v does not wrap ErrInvalidName", err)
			}
		})
	}
}

func TestValidateUserID(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"alice", true},
		{"auth0|5f7c8ec7c33c6c004bbafe82", true},
		{"user@example.com", true},
		{strings.Repeat("a", auth.MaxUserIDLen), true},
		{strings.Repeat("a", auth.MaxUserIDLen+1), false},
		{"", false},
		{"two words", false},
		{"alice\u200b", false},
		{"\ufeffalice", false},
		{"ålice", false},
		{"tab\t", false},
		{"nul\x00", false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			_, err := auth.ValidateUserID(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateUserID(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrInvalidUserID) {
				t.Fatalf("error %v does not wrap ErrInvalidUserID", err)
			}
		})
	}
}
