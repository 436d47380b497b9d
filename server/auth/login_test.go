package auth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
)

// startLogin serves a's login handler on a loopback httptest server.
func startLogin(t *testing.T, a *auth.Authority) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(auth.LoginPath, a.LoginHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + auth.LoginPath
}

type loginResult struct {
	status int
	header http.Header
	ok     auth.LoginResponse
	err    auth.ErrorResponse
}

func login(t *testing.T, url, method, body string) loginResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := loginResult{status: resp.StatusCode, header: resp.Header}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	dst := any(&r.err)
	if resp.StatusCode == http.StatusOK {
		dst = &r.ok
	}
	if err := json.NewDecoder(resp.Body).Decode(dst); err != nil {
		t.Fatalf("status %d: body is not JSON: %v", resp.StatusCode, err)
	}
	return r
}

func TestLoginHandler(t *testing.T) {
	jwt := makeJWT(t, hs256, identityClaims(), identityKey)
	noName := makeJWT(t, hs256, with(identityClaims(), "name", nil), identityKey)
	tests := []struct {
		name       string
		mod        func(*auth.Config)
		method     string
		body       string
		wantStatus int
		wantUser   string // "guest" means a fresh guest id
		wantName   string
		wantErr    string // substring of the error message
	}{
		{"guest", nil, "POST", `{"name":"Bob"}`, 200, "guest", "Bob", ""},
		{"guest name trimmed", nil, "POST", `{"name":"  Bob  "}`, 200, "guest", "Bob", ""},
		{"guest 32 emoji", nil, "POST", `{"name":"` + strings.Repeat("🎲", 32) + `"}`, 200, "guest", strings.Repeat("🎲", 32), ""},
		{"identity jwt", nil, "POST", `{"identity_token":"` + jwt + `"}`, 200, "alice", "Alice", ""},
		{"identity name from request", nil, "POST", `{"identity_token":"` + noName + `","name":"Al"}`, 200, "alice", "Al", ""},
		{"identity name from subject", nil, "POST", `{"identity_token":"` + noName + `"}`, 200, "alice", "alice", ""},
		{"unknown fields ignored", nil, "POST", `{"name":"Bob","client":"web"}`, 200, "guest", "Bob", ""},
		{"name too long", nil, "POST", `{"name":"` + strings.Repeat("a", 33) + `"}`, 400, "", "", "longer than 32"},
		{"name with control char", nil, "POST", `{"name":"a\u0007b"}`, 400, "", "", "control character"},
		{"name with a zero width space", nil, "POST", `{"name":"Admin\u200b"}`, 400, "", "", "U+200B"},
		{"name with a tag character", nil, "POST", `{"name":"Admin\udb40\udc41"}`, 400, "", "", "U+E0041"},
		{"name with a Hangul filler", nil, "POST", `{"name":"\u3164"}`, 400, "", "", "U+3164"},
		{"name mixing Cyrillic into Latin", nil, "POST", `{"name":"\u0410dmin"}`, 400, "", "", "mixes the scripts"},
		{"full-width name folded", nil, "POST", `{"name":"\uff22\uff4f\uff42"}`, 200, "guest", "Bob", ""},
		{"identity sub with a zero width space", nil, "POST", `{"identity_token":"` + makeJWT(t, hs256, with(identityClaims(), "sub", "alice\u200b"), identityKey) + `"}`, 401, "", "", "malformed"},
		{"empty name", nil, "POST", `{"name":""}`, 400, "", "", `set "name"`},
		{"empty object", nil, "POST", `{}`, 400, "", "", `set "name"`},
		{"empty body", nil, "POST", ``, 400, "", "", "JSON object"},
		{"not JSON", nil, "POST", `name=Bob`, 400, "", "", "JSON object"},
		{"name not a string", nil, "POST", `{"name":7}`, 400, "", "", "JSON object"},
		{"trailing data", nil, "POST", `{"name":"Bob"}{"name":"Eve"}`, 400, "", "", "JSON object"},
		{"body too large", nil, "POST", `{"name":"` + strings.Repeat("a", 5000) + `"}`, 413, "", "", "too large"},
		{"body cap configurable", func(c *auth.Config) { c.MaxBodyBytes = 10 }, "POST", `{"name":"Bob"}`, 413, "", "", "too large"},
		{"GET", nil, "GET", ``, 405, "", "", "POST"},
		{"PUT", nil, "PUT", `{"name":"Bob"}`, 405, "", "", "POST"},
		{"forged identity", nil, "POST", `{"identity_token":"` + makeJWT(t, hs256, identityClaims(), secret('x')) + `"}`, 401, "", "", "bad signature"},
		{"alg none identity", nil, "POST", `{"identity_token":"` + makeJWT(t, map[string]any{"alg": "none"}, identityClaims(), identityKey) + `"}`, 401, "", "", "algorithm"},
		{"expired identity", func(c *auth.Config) { c.Now = func() time.Time { return epoch.Add(2 * time.Hour) } }, "POST", `{"identity_token":"` + jwt + `"}`, 401, "", "", "expired"},
		{"identity claiming a guest id", nil, "POST", `{"identity_token":"` + makeJWT(t, hs256, with(identityClaims(), "sub", "guest-abc"), identityKey) + `"}`, 401, "", "", "reserved prefix"},
		{"identity login off", func(c *auth.Config) { c.Identity = auth.IdentityConfig{} }, "POST", `{"identity_token":"` + jwt + `"}`, 400, "", "", "not enabled"},
		{"guests off", func(c *auth.Config) { c.DisableGuests = true }, "POST", `{"name":"Bob"}`, 403, "", "", "guest login is disabled"},
		{"guests off, identity works", func(c *auth.Config) { c.DisableGuests = true }, "POST", `{"identity_token":"` + jwt + `"}`, 200, "alice", "Alice", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthority(t, tt.mod)
			r := login(t, startLogin(t, a), tt.method, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d (%q), want %d", r.status, r.err.Error, tt.wantStatus)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", r.header.Get("Allow"))
			}
			if tt.wantStatus != http.StatusOK {
				if !strings.Contains(r.err.Error, tt.wantErr) {
					t.Errorf("error = %q, want it to contain %q", r.err.Error, tt.wantErr)
				}
				return
			}
			got := r.ok
			if tt.wantUser == "guest" {
				if !got.Guest || !strings.HasPrefix(got.UserID, auth.GuestIDPrefix) || len(got.UserID) != len(auth.GuestIDPrefix)+22 {
					t.Errorf("guest login gave user %q guest=%v", got.UserID, got.Guest)
				}
			} else if got.UserID != tt.wantUser || got.Guest {
				t.Errorf("user = %q guest=%v, want %q", got.UserID, got.Guest, tt.wantUser)
			}
			if got.Name != tt.wantName {
				t.Errorf("name = %q, want %q", got.Name, tt.wantName)
			}
			if !got.ExpiresAt.Equal(epoch.Add(24 * time.Hour)) {
				t.Errorf("expires_at = %v, want %v", got.ExpiresAt, epoch.Add(24*time.Hour))
			}
			c, err := a.Verify(got.Token, got.ExpiresAt.Add(-time.Second))
			if err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
			if c.UserID != got.UserID || c.Name != got.Name || c.Guest != got.Guest || !c.ExpiresAt.Equal(got.ExpiresAt) {
				t.Errorf("token claims %+v disagree with the response %+v", c, got)
			}
			if _, err := a.Verify(got.Token, got.ExpiresAt); !errors.Is(err, auth.ErrTokenExpired) {
				t.Errorf("token still valid at expires_at: %v", err)
			}
		})
	}
}

