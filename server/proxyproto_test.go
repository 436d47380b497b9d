package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/tickroom/tickroom/server/clientip"
)

// proxyV2 returns a version 2 PROXY header naming src (to dst :8081).
func proxyV2(t testing.TB, src string) []byte {
	t.Helper()
	ap := netip.MustParseAddrPort(src)
	dst := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8081}
	if ap.Addr().Is6() {
		dst = &net.TCPAddr{IP: net.ParseIP("fd00::1"), Port: 8081}
	}
	h := proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(ap), dst)
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proxyV2Local is a version 2 LOCAL header: a proxy's own health check.
var proxyV2Local = append(append([]byte{}, sigV2...), 0x20, 0x00, 0x00, 0x00)

// upgradeWithProxy dials s, sends header and an upgrade request (in two
// writes when split, the first ending inside the header) and returns the
// connection and the response.
func upgradeWithProxy(t *testing.T, s *testServer, header []byte, split bool) (*rawClient, int, string) {
	t.Helper()
	rc := &rawClient{t: t, nc: dialRaw(t, s)}
	rc.br = bufio.NewReader(rc.nc)
	msg := append(append([]byte{}, header...), upgradeRequest("/rec", "")...)
	if split && len(header) > 3 {
		rc.write(msg[:len(header)-3])
		time.Sleep(20 * time.Millisecond) // a separate read on the server
		msg = msg[len(header)-3:]
	}
	rc.write(msg)
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode == 101 {
		return rc, 101, ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return rc, resp.StatusCode, string(body)
}

// TestProxyProtocolFromTrustedProxy: a trusted proxy's PROXY header names
// the client, in either version and address family, whole or split over
// reads; a header that names no client (a health check) or none at all
// leaves the proxy as the peer.
func TestProxyProtocolFromTrustedProxy(t *testing.T) {
	loopback := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name   string
		header []byte
		want   netip.Addr
	}{
		{"v1 TCP4", []byte("PROXY TCP4 198.51.100.7 10.0.0.1 40000 8081\r\n"), netip.MustParseAddr("198.51.100.7")},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::7 fd00::1 40000 8081\r\n"), netip.MustParseAddr("2001:db8::7")},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), loopback},
		{"v2 TCP4", proxyV2(t, "198.51.100.8:40000"), netip.MustParseAddr("198.51.100.8")},
		{"v2 TCP6", proxyV2(t, "[2001:db8::8]:40000"), netip.MustParseAddr("2001:db8::8")},
		{"v2 LOCAL", proxyV2Local, loopback},
		{"no header", nil, loopback},
	}
	s := startServer(t, Config{TrustedProxies: clientip.MustParse("127.0.0.1"), ProxyProtocol: true})
	for _, tt := range tests {
		for _, split := range []bool{false, true} {
			name := tt.name
			if split {
				name += " split"
			}
			t.Run(name, func(t *testing.T) {
				rc, status, body := upgradeWithProxy(t, s, tt.header, split)
				defer rc.nc.Close()
				if status != 101 {
					t.Fatalf("status %d %q", status, body)
				}
				c := s.rec.waitOpened(t)
				req := s.rec.lastRequest()
				if c.ClientIP() != tt.want || req.clientIP != tt.want {
					t.Fatalf("client IP %s (request %s), want %s", c.ClientIP(), req.clientIP, tt.want)
				}
			})
		}
	}
	t.Run("malformed header", func(t *testing.T) {
		// A v2 header declaring 2,000 bytes after its 16 is over
		// MaxProxyHeaderV2: refused from its length, before the rest is sent.
		v2Long := string(append(append([]byte{}, sigV2...), 0x21, 0x11, 0x07, 0xd0))
		for _, h := range []string{"PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n", "PROXY TCP4 " + strings.Repeat("1", 120), v2Long} {
			rc, status, body := upgradeWithProxy(t, s, []byte(h), false)
			rc.nc.Close()
			if status != 400 || !strings.Contains(body, "malformed PROXY header") {
				t.Fatalf("%q: %d %q, want 400", h, status, body)
			}
		}
	})
}

