package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/web"
)

func TestPublicEndpoints(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: []byte(strings.Repeat("s", 32))}}})
	if err != nil {
		t.Fatal(err)
	}
	demo := fstest.MapFS{"index.html": {Data: []byte("<title>tickroom</title>")}}
	srv := httptest.NewServer(web.New(web.Config{Auth: a, WebSocketPort: 4242, Demo: demo, Games: []string{"arena", "gomoku"}}))
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	var cc web.ClientConfig
	if err := json.NewDecoder(resp.Body).Decode(&cc); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc.WebSocketPort != 4242 || cc.WebSocketPath != "/v1/ws" || len(cc.Games) != 2 {
		t.Fatalf("config %+v", cc)
	}

	resp, err = http.Post(srv.URL+"/v1/login", "application/json", strings.NewReader(`{"name":"ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token, Name string }
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || login.Name != "ada" {
		t.Fatalf("login %d %+v", resp.StatusCode, login)
	}
	if _, err := a.Verify(login.Token, time.Now()); err != nil {
		t.Fatalf("login token does not verify: %v", err)
	}

	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<title>tickroom</title>") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("demo page: %q, CSP %q", body, resp.Header.Get("Content-Security-Policy"))
	}
}

// TestStaticPathNotUTF8 checks a request path that is not valid UTF-8
// gets 400 from the demo files, not a 500, on a real listener.
func TestStaticPathNotUTF8(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: []byte(strings.Repeat("s", 32))}}})
	if err != nil {
		t.Fatal(err)
	}
	demo := fstest.MapFS{"index.html": {Data: []byte("<title>tickroom</title>")}}
	srv := httptest.NewServer(web.New(web.Config{Auth: a, WebSocketPort: 4242, Demo: demo}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/%ff%fe", http.StatusBadRequest},
		{"/index%c3.html", http.StatusBadRequest},
		{"/missing.js", http.StatusNotFound},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

// TestLoginFromAPageOffTheOriginListIsRefused: a page on an origin off
// -origins cannot read the login's answer (no CORS header), but a browser
// sends its form-like POST (text/plain needs no preflight) all the same:
// each visitor of such a page made guest accounts, password checks and
// spent its own address's logins without knowing. The login now refuses
// such an Origin with 403, as the session check and the upgrade do; an
// allowed origin, and a client that sends no Origin, log in.
func TestLoginFromAPageOffTheOriginListIsRefused(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: []byte(strings.Repeat("s", 32))}}})
	if err != nil {
		t.Fatal(err)
	}
	origins := []string{"https://game.example"}
	srv := httptest.NewServer(web.CORS(origins, web.New(web.Config{Auth: a, WebSocketPort: 4242, Origins: origins})))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, origin, contentType string
		status                    int
	}{
		{"a page off the list, text/plain", "https://evil.example", "text/plain;charset=UTF-8", http.StatusForbidden},
		{"a page off the list, JSON", "https://evil.example", "application/json", http.StatusForbidden},
		{"the allowed page", "https://GAME.example", "application/json", http.StatusOK},
		{"no Origin (not a browser)", "", "application/json", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+auth.LoginPath, strings.NewReader(`{"name":"ada"}`))
		req.Header.Set("Content-Type", tc.contentType)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Token, Error string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status || (tc.status == http.StatusOK) != (body.Token != "") {
			t.Fatalf("%s: %d %+v (%v), want %d", tc.name, resp.StatusCode, body, err, tc.status)
		}
		if tc.status == http.StatusForbidden && !strings.Contains(body.Error, tc.origin) {
			t.Fatalf("%s: error %q does not name the origin", tc.name, body.Error)
		}
	}
}
