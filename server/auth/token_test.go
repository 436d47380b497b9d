package auth_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/syncbuf"
	"github.com/tickroom/tickroom/server/auth"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	a := newAuthority(t, nil)
	tests := []struct {
		name string
		in   auth.Claims
		want auth.Claims
	}{
		{"guest with defaults", auth.Claims{UserID: "guest-x", Name: "Bob", Guest: true},
			auth.Claims{UserID: "guest-x", Name: "Bob", Guest: true, IssuedAt: epoch, ExpiresAt: epoch.Add(24 * time.Hour)}},
		{"explicit times, sub-second dropped", auth.Claims{UserID: "alice", Name: "Alice", IssuedAt: epoch.Add(500 * time.Millisecond), ExpiresAt: epoch.Add(time.Minute)},
			auth.Claims{UserID: "alice", Name: "Alice", IssuedAt: epoch, ExpiresAt: epoch.Add(time.Minute)}},
		{"unicode name", auth.Claims{UserID: "u-1", Name: "Zoë 🎲"},
			auth.Claims{UserID: "u-1", Name: "Zoë 🎲", IssuedAt: epoch, ExpiresAt: epoch.Add(24 * time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := a.Issue(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok, "k1.") {
				t.Errorf("token %q does not name its key", tok)
			}
			got, err := a.Verify(tok, epoch)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.UserID != tt.want.UserID || got.Name != tt.want.Name || got.Guest != tt.want.Guest ||
				!got.IssuedAt.Equal(tt.want.IssuedAt) || !got.ExpiresAt.Equal(tt.want.ExpiresAt) {
				t.Errorf("claims = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	a := newAuthority(t, nil)
	good, err := a.Issue(auth.Claims{UserID: "alice", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Issue(auth.Claims{UserID: "mallory", Name: "M"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	otherParts := strings.Split(other, ".")
	foreign := newAuthority(t, func(c *auth.Config) { c.Keys = []auth.Key{{ID: "k1", Secret: secret('z')}} })
	foreignTok, err := foreign.Issue(auth.Claims{UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string) string { // change the last significant character
		b := []byte(s)
		if b[len(b)-2] == 'A' {
			b[len(b)-2] = 'B'
		} else {
			b[len(b)-2] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"expired at its expiry second", good, epoch.Add(24 * time.Hour), auth.ErrTokenExpired},
		{"expired long ago", good, epoch.Add(1000 * time.Hour), auth.ErrTokenExpired},
		{"issued over a minute ahead of the clock", good, epoch.Add(-time.Minute - time.Second), auth.ErrTokenIssuedAhead},
		{"forged signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), epoch, auth.ErrBadSignature},
		{"claims swapped from another token", parts[0] + "." + otherParts[1] + "." + parts[2], epoch, auth.ErrBadSignature},
		{"claims edited", parts[0] + "." + b64([]byte(`{"sub":"admin","name":"A","iat":1800000000,"exp":1900000000}`)) + "." + parts[2], epoch, auth.ErrBadSignature},
		{"same key id, other secret", foreignTok, epoch, auth.ErrBadSignature},
		{"unknown key id", "k9." + parts[1] + "." + parts[2], epoch, auth.ErrBadSignature},
		{"key id edited", "k2." + parts[1] + "." + parts[2], epoch, auth.ErrBadSignature},
		{"empty", "", epoch, auth.ErrMalformedToken},
		{"no dots", "abc", epoch, auth.ErrMalformedToken},
		{"two parts", parts[0] + "." + parts[1], epoch, auth.ErrMalformedToken},
		{"four parts", good + ".x", epoch, auth.ErrMalformedToken},
		{"signature not base64", parts[0] + "." + parts[1] + ".!!!", epoch, auth.ErrMalformedToken},
		{"signature padded", good + "=", epoch, auth.ErrMalformedToken},
		{"signature truncated", good[:len(good)-4], epoch, auth.ErrMalformedToken},
		{"oversized", strings.Repeat("a", 5000) + "." + parts[1] + "." + parts[2], epoch, auth.ErrMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Verify(tt.token, tt.now)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("expired token still names its user", func(t *testing.T) {
		c, err := a.Verify(good, epoch.Add(25*time.Hour))
		if !errors.Is(err, auth.ErrTokenExpired) || c.UserID != "alice" {
			t.Errorf("Verify = %+v, %v; want alice's claims and ErrTokenExpired", c, err)
		}
	})
	t.Run("valid when issued a minute ahead of the clock", func(t *testing.T) {
		if _, err := a.Verify(good, epoch.Add(-time.Minute)); err != nil {
			t.Errorf("Verify = %v", err)
		}
	})
	t.Run("valid one second before expiry", func(t *testing.T) {
		if _, err := a.Verify(good, epoch.Add(24*time.Hour-time.Second)); err != nil {
			t.Errorf("Verify = %v", err)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	oldKey := auth.Key{ID: "2025", Secret: secret('o')}
	newKey := auth.Key{ID: "2026", Secret: secret('n')}
	before := newAuthority(t, func(c *auth.Config) { c.Keys = []auth.Key{oldKey} })
	during := newAuthority(t, func(c *auth.Config) { c.Keys = []auth.Key{newKey, oldKey} })
	after := newAuthority(t, func(c *auth.Config) { c.Keys = []auth.Key{newKey} })
	oldTok, err := before.Issue(auth.Claims{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	newTok, err := during.Issue(auth.Claims{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		a     *auth.Authority
		token string
		want  error
	}{
		{"rotating server accepts old token", during, oldTok, nil},
		{"rotating server signs with the new key", after, newTok, nil},
		{"old key dropped", after, oldTok, auth.ErrBadSignature},
		{"old server refuses new key", before, newTok, auth.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.a.Verify(tt.token, epoch); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRandomKeyWhenNoneConfigured(t *testing.T) {
	var logs syncbuf.Buffer
	mk := func() *auth.Authority {
		a, err := auth.New(auth.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b := mk(), mk()
	if !strings.Contains(logs.String(), "will not survive a restart") {
		t.Errorf("no warning logged; logs: %q", logs.String())
	}
	tok, err := a.Issue(auth.Claims{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := a.Verify(tok, time.Now()); err != nil || !c.ExpiresAt.Equal(c.IssuedAt.Add(24*time.Hour)) {
		t.Errorf("own token: claims %+v, err %v; want a 24h token", c, err)
	}
	if _, err := b.Verify(tok, time.Now()); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("a restarted server accepted an old random-key token: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.Config
	}{
		{"short secret", auth.Config{Keys: []auth.Key{{ID: "k", Secret: []byte("short")}}}},
		{"empty key id", auth.Config{Keys: []auth.Key{{ID: "", Secret: secret('a')}}}},
		{"key id with a dot", auth.Config{Keys: []auth.Key{{ID: "a.b", Secret: secret('a')}}}},
		{"duplicate key id", auth.Config{Keys: []auth.Key{{ID: "k", Secret: secret('a')}, {ID: "k", Secret: secret('b')}}}},
		{"short identity key", auth.Config{Keys: []auth.Key{{ID: "k", Secret: secret('a')}}, Identity: auth.IdentityConfig{HMACKey: []byte("x")}}},
		{"negative TTL", auth.Config{Keys: []auth.Key{{ID: "k", Secret: secret('a')}}, TTL: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.New(tt.cfg); !errors.Is(err, auth.ErrConfig) {
				t.Errorf("New = %v, want ErrConfig", err)
			}
		})
	}
}

func TestIssueRejectsBadClaims(t *testing.T) {
	a := newAuthority(t, nil)
	tests := []struct {
		name string
		c    auth.Claims
	}{
		{"no user id", auth.Claims{Name: "x"}},
		{"user id too long", auth.Claims{UserID: strings.Repeat("u", 129)}},
		{"expiry before issue", auth.Claims{UserID: "u", IssuedAt: epoch, ExpiresAt: epoch.Add(-time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.Issue(tt.c); !errors.Is(err, auth.ErrInvalidClaims) {
				t.Errorf("Issue = %v, want ErrInvalidClaims", err)
			}
		})
	}
}