func TestGuestIDsAreUnique(t *testing.T) {
	url := startLogin(t, newAuthority(t, func(c *auth.Config) { c.GuestLoginRate = rate.Inf }))
	seen := make(map[string]bool)
	for range 20 {
		r := login(t, url, "POST", `{"name":"same"}`)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.err.Error)
		}
		if seen[r.ok.UserID] {
			t.Fatalf("guest id %q issued twice", r.ok.UserID)
		}
		seen[r.ok.UserID] = true
	}
}

func TestLoginResponseJSONFields(t *testing.T) {
	url := startLogin(t, newAuthority(t, nil))
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"name":"Bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"token", "user_id", "name", "guest", "expires_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("response lacks %q: %v", k, raw)
		}
	}
	if raw["expires_at"] != "2027-01-16T08:00:00Z" {
		t.Errorf("expires_at = %v, want RFC 3339 UTC", raw["expires_at"])
	}
}

// TestGuestLoginsLimitedPerAddress floods POST /v1/login with guest logins
// from one address: past the burst each gets 429 with Retry-After and no
// token, while other addresses and identity logins still get through, and
// the address may log in again once its bucket refills.
func TestGuestLoginsLimitedPerAddress(t *testing.T) {
	var mu sync.Mutex
	now := epoch
	a := newAuthority(t, func(c *auth.Config) {
		c.GuestLoginRate = rate.Every(time.Minute)
		c.GuestLoginBurst = 3
		c.TrustedProxies = clientip.MustParse("127.0.0.1")
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	url := startLogin(t, a)
	guest := func(forwardedFor string) (*http.Response, loginResult) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"name":"ann"}`))
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r loginResult
		r.status = resp.StatusCode
		if resp.StatusCode == http.StatusOK {
			err = json.NewDecoder(resp.Body).Decode(&r.ok)
		} else {
			err = json.NewDecoder(resp.Body).Decode(&r.err)
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp, r
	}
	for i := range 3 {
		if _, r := guest("203.0.113.7"); r.status != http.StatusOK || r.ok.Token == "" {
			t.Fatalf("login %d: %d %+v", i, r.status, r.err)
		}
	}
	for range 20 {
		resp, r := guest("203.0.113.7")
		if r.status != http.StatusTooManyRequests || r.ok.Token != "" || r.err.Error == "" {
			t.Fatalf("login past the burst: %d %+v", r.status, r)
		}
		if got := resp.Header.Get("Retry-After"); got != "60" {
			t.Fatalf("Retry-After = %q, want 60", got)
		}
	}
	// Another address, another IPv6 /64, and an identity login pass; the
	// same /64 does not.
	if _, r := guest("198.51.100.1"); r.status != http.StatusOK {
		t.Fatalf("other address: %d %+v", r.status, r.err)
	}
	for i := range 3 {
		if _, r := guest(fmt.Sprintf("2001:db8:1:2::%d", i+1)); r.status != http.StatusOK {
			t.Fatalf("IPv6 login %d: %d %+v", i, r.status, r.err)
		}
	}
	if _, r := guest("2001:db8:1:2:ffff::1"); r.status != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d, want 429", r.status)
	}
	body := string(mustJSON(t, map[string]any{"identity_token": makeJWT(t, hs256, identityClaims(), identityKey)}))
	if r := login(t, url, http.MethodPost, body); r.status != http.StatusOK {
		t.Fatalf("identity login from a limited address: %d %+v", r.status, r.err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, r := guest("203.0.113.7"); r.status != http.StatusOK {
		t.Fatalf("after a minute: %d %+v", r.status, r.err)
	}
	if _, r := guest("203.0.113.7"); r.status != http.StatusTooManyRequests {
		t.Fatalf("second login after a minute: %d, want 429", r.status)
	}
}

func TestGuestLoginRateConfig(t *testing.T) {
	for _, c := range []auth.Config{{GuestLoginRate: -1}, {GuestLoginBurst: -1}} {
		if _, err := auth.New(c); !errors.Is(err, auth.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
	// NaN, which no comparison trips, is refused by name.
	nan := auth.Config{Keys: []auth.Key{{ID: "k1", Secret: secret('a')}}, GuestLoginRate: rate.Limit(math.NaN())}
	if _, err := auth.New(nan); !errors.Is(err, auth.ErrConfig) || !strings.Contains(err.Error(), "GuestLoginRate is not a number") {
		t.Errorf("New with GuestLoginRate NaN = %v, want ErrConfig naming it", err)
	}
	for _, off := range []rate.Limit{rate.Inf, rate.Limit(math.Inf(1))} { // the latter from -guest-login-rate inf
		a := newAuthority(t, func(c *auth.Config) { c.GuestLoginRate = off })
		url := startLogin(t, a)
		for i := range 3 * auth.DefaultGuestLoginBurst {
			if r := login(t, url, http.MethodPost, `{"name":"ann"}`); r.status != http.StatusOK {
				t.Fatalf("login %d with the limit off (%v): %d", i, off, r.status)
			}
		}
	}
}

// TestRefusedGuestNamesTakeNoLogins: a guest login refused for its name
// (400: an invisible character, mixed scripts) costs the server nothing
// and is taken from none of the address's guest logins, so a player who
// tries names until one passes, or the others behind its address, are
// not refused with 429 for logins that never happened.
func TestRefusedGuestNamesTakeNoLogins(t *testing.T) {
	a := newAuthority(t, func(c *auth.Config) {
		c.GuestLoginRate = rate.Every(time.Hour)
		c.GuestLoginBurst = 2
	})
	url := startLogin(t, a)
	for i, name := range []string{"a\u200bb", "\u0410dmin", "   ", "x\u202ey", "a\u200bb", "\u0410dmin"} {
		if r := login(t, url, http.MethodPost, `{"name":"`+name+`"}`); r.status != http.StatusBadRequest {
			t.Fatalf("refused name %d (%s): %d %+v, want 400", i, name, r.status, r.err)
		}
	}
	for i := range 2 {
		if r := login(t, url, http.MethodPost, `{"name":"ann"}`); r.status != http.StatusOK {
			t.Fatalf("login %d within the burst after refused names: %d %+v, want 200", i, r.status, r.err)
		}
	}
	if r := login(t, url, http.MethodPost, `{"name":"ann"}`); r.status != http.StatusTooManyRequests {
		t.Fatalf("login past the burst: %d, want 429", r.status)
	}
}

// guestStatus posts a guest login that a trusted proxy forwards for
// client and returns the status.
func guestStatus(t *testing.T, url, client string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"name":"ann"}`))
	req.Header.Set("X-Forwarded-For", client)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestGuestLoginTableForgetsOneAddressAtATime fills the table of login
