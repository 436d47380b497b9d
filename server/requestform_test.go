package server

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// An upgrade is a GET with no body (RFC 6455 §4.1). One that announces a
// body is refused with 400 and its reason, counted among the refusals, and
// the server ends the connection after its answer: the bytes of the body,
// here a WebSocket frame a proxy in front took for the request's body, are
// never read as the connection's first frame.
func TestUpgradeWithABodyIsRefused(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute})
	frame := maskedFrame(0x81, []byte("smuggled"))
	chunked := strconv.FormatInt(int64(len(frame)), 16) + "\r\n" + string(frame) + "\r\n0\r\n\r\n"
	for i, tc := range []struct {
		name, header, body, reason string
	}{
		{"Content-Length", "Content-Length: " + strconv.Itoa(len(frame)) + "\r\n", string(frame), "upgrade request with a body (Content-Length)"},
		{"Transfer-Encoding", "Transfer-Encoding: chunked\r\n", chunked, "upgrade request with a body (Transfer-Encoding)"},
		{"Content-Length and Transfer-Encoding", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", chunked, "upgrade request with a body (Transfer-Encoding)"},
		{"Content-Length not a number", "Content-Length: 0x10\r\n", "", "upgrade request with a body (Content-Length)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(upgradeRequest("/echo", tc.header) + tc.body))
			if status, body := rc.answer(); status != 400 || body != tc.reason+"\n" {
				t.Fatalf("answer %d %q, want 400 %q", status, body, tc.reason+"\n")
			}
			rc.expectEOF("after the 400")
			waitStats(t, s.Server, func(st Stats) bool { return st.Refused[400] == uint64(i+1) })
		})
	}
	// Content-Length: 0 announces no body: the upgrade goes on.
	t.Run("Content-Length: 0", func(t *testing.T) {
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		rc.write([]byte(upgradeRequest("/echo", "Content-Length: 0\r\n")))
		if resp := rc.response(); resp.StatusCode != 101 {
			t.Fatalf("status %d, want 101", resp.StatusCode)
		}
	})
}

// answer reads one HTTP response: its status and body (none for a 101,
// whose body is the WebSocket connection).
func (rc *rawClient) answer() (int, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode == 101 {
		return 101, ""
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("read response body: %v", err)
	}
	return resp.StatusCode, string(b)
}
