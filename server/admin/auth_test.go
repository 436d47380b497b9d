package admin_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
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