// TestProxyProtocolSpoofRefused: a peer that is not a trusted proxy cannot
// name itself with a PROXY header, in either version: it is answered 400,
// and it cannot dodge the per-IP connection cap with one.
func TestProxyProtocolSpoofRefused(t *testing.T) {
	s := startServer(t, Config{TrustedProxies: clientip.MustParse("10.0.0.0/8"), ProxyProtocol: true, MaxConnsPerIP: 1})
	first := dialWS(t, s, "/rec")
	defer first.nc.Close()
	if c := s.rec.waitOpened(t); c.ClientIP() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("direct client's IP %s", c.ClientIP())
	}
	for name, h := range map[string][]byte{
		"v1": []byte("PROXY TCP4 198.51.100.7 10.0.0.1 40000 8081\r\n"),
		"v2": proxyV2(t, "198.51.100.8:40000"),
	} {
		t.Run(name, func(t *testing.T) {
			rc, status, body := upgradeWithProxy(t, s, h, false)
			defer rc.nc.Close()
			if status != 400 || !strings.Contains(body, "untrusted") {
				t.Fatalf("PROXY header from an untrusted peer: %d %q, want 400", status, body)
			}
		})
	}
	rc, status, _ := upgradeWithProxy(t, s, nil, false)
	rc.nc.Close()
	if status != 429 {
		t.Fatalf("second connection of the direct client: %d, want 429 (one per address)", status)
	}
}

// TestProxyProtocolPerIPLimits: behind a trusted proxy, the per-IP caps
// count the clients its PROXY headers name, not the proxy.
func TestProxyProtocolPerIPLimits(t *testing.T) {
	t.Run("connections", func(t *testing.T) {
		s := startServer(t, Config{TrustedProxies: clientip.MustParse("127.0.0.1"), ProxyProtocol: true, MaxConnsPerIP: 1})
		for _, tc := range []struct {
			src  string
			want int
		}{{"198.51.100.1:1000", 101}, {"198.51.100.2:1000", 101}, {"198.51.100.1:1001", 429}} {
			rc, status, body := upgradeWithProxy(t, s, proxyV2(t, tc.src), false)
			t.Cleanup(func() { rc.nc.Close() })
			if status != tc.want {
				t.Fatalf("client %s: %d %q, want %d", tc.src, status, body, tc.want)
			}
		}
	})
	t.Run("handshakes", func(t *testing.T) {
		s := startServer(t, Config{TrustedProxies: clientip.MustParse("127.0.0.1"), ProxyProtocol: true, MaxHandshakesPerIP: 1})
		slow := dialRaw(t, s)
		_, _ = slow.Write(append([]byte("PROXY TCP4 198.51.100.9 10.0.0.1 1 8081\r\n"), "GET /rec HTTP/1.1\r\n"...)) // unfinished
		waitFor(t, func() bool { return s.Conns() == 1 })
		time.Sleep(50 * time.Millisecond) // the header is read
		rc, status, _ := upgradeWithProxy(t, s, []byte("PROXY TCP4 198.51.100.9 10.0.0.1 2 8081\r\n"), false)
		rc.nc.Close()
		if status != 429 {
			t.Fatalf("second concurrent handshake of one client behind the proxy: %d, want 429", status)
		}
		rc, status, _ = upgradeWithProxy(t, s, []byte("PROXY TCP4 198.51.100.10 10.0.0.1 2 8081\r\n"), false)
		rc.nc.Close()
		if status != 101 {
			t.Fatalf("another client behind the proxy: %d, want 101", status)
		}
	})
}