// buckets with new addresses: past its bound only the least recently used
// address is forgotten (and may log in again), not every address at once;
// the limited addresses used since keep their empty buckets.
func TestGuestLoginTableForgetsOneAddressAtATime(t *testing.T) {
	a := newAuthority(t, func(c *auth.Config) {
		c.GuestLoginRate = rate.Every(time.Hour)
		c.GuestLoginBurst = 2
		c.GuestLoginAddrs = 4
		c.TrustedProxies = clientip.MustParse("127.0.0.1")
		c.Now = func() time.Time { return epoch }
	})
	url := startLogin(t, a)
	spent := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}
	for _, addr := range spent {
		for i := range 2 {
			if st := guestStatus(t, url, addr); st != http.StatusOK {
				t.Fatalf("%s login %d: %d", addr, i, st)
			}
		}
		if st := guestStatus(t, url, addr); st != http.StatusTooManyRequests {
			t.Fatalf("%s past its burst: %d, want 429", addr, st)
		}
	}
	// The fourth address fills the table; .1 and .3 are used again, so .2
	// is the least recently used when a fifth address arrives.
	if st := guestStatus(t, url, "198.51.100.4"); st != http.StatusOK {
		t.Fatalf("fourth address: %d", st)
	}
	for _, addr := range []string{spent[0], spent[2]} {
		if st := guestStatus(t, url, addr); st != http.StatusTooManyRequests {
			t.Fatalf("%s: %d, want 429", addr, st)
		}
	}
	if st := guestStatus(t, url, "198.51.100.5"); st != http.StatusOK {
		t.Fatalf("fifth address: %d", st)
	}
	for _, addr := range []string{spent[0], spent[2]} {
		if st := guestStatus(t, url, addr); st != http.StatusTooManyRequests {
			t.Fatalf("%s after the table overflowed: %d, want 429 (its bucket kept)", addr, st)
		}
	}
	if st := guestStatus(t, url, spent[1]); st != http.StatusOK {
		t.Fatalf("the least recently used address, forgotten: %d, want 200", st)
	}
}

