package server

import (
	"bufio"
	"net/netip"
	"testing"

	"github.com/tickroom/tickroom/server/clientip"
)

// TestClientIPBehindProxy checks who the server believes a connection comes
// from: X-Forwarded-For counts only when the TCP peer (here 127.0.0.1) is a
// trusted proxy.
func TestClientIPBehindProxy(t *testing.T) {
	loopback := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name    string
		trusted string
		headers string
		want    netip.Addr
	}{
		{"no proxies trusted: header ignored", "", "X-Forwarded-For: 198.51.100.7\r\n", loopback},
		{"peer not in the list: header ignored", "10.0.0.0/8", "X-Forwarded-For: 198.51.100.7\r\n", loopback},
		{"trusted peer names the client", "127.0.0.0/8", "X-Forwarded-For: 198.51.100.7\r\n", netip.MustParseAddr("198.51.100.7")},
		{"client's own entry left of the proxy's is ignored", "127.0.0.1",
			"X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 198.51.100.7\r\n", netip.MustParseAddr("198.51.100.7")},
		{"trusted peer without the header", "127.0.0.1", "", loopback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{TrustedProxies: clientip.MustParse(tt.trusted)})
			rc := &rawClient{t: t, nc: dialRaw(t, s)}
			rc.br = bufio.NewReader(rc.nc)
			rc.write([]byte(upgradeRequest("/rec", tt.headers)))
			if resp := rc.response(); resp.StatusCode != 101 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c := s.rec.waitOpened(t)
			req := s.rec.lastRequest()
			if req.clientIP != tt.want || req.connIP != tt.want || c.ClientIP() != tt.want {
				t.Fatalf("client IP: request %s, conn in Accept %s, conn %s; want %s", req.clientIP, req.connIP, c.ClientIP(), tt.want)
			}
		})
	}
}

// TestForwardedForCannotDodgeHandshakeCap: a direct client that names a
// different address in each request is still one IP to the per-IP
// handshake cap.
func TestForwardedForCannotDodgeHandshakeCap(t *testing.T) {
	s := startServer(t, Config{MaxHandshakesPerIP: 2, TrustedProxies: clientip.MustParse("10.0.0.0/8")})
	for _, fake := range []string{"198.51.100.1", "198.51.100.2"} {
		nc := dialRaw(t, s)
		_, _ = nc.Write([]byte("GET /echo HTTP/1.1\r\nX-Forwarded-For: " + fake + "\r\n")) // unfinished
	}
	waitFor(t, func() bool { return s.Conns() == 2 })
	rc := &rawClient{t: t, nc: dialRaw(t, s)}
	rc.br = bufio.NewReader(rc.nc)
	rc.write([]byte(upgradeRequest("/echo", "X-Forwarded-For: 198.51.100.3\r\n")))
	if resp := rc.response(); resp.StatusCode != 429 {
		t.Fatalf("third concurrent handshake with a forged X-Forwarded-For: status %d, want 429", resp.StatusCode)
	}
}

// TestTrustedProxyNotHandshakeCapped: every client of a site arrives from
// its proxy's address, so the proxy itself is not held to the per-IP
// handshake cap.
func TestTrustedProxyNotHandshakeCapped(t *testing.T) {
	s := startServer(t, Config{MaxHandshakesPerIP: 1, TrustedProxies: clientip.MustParse("127.0.0.1")})
	for i := 0; i < 3; i++ {
		nc := dialRaw(t, s)
		_, _ = nc.Write([]byte("GET /echo HTTP/1.1\r\n")) // unfinished
	}
	waitFor(t, func() bool { return s.Conns() == 3 })
	dialWS(t, s, "/echo")
}
