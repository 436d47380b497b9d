package tickroom_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tickroom/tickroom"
)

// TestPageOnAnotherOriginUsesTheHTTPAPI: docs/games.md has a page served
// from elsewhere (a CDN, a game portal, a bundler's dev server) pass the
// server's HTTP origin to login and webSocketUrl, with the page's origin
// in -origins. A browser lets such a page read the answers of login, the
// config, the session check and the ICE servers only with CORS headers,
// and sends a preflight OPTIONS first for a JSON POST or an Authorization
// header: both were refused (405, no Access-Control-Allow-Origin), so the
// page could not log in. An origin on the list now gets them; one off the
// list does not.
func TestPageOnAnotherOriginUsesTheHTTPAPI(t *testing.T) {
	const page = "http://game.example:5173"
	srv, _, _ := start(t, tickroom.Options{Origins: []string{page}})
	base := "http://" + srv.HTTPAddr().String()
	token := login(t, srv, "ann")

	do := func(method, path, origin string, hdr map[string]string, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Origin", origin)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	preflight := func(path, method, headers, origin string) *http.Response {
		return do("OPTIONS", path, origin, map[string]string{"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}, "")
	}
	for _, c := range []struct{ path, method, headers string }{
		{"/v1/login", "POST", "content-type"},
		{"/v1/session", "POST", "authorization"},
		{"/v1/ice-servers", "GET", "authorization"},
	} {
		resp := preflight(c.path, c.method, c.headers, page)
		if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != page {
			t.Fatalf("preflight of %s %s from %s: %d, Access-Control-Allow-Origin %q", c.method, c.path, page, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, c.method) {
			t.Fatalf("preflight of %s: Access-Control-Allow-Methods %q", c.path, m)
		}
		if h := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, c.headers) {
			t.Fatalf("preflight of %s: Access-Control-Allow-Headers %q", c.path, h)
		}
		if resp := preflight(c.path, c.method, c.headers, "http://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight of %s from an origin off the list allowed", c.path)
		}
	}
	for _, c := range []struct {
		method, path string
		hdr          map[string]string
		body         string
	}{
		{"POST", "/v1/login", map[string]string{"Content-Type": "application/json"}, `{"name":"bea"}`},
		{"GET", "/v1/config", nil, ""},
		{"POST", "/v1/session", map[string]string{"Authorization": "Bearer " + token}, ""},
		{"GET", "/v1/ice-servers", map[string]string{"Authorization": "Bearer " + token}, ""},
	} {
		resp := do(c.method, c.path, page, c.hdr, c.body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != page {
			t.Fatalf("%s %s from %s: %d, Access-Control-Allow-Origin %q", c.method, c.path, page, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Fatalf("%s %s: Vary %q, a cache would serve one origin's answer to another", c.method, c.path, resp.Header.Get("Vary"))
		}
		if resp := do(c.method, c.path, "http://evil.example", c.hdr, c.body); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s %s from an origin off the list readable", c.method, c.path)
		}
	}
}

// TestCrossOriginFeedClientsGetTheirPreflight: the spectator feed answers
// a page on any origin (Access-Control-Allow-Origin: *), but a feed client
// that sets Last-Event-ID itself to resume (an SSE client built on fetch,
// as overlays use to read the status of a refusal) or sends its member's
// token as a Bearer header makes the browser ask a preflight OPTIONS
// first. The preflight was answered as the HTTP API's, which allows
// Authorization and Content-Type only, and the -origins only: no origin
// could resume such a client (Last-Event-ID not allowed), and an overlay
// off the list could not send its preflight at all.
func TestCrossOriginFeedClientsGetTheirPreflight(t *testing.T) {
	srv, _, _ := start(t, tickroom.Options{Origins: []string{"https://play.example"}})
	url := "http://" + srv.HTTPAddr().String() + "/v1/rooms/some-room/events"
	for _, headers := range []string{"last-event-id", "authorization"} {
		req, _ := http.NewRequest("OPTIONS", url, nil)
		req.Header.Set("Origin", "http://overlay.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", headers)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
		if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(allowed, headers) ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Fatalf("preflight of a feed with %s from another origin: %d, Access-Control-Allow-Origin %q, -Methods %q, -Headers %q",
				headers, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Methods"), allowed)
		}
	}
}