// TestGuestLoginsPerIPv6Site: the /64s of one IPv6 /48 each count as an
// address, and together share V6SiteFactor addresses' worth of logins; a
// /64 of another /48 is not touched.
func TestGuestLoginsPerIPv6Site(t *testing.T) {
	const burst = 2
	a := newAuthority(t, func(c *auth.Config) {
		c.GuestLoginRate = rate.Every(time.Hour)
		c.GuestLoginBurst = burst
		c.TrustedProxies = clientip.MustParse("127.0.0.1")
		c.Now = func() time.Time { return epoch }
	})
	url := startLogin(t, a)
	for i := range auth.V6SiteFactor * burst {
		// A new /64 every burst logins.
		addr := fmt.Sprintf("2001:db8:7:%x::1", i/burst)
		if st := guestStatus(t, url, addr); st != http.StatusOK {
			t.Fatalf("login %d from %s: %d", i, addr, st)
		}
	}
	if st := guestStatus(t, url, "2001:db8:7:ffff::1"); st != http.StatusTooManyRequests {
		t.Fatalf("a fresh /64 of a spent /48: %d, want 429", st)
	}
	if st := guestStatus(t, url, "2001:db8:8::1"); st != http.StatusOK {
		t.Fatalf("another /48: %d, want 200", st)
	}
}