// TestProxyProtocolIncompleteHeaderTimesOut: a PROXY header that never
// ends (a stalled proxy, or a client posing as one) is held no longer
// than any other unfinished handshake: it gets 408 at HandshakeTimeout
// and its socket is closed, and a whole header meanwhile is served.
func TestProxyProtocolIncompleteHeaderTimesOut(t *testing.T) {
	s := startServer(t, Config{TrustedProxies: clientip.MustParse("127.0.0.1"), ProxyProtocol: true,
		HandshakeTimeout: 300 * time.Millisecond, SweepInterval: 20 * time.Millisecond, CloseTimeout: time.Minute})
	for name, partial := range map[string][]byte{
		"v1": []byte("PROXY TCP4 198.51.100.7 10.0.0.1 400"),
		"v2": proxyV2(t, "198.51.100.8:40000")[:20],
	} {
		t.Run(name, func(t *testing.T) {
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			defer rc.nc.Close()
			rc.br = bufio.NewReader(rc.nc)
			start := time.Now()
			rc.write(partial) // and never the rest
			ok, status, _ := upgradeWithProxy(t, s, proxyV2(t, "198.51.100.9:40000"), false)
			ok.nc.Close()
			if status != 101 {
				t.Fatalf("a whole header while another stalls: %d, want 101", status)
			}
			if resp := rc.response(); resp.StatusCode != 408 {
				t.Fatalf("stalled PROXY header: status %d, want 408", resp.StatusCode)
			}
			if waited := time.Since(start); waited < 250*time.Millisecond {
				t.Fatalf("answered after %v, before the handshake timeout", waited)
			}
			rc.expectEOF("after the timeout response")
		})
	}
}

// TestProxyProtocolOff: without Config.ProxyProtocol a PROXY header is just
// a bad request, from anyone.
func TestProxyProtocolOff(t *testing.T) {
	s := startServer(t, Config{TrustedProxies: clientip.MustParse("127.0.0.1")})
	rc, status, _ := upgradeWithProxy(t, s, []byte("PROXY TCP4 198.51.100.7 10.0.0.1 40000 8081\r\n"), false)
	rc.nc.Close()
	if status != 400 {
		t.Fatalf("PROXY header with the protocol off: %d, want 400", status)
	}
}

// FuzzProxyHeader: the in-place parser gives the same answer for a
// header whole and fed in chunks as gnet would deliver it, never reads
// past the header, and only ever names an address the header spells out.
func FuzzProxyHeader(f *testing.F) {
	seeds := [][]byte{
		[]byte("PROXY TCP4 198.51.100.7 10.0.0.1 40000 8081\r\nGET / HTTP/1.1\r\n"),
		[]byte("PROXY TCP6 2001:db8::7 fd00::1 40000 8081\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 1.2.3.4\r\n"),
		[]byte("PROXY " + strings.Repeat("x", 110)),
		proxyV2(f, "198.51.100.8:40000"),
		proxyV2(f, "[2001:db8::8]:40000"),
		append(proxyV2(f, "198.51.100.8:1"), "GET"...),
		proxyV2Local,
		append(append([]byte{}, sigV2...), 0x21, 0x11, 0xff, 0xff),
		[]byte("GET /v1/ws HTTP/1.1\r\n"),
		[]byte("\r\n\r\n"),
		[]byte("PRO"),
	}
	for _, s := range seeds {
		f.Add(s, uint8(1))
		f.Add(s, uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		n, src, err := parseProxyHeader(data)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("used %d of %d, err %v", n, len(data), err)
		}
		if err == nil && n > max(maxProxyV1, MaxProxyHeaderV2) {
			t.Fatalf("a header of %d bytes accepted", n)
		}
		if src.IsValid() && !namesAddr(data[:n], src) {
			t.Fatalf("address %s is not the header's source %q", src, data[:n])
		}
		// Fed in chunks: incomplete until the whole header is there, then
		// the same answer.
		step := int(chunk%16) + 1
		for end := 0; end < len(data); end += step {
			pn, psrc, perr := parseProxyHeader(data[:end])
			switch {
			case errors.Is(perr, errProxyHeaderMore):
			case err == nil && end < n:
				t.Fatalf("prefix of %d bytes: %v, want incomplete (whole: %d bytes)", end, perr, n)
			case pn != n || psrc != src || (perr == nil) != (err == nil):
				t.Fatalf("prefix of %d bytes: %d %s %v; whole: %d %s %v", end, pn, psrc, perr, n, src, err)
			}
		}
	})
}

// namesAddr reports whether header spells out a as its source: the third
// field of a version 1 line, or bytes of a version 2 address block.
func namesAddr(header []byte, a netip.Addr) bool {
	if bytes.HasPrefix(header, sigV1) {
		f := strings.Fields(string(header))
		if len(f) < 3 {
			return false
		}
		b, err := netip.ParseAddr(f[2])
		return err == nil && b.Unmap() == a
	}
	return bytes.Contains(header[16:], a.AsSlice())
}
