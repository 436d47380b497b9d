package admin_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBearerSchemeIsCaseInsensitive checks the admin API takes the Bearer
// scheme in any case, as the WebSocket handshake does (RFC 9110 §11.1),
// and still refuses other schemes and a wrong token.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := start(t, adminToken)
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"Bearer " + adminToken, http.StatusOK},
		{"bearer " + adminToken, http.StatusOK},
		{"BEARER " + adminToken, http.StatusOK},
		{"bEaReR  " + adminToken + " ", http.StatusOK},
		{"Basic " + adminToken, http.StatusUnauthorized},
		{"bearer", http.StatusUnauthorized},
		{"bearer wrong", http.StatusUnauthorized},
		{adminToken, http.StatusUnauthorized},
	} {
		t.Run(tc.header, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.admin.URL+"/v1/admin/overview", nil)
			req.Header.Set("Authorization", tc.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("Authorization %q: status %d, want %d", tc.header, resp.StatusCode, tc.want)
			}
		})
	}
}

// TestPprofCmdlineIsRedacted checks /debug/pprof/cmdline shows the flag
// names but none of their values, which may be secrets.
func TestPprofCmdlineIsRedacted(t *testing.T) {
	e := start(t, adminToken)
	saved := os.Args
	os.Args = []string{"tickroom", "-admin-token", "s3cret-one", "-token-key=s3cret-two", "-debug"}
	t.Cleanup(func() { os.Args = saved })
	req, _ := http.NewRequest("GET", e.admin.URL+"/debug/pprof/cmdline", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := strings.Split(string(b), "\x00")
	want := []string{"tickroom", "-admin-token", "[redacted]", "-token-key=[redacted]", "-debug"}
	if strings.Join(got, " ") != strings.Join(want, " ") || strings.Contains(string(b), "s3cret") {
		t.Fatalf("cmdline %q, want %q", got, want)
	}
}

// TestWrongAdminTokensAreBounded: an address that tries admin tokens gets
// 10 wrong ones, then 429 with Retry-After for every request that needs
// the token, the right one's too (a guesser never learns it found it),
// while the open endpoints still answer; another address is not held up.
func TestWrongAdminTokensAreBounded(t *testing.T) {
	e := start(t, adminToken)
	for i := range 10 {
		if code, body := e.do("GET", "/v1/admin/overview", "guess-"+strconv.Itoa(i), ""); code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d %s, want 401", i, code, body)
		}
	}
	for _, tok := range []string{"guess-10", adminToken, ""} {
		req, _ := http.NewRequest("GET", e.admin.URL+"/debug/pprof/", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("token %q after 10 wrong ones: %d (Retry-After %q), want 429 with Retry-After", tok, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if code, _ := e.do("GET", "/healthz", "", ""); code != http.StatusOK {
		t.Fatalf("/healthz while the address is held: %d, want 200", code)
	}
	// Another address (127.0.0.2) still gets in with the right token.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	req, _ := http.NewRequest("GET", e.admin.URL+"/v1/admin/overview", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the right token from another address: %d, want 200", resp.StatusCode)
	}
}

// TestWrongAdminTokensAreBoundedWhenSentAtOnce: the bound holds for wrong
// tokens that arrive together, each on its own connection: an address
// has 10 of them answered 401 however it sends them, the rest 429. The
// count was looked at before the token was compared and charged after,
// so every request that came meanwhile was compared and answered 401
// (13 to 24 of 60 long tokens at once, in 3 of 5 runs of one address).
// Several addresses, one after the other, each send theirs at once.
func TestWrongAdminTokensAreBoundedWhenSentAtOnce(t *testing.T) {
	e := start(t, adminToken)
	const n = 60
	// Long tokens (within the header limit) make each comparison take a
	// while, as a busy or slow host does.
	long := strings.Repeat("g", 900<<10)
	for a := byte(2); a <= 6; a++ {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, a)}}
		clients := make([]*http.Client, n)
		for i := range clients {
			tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1}
			t.Cleanup(tr.CloseIdleConnections)
			clients[i] = &http.Client{Transport: tr}
			// Each connection open first, on an endpoint that needs no token.
			resp, err := clients[i].Get(e.admin.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		var wg sync.WaitGroup
		var tried, refused atomic.Int32
		gate := make(chan struct{})
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", e.admin.URL+"/v1/admin/overview", nil)
				req.Header.Set("Authorization", "Bearer "+long+strconv.Itoa(i))
				<-gate
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusUnauthorized:
					tried.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				}
			}()
		}
		start := time.Now()
		close(gate)
		wg.Wait()
		// 10 at once, and one more each 6 s the burst took.
		if got, want := tried.Load(), 10+int32(time.Since(start)/(6*time.Second)); got > want || got+refused.Load() != n {
			t.Fatalf("127.0.0.%d: %d of %d wrong tokens sent at once answered 401 and %d 429, want at most %d 401 and the rest 429", a, got, n, refused.Load(), want)
		}
	}
}
