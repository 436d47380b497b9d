package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// rawClient speaks WebSocket by hand over TCP, so tests can send what no
// well-behaved client library would.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ=="

// upgradeRequest returns a valid upgrade request for path with extra
// header lines (each ending in \r\n).
func upgradeRequest(path, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// dialWS upgrades a raw connection on path and checks the 101.
func dialWS(t testing.TB, s *testServer, path string) *rawClient {
	t.Helper()
	rc := &rawClient{t: t, nc: dialRaw(t, s)}
	rc.br = bufio.NewReader(rc.nc)
	if _, err := io.WriteString(rc.nc, upgradeRequest(path, "")); err != nil {
		t.Fatal(err)
	}
	resp := rc.response()
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept = %q", got)
	}
	return rc
}

// response reads one HTTP response head and body.
func (rc *rawClient) response() *http.Response {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode != 101 {
		_, _ = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	return resp
}

// maskedFrame builds a client frame: b0 is the first byte (FIN, RSV,
// opcode), payload is masked with a fixed key.
func maskedFrame(b0 byte, payload []byte) []byte {
	return frameWithLen(b0, payload, int64(len(payload)), true)
}

// frameWithLen builds a frame whose header claims length n whatever the
// payload.
func frameWithLen(b0 byte, payload []byte, n int64, masked bool) []byte {
	b := []byte{b0, 0}
	switch {
	case n < 126:
		b[1] = byte(n)
	case n <= 0xffff:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	p := append([]byte(nil), payload...)
	ws.Cipher(p, mask, 0)
	return append(b, p...)
}

func (rc *rawClient) write(b []byte) {
	rc.t.Helper()
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// readFrame reads one server frame, which must be unmasked.
func (rc *rawClient) readFrame() (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(rc.br)
	if err != nil {
		return h, nil, err
	}
	if h.Masked {
		return h, nil, errors.New("server frame is masked")
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(rc.br, p)
	return h, p, err
}

// readData reads one server frame other than a ping: the server pings a
// connection silent for PingInterval, as a test's may be on a loaded box.
func (rc *rawClient) readData() (ws.Header, []byte, error) {
	for {
		h, p, err := rc.readFrame()
		if err != nil || h.OpCode != ws.OpPing {
			return h, p, err
		}
	}
}

// readClose reads frames until a close frame and returns its code; pings
// are skipped.
func (rc *rawClient) readClose() ws.StatusCode {
	rc.t.Helper()
	for {
		h, p, err := rc.readFrame()
		if err != nil {
			rc.t.Fatalf("reading for a close frame: %v", err)
		}
		if h.OpCode != ws.OpClose {
			continue
		}
		if len(p) < 2 {
			return ws.StatusNoStatusRcvd
		}
		return ws.StatusCode(binary.BigEndian.Uint16(p))
	}
}

// expectEOF checks that the server ended the TCP connection gracefully
// (its FIN, nothing more) after its close frame or HTTP answer. A read
// that times out (10 s) means the server held the socket open, and fails:
// a test that uses it sets a CloseTimeout well past 10 s, so a socket
// held until the close deadline cannot pass for one closed.
func (rc *rawClient) expectEOF(when string) {
	rc.t.Helper()
	_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := rc.br.ReadByte()
	switch {
	case err == nil:
		rc.t.Fatalf("%s: byte %#x, want the server's FIN", when, b)
	case errors.Is(err, os.ErrDeadlineExceeded):
		rc.t.Fatalf("%s: no FIN within 10 s, the server held the TCP connection open; want EOF", when)
	case !errors.Is(err, io.EOF):
		rc.t.Fatalf("%s: read %v, want EOF (the server's FIN)", when, err)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	s := startServer(t, Config{Origins: []string{"https://game.example"}})
	tests := []struct {
		name   string
		req    string
		status int
		header string // a header the response must carry, "Name: value"
	}{
		{"oversized request", upgradeRequest("/echo", "X-Pad: "+strings.Repeat("a", 9000)+"\r\n"), 431, ""},
		{"oversized without end", "GET /echo HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 9000), 431, ""},
		{"POST", strings.Replace(upgradeRequest("/echo", ""), "GET", "POST", 1), 405, "Allow: GET"},
		{"missing key", strings.Replace(upgradeRequest("/echo", ""), "Sec-WebSocket-Key: "+testKey+"\r\n", "", 1), 400, ""},
		{"short key", strings.Replace(upgradeRequest("/echo", ""), testKey, "c2hvcnQ=", 1), 400, ""},
		{"key not base64", strings.Replace(upgradeRequest("/echo", ""), testKey, "!!!!!!!!!!!!!!!!!!!!!!==", 1), 400, ""},
		{"missing upgrade", strings.Replace(upgradeRequest("/echo", ""), "Upgrade: websocket\r\n", "", 1), 400, ""},
		{"missing host", strings.Replace(upgradeRequest("/echo", ""), "Host: test\r\n", "", 1), 400, ""},
		{"duplicate host", upgradeRequest("/echo", "Host: other\r\n"), 400, ""},
		{"duplicate key", upgradeRequest("/echo", "sec-websocket-key: "+testKey+"\r\n"), 400, ""},
		{"bad version", strings.Replace(upgradeRequest("/echo", ""), "Version: 13", "Version: 8", 1), 426, "Sec-Websocket-Version: 13"},
		{"HTTP/1.0", strings.Replace(upgradeRequest("/echo", ""), "HTTP/1.1", "HTTP/1.0", 1), 400, ""},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, ""},
		{"unknown path", upgradeRequest("/nope", ""), 404, ""},
		{"origin not allowed", upgradeRequest("/echo", "Origin: https://evil.example\r\n"), 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(tt.req))
			resp := rc.response()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.header != "" {
				name, value, _ := strings.Cut(tt.header, ": ")
				if got := resp.Header.Get(name); got != value {
					t.Fatalf("%s = %q, want %q", name, got, value)
				}
			}
		})
	}
	t.Run("origin allowed", func(t *testing.T) {
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		rc.write([]byte(upgradeRequest("/echo", "Origin: https://GAME.example\r\n")))
		if resp := rc.response(); resp.StatusCode != 101 {
			t.Fatalf("status %d, want 101", resp.StatusCode)
		}
	})
}

// TestHeadRefusalHasNoBody: the answer to a HEAD request carries no body
// (RFC 9110 §9.3.2), whatever refuses it; a client reads what follows the
// head as the next response.
func TestHeadRefusalHasNoBody(t *testing.T) {
	s := startServer(t, Config{CloseTimeout: time.Minute, MaxRequestSize: 1024})
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"method", strings.Replace(upgradeRequest("/echo", ""), "GET", "HEAD", 1), 405},
		{"request too large", strings.Replace(upgradeRequest("/echo", "X-Pad: "+strings.Repeat("p", 2000)+"\r\n"), "GET", "HEAD", 1), 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(tc.req))
			resp, err := http.ReadResponse(rc.br, &http.Request{Method: http.MethodHead})
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("answer to HEAD: %v %v, want %d", resp, err, tc.status)
			}
			// The FIN comes once the head is out, well before the close
			// deadline (a minute), which would end the read as cleanly.
			_ = rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if rest, err := io.ReadAll(rc.br); err != nil || len(rest) != 0 {
				t.Fatalf("after the head of the %d to HEAD: %q (%v), want the end of the connection", tc.status, rest, err)
			}
		})
	}
}

