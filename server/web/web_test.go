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
