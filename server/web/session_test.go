package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/web"
)

// TestSessionCheck answers what a browser cannot read from a refused
// WebSocket upgrade: 401 for a token the handshake refuses (a kicked or
// banned user's too), 403 for an origin it refuses, and the WebSocket path
// for a good token.
func TestSessionCheck(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: []byte(strings.Repeat("s", 32))}}})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := a.Issue(auth.Claims{UserID: "u1", Name: "ada"})
	expired, _ := a.Issue(auth.Claims{UserID: "u1", IssuedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	banned, _ := a.Issue(auth.Claims{UserID: "u2", Name: "bea"})
	revoked := func(c auth.Claims, _ time.Time) (string, bool) { return "user banned: spam", c.UserID == "u2" }
	srv := httptest.NewServer(web.New(web.Config{Auth: a, WebSocketPort: 4242, WebSocketPath: "/play", Origins: []string{"https://game.example"}, Revoked: revoked}))
	t.Cleanup(srv.Close)

	cases := []struct {
		name, origin, token string
		status              int
		msg                 string
	}{
		{"good token", "", good, 200, ""},
		{"allowed origin", "https://GAME.example", good, 200, ""},
		{"no token", "", "", 401, "missing session token"},
		{"forged token", "", good[:len(good)-2] + "xx", 401, "invalid session token"},
		{"expired token", "", expired, 401, "session token expired"},
		{"origin not allowed", "https://evil.example", good, 403, "origin https://evil.example is not allowed"},
		// The upgrade refuses a kicked or banned user's token with 403,
		// which a browser cannot read: the check says 401, log in again.
		{"kicked or banned user", "", banned, 401, "user banned: spam"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+web.SessionPath, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				web.SessionCheck
				Error string `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(body.Error, tc.msg) {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body.Error, tc.status, tc.msg)
			}
			if tc.status == 200 && (body.UserID != "u1" || body.Name != "ada" || body.WebSocketPath != "/play" || body.ExpiresAt.Before(time.Now())) {
				t.Fatalf("check %+v", body.SessionCheck)
			}
		})
	}
	resp, err := http.Get(srv.URL + web.SessionPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %d, want 405", web.SessionPath, resp.StatusCode)
	}
}
