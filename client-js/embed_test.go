package clientjs_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	clientjs "github.com/tickroom/tickroom/client-js"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/web"
)

// TestDemoServed serves the embedded demo through the public HTTP handler,
// as the tickroom binary does, and checks that a browser gets the page, its
// script and its stylesheet with the right types under the strict CSP.
func TestDemoServed(t *testing.T) {
	t.Parallel()
	demo, err := clientjs.DemoFiles()
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: []byte(strings.Repeat("k", 32))}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Config{Auth: a, WebSocketPort: 8081, Demo: demo, Games: []string{"gomoku"}}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html", `<script type="module" src="app.js"></script>`},
		{"/index.html", "text/html", "<title>tickroom demo</title>"}, // redirected to /
		{"/app.js", "text/javascript", "/v1/config"},
		{"/style.css", "text/css", ".gomoku"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
				t.Errorf("Content-Type %q, want %s", resp.Header.Get("Content-Type"), tc.contentType)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
		})
	}
}

// TestDemoPageFitsCSP checks that the page needs nothing the server's CSP
// forbids: no inline script, no inline style, no event handler attributes,
// and that every file it links is embedded.
func TestDemoPageFitsCSP(t *testing.T) {
	t.Parallel()
	demo, err := clientjs.DemoFiles()
	if err != nil {
		t.Fatal(err)
	}
	page, err := fs.ReadFile(demo, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, tc := range []struct {
		name string
		re   *regexp.Regexp
	}{
		{"inline script", regexp.MustCompile(`<script[^>]*>[^<]+</script>`)},
		{"style element", regexp.MustCompile(`<style`)},
		{"style attribute", regexp.MustCompile(`\sstyle=`)},
		{"event handler attribute", regexp.MustCompile(`\son[a-z]+=`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m := tc.re.FindString(html); m != "" {
				t.Errorf("index.html has %s: %q", tc.name, m)
			}
		})
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("index.html has a script without src: %s", tag)
		}
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^":]+)"`).FindAllStringSubmatch(html, -1) {
		if _, err := fs.Stat(demo, m[1]); err != nil {
			t.Errorf("index.html links %s, which is not embedded: %v", m[1], err)
		}
	}
}
