package social_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/social"
)

// TestTURNCredentialKnownAnswer checks the TURN REST convention against a
// value computed outside Go (Python's hmac and base64).
func TestTURNCredentialKnownAnswer(t *testing.T) {
	user, cred := social.TURNCredential([]byte("turn-shared-secret"), "ann", time.Unix(1796300000, 0))
	if user != "1796300000:ann" || cred != "uQAawztCQgwrROHqDnaqFyNXoXE=" {
		t.Fatalf("got %q %q", user, cred)
	}
}

func TestICEServers(t *testing.T) {
	cfg := social.ICEConfig{
		URLs:       []string{"stun:stun.example.com:3478", "turn:turn.example.com:3478", "turns:turn.example.com:5349?transport=tcp"},
		TURNSecret: []byte("turn-shared-secret"),
		TTL:        10 * time.Minute,
	}
	now := time.Unix(1796300000, 0)
	got := cfg.Servers("ann", now)
	if len(got.Servers) != 2 || got.TTL != 600 {
		t.Fatalf("servers %+v", got)
	}
	if stun := got.Servers[0]; len(stun.URLs) != 1 || stun.Username != "" || stun.Credential != "" {
		t.Fatalf("STUN entry %+v carries credentials", stun)
	}
	turn := got.Servers[1]
	wantUser, wantCred := social.TURNCredential(cfg.TURNSecret, "ann", now.Add(10*time.Minute))
	if len(turn.URLs) != 2 || turn.Username != wantUser || turn.Credential != wantCred || turn.Username != "1796300600:ann" {
		t.Fatalf("TURN entry %+v", turn)
	}
	if none := (social.ICEConfig{}).Servers("ann", now); len(none.Servers) != 0 {
		t.Fatalf("empty config gave %+v", none)
	}
}

func TestICEHandlerNeedsASession(t *testing.T) {
	cfg := social.ICEConfig{URLs: []string{"turn:turn.example.com:3478"}, TURNSecret: []byte("s")}
	verify := func(tok string) (string, error) {
		if tok == "good" {
			return "ann", nil
		}
		return "", errors.New("bad token")
	}
	srv := httptest.NewServer(cfg.ICEHandler(verify))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer nope", 401}, {"Basic good", 401}, {"Bearer good", 200}} {
		req, _ := http.NewRequest("GET", srv.URL+social.ICEPath, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body social.ICEServers
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("Authorization %q: %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
		if tc.want == 200 {
			u := body.Servers[0].Username
			exp, user, _ := strings.Cut(u, ":")
			n, _ := strconv.ParseInt(exp, 10, 64)
			if user != "ann" || time.Until(time.Unix(n, 0)) <= 0 {
				t.Fatalf("username %q: want a future expiry and the caller's id", u)
			}
		}
	}
}
