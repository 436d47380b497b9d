package server

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
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

// A request target in absolute-form (RFC 9112 §3.2.2), as a client that
// takes the server for a proxy sends it, is served as its origin-form
// would be: its path routes the upgrade and its host is the request's,
// in the place of the Host header's. Its authority is checked as Host is.
func TestAbsoluteFormTarget(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute})
	addr := s.Addr().String()
	absolute := func(target, extra string) string {
		return strings.Replace(upgradeRequest("/", extra), "GET / ", "GET "+target+" ", 1)
	}
	for _, tc := range []struct {
		name, req         string
		path, query, host string
	}{
		{"http", absolute("http://"+addr+"/rec?token=abc%2Fdef&room=7", ""), "/rec", "token=abc%2Fdef&room=7", addr},
		{"scheme in capitals, https", absolute("HTTPS://game.example/rec", ""), "/rec", "", "game.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(tc.req))
			if status, body := rc.answer(); status != 101 {
				t.Fatalf("answer %d %q, want 101", status, body)
			}
			s.rec.waitOpened(t)
			got := s.rec.lastRequest()
			if got.path != tc.path || got.query != tc.query || got.host != tc.host {
				t.Fatalf("Accept saw path %q query %q host %q, want %q %q %q", got.path, got.query, got.host, tc.path, tc.query, tc.host)
			}
		})
	}
	t.Run("frames after the upgrade", func(t *testing.T) {
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		rc.write([]byte(absolute("http://"+addr+"/echo", "")))
		if status, body := rc.answer(); status != 101 {
			t.Fatalf("answer %d %q, want 101", status, body)
		}
		rc.write(maskedFrame(0x81, []byte("absolute")))
		if h, p, err := rc.readData(); err != nil || string(p) != "absolute" {
			t.Fatalf("echo: %v %q %v", h.OpCode, p, err)
		}
	})
	for _, tc := range []struct {
		name, req string
		status    int
		reason    string
	}{
		{"no host", absolute("http:///rec", ""), 400, "request target without a host"},
		{"a port but no host", absolute("http://:8080/rec", ""), 400, "request target without a host"},
		{"fragment in the host", absolute("http://"+addr+"#x/rec", ""), 400, "bad host in the request target"},
		{"userinfo", absolute("http://user:pw@"+addr+"/rec", ""), 400, "userinfo in the request target"},
		{"other scheme", absolute("ws://"+addr+"/rec", ""), 400, "Bad Request"},
		{"no Host header", strings.Replace(absolute("http://"+addr+"/rec", ""), "Host: test\r\n", "", 1), 400, "missing Host"},
		{"two Host headers", absolute("http://"+addr+"/rec", "Host: other\r\n"), 400, "duplicate Host"},
		{"unknown path", absolute("http://"+addr+"/nope", ""), 404, "no WebSocket endpoint at this path"},
		{"no path", absolute("http://"+addr+"?token=t", ""), 404, "no WebSocket endpoint at this path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(tc.req))
			if status, body := rc.answer(); status != tc.status || body != tc.reason+"\n" {
				t.Fatalf("answer %d %q, want %d %q", status, body, tc.status, tc.reason+"\n")
			}
			rc.expectEOF("after the refusal")
		})
	}
}

// A CR, LF or NUL inside a header line or the request line is refused
// with 400 (RFC 9110 §5.5, RFC 9112 §2.2): a bare LF ends the line for a
// proxy that takes it for a line ending, so a header hidden behind one
// (a Transfer-Encoding, a second Host) is read by the proxy and was not by
// the server, which gave 101 and then read the body as frames.
func TestControlCharactersInTheRequestAreRefused(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute})
	frame := maskedFrame(0x81, []byte("smuggled"))
	chunked := strconv.FormatInt(int64(len(frame)), 16) + "\r\n" + string(frame) + "\r\n0\r\n\r\n"
	for _, tc := range []struct{ name, req string }{
		{"LF before Transfer-Encoding", upgradeRequest("/echo", "X-A: a\nTransfer-Encoding: chunked\r\n") + chunked},
		{"LF before a second Host", strings.Replace(upgradeRequest("/echo", ""), "Host: test\r\n", "Host: test\nHost: other\r\n", 1)},
		{"CR in a value", upgradeRequest("/echo", "X-A: a\rb\r\n")},
		{"NUL in a value", upgradeRequest("/echo", "X-A: a\x00b\r\n")},
		{"LF in a name", upgradeRequest("/echo", "X\nA: a\r\n")},
		{"LF in the target", upgradeRequest("/echo?a\nb", "")},
		{"CR in the target", upgradeRequest("/echo?a\rb", "")},
		{"NUL in the target", upgradeRequest("/echo?a\x00b", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(tc.req))
			if status, body := rc.answer(); status != 400 || body != "Bad Request\n" {
				t.Fatalf("answer %d %q, want 400 %q", status, body, "Bad Request\n")
			}
			rc.expectEOF("after the 400")
		})
	}
}