func TestAcceptSeesRequestAndRefuses(t *testing.T) {
	s := startServer(t, Config{})
	t.Run("request reaches Accept", func(t *testing.T) {
		rc := &rawClient{t: t, nc: dialRaw(t, s)}
		rc.br = bufio.NewReader(rc.nc)
		rc.write([]byte(upgradeRequest("/rec?room=7&token=abc%2Fdef", "X-Test: yes\r\nSec-WebSocket-Protocol: tickroom.v1\r\n")))
		resp := rc.response()
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Protocol") != Subprotocol {
			t.Fatalf("status %d, protocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
		}
		want := recordedRequest{path: "/rec", query: "room=7&token=abc%2Fdef", token: "abc/def", header: "yes", subprotocol: Subprotocol, host: "test",
			clientIP: netip.MustParseAddr("127.0.0.1"), connIP: netip.MustParseAddr("127.0.0.1")}
		if got := s.rec.lastRequest(); got != want {
			t.Fatalf("Accept saw %+v, want %+v", got, want)
		}
		s.rec.waitOpened(t)
	})
	for _, status := range []int{401, 403, 429, 503} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s.rec.setRefuse(&HTTPError{Status: status, Message: "no"})
			t.Cleanup(func() { s.rec.setRefuse(nil) })
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(upgradeRequest("/rec?token=bad", "")))
			if resp := rc.response(); resp.StatusCode != status {
				t.Fatalf("status %d, want %d", resp.StatusCode, status)
			}
		})
	}
}

func TestHandshakeSplitWithFrameBehind(t *testing.T) {
	s := startServer(t, Config{})
	req := []byte(upgradeRequest("/echo", ""))
	first := maskedFrame(0x81, []byte("right behind"))
	all := append(append([]byte(nil), req...), first...)
	for _, chunk := range []int{1, 7, 64, len(all)} {
		t.Run("chunks of "+itoa(chunk), func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			if tcp, ok := rc.nc.(*net.TCPConn); ok {
				_ = tcp.SetNoDelay(true)
			}
			for i := 0; i < len(all); i += chunk {
				rc.write(all[i:min(i+chunk, len(all))])
			}
			if resp := rc.response(); resp.StatusCode != 101 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			h, p, err := rc.readFrame()
			if err != nil || h.OpCode != ws.OpText || string(p) != "right behind" {
				t.Fatalf("echo of the frame sent behind the request: %v %q %v", h.OpCode, p, err)
			}
		})
	}
}

func itoa(n int) string {
	b := []byte{}
	for n >= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(append([]byte{byte('0' + n)}, b...))
}