// TestGuestLoginsStayLimitedWhileASpentSiteFloods: a client that spent
// the guest logins of its IPv4 address and of its IPv6 /48 posts logins
// from ever new /64s of the /48, more than the table of addresses holds.
// All of them are refused, and its IPv4 address stays refused after the
// flood: refused logins do not make the table forget its spent bucket.
func TestGuestLoginsStayLimitedWhileASpentSiteFloods(t *testing.T) {
	const burst, addrs = 2, 32
	a := newAuthority(t, func(c *auth.Config) {
		c.GuestLoginRate = rate.Every(time.Hour)
		c.GuestLoginBurst = burst
		c.GuestLoginAddrs = addrs
		c.TrustedProxies = clientip.MustParse("127.0.0.1")
		c.Now = func() time.Time { return epoch }
	})
	url := startLogin(t, a)
	const v4 = "203.0.113.9"
	for i := range burst {
		if st := guestStatus(t, url, v4); st != http.StatusOK {
			t.Fatalf("%s login %d: %d", v4, i, st)
		}
	}
	if st := guestStatus(t, url, v4); st != http.StatusTooManyRequests {
		t.Fatalf("%s past its burst: %d, want 429", v4, st)
	}
	for i := range auth.V6SiteFactor * burst {
		addr := fmt.Sprintf("2001:db8:9:%x::1", i/burst)
		if st := guestStatus(t, url, addr); st != http.StatusOK {
			t.Fatalf("login %d from %s: %d", i, addr, st)
		}
	}
	for i := range 4 * addrs {
		addr := fmt.Sprintf("2001:db8:9:%x::1", 0x100+i)
		if st := guestStatus(t, url, addr); st != http.StatusTooManyRequests {
			t.Fatalf("login from %s, a new /64 of the spent /48: %d, want 429", addr, st)
		}
	}
	if st := guestStatus(t, url, v4); st != http.StatusTooManyRequests {
		t.Fatalf("%s after %d refused logins from new /64s of its spent /48: %d, want 429 (its spent bucket kept)", v4, 4*addrs, st)
	}
}
