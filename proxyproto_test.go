package tickroom_test

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
)

// rawRequest opens a TCP connection to addr, sends header (a PROXY
// header, or nothing) and req in one write, and returns the response's
// status and body.
func rawRequest(t *testing.T, addr net.Addr, header, req string) (int, string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, header+req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func loginRequest(name string) string {
	body := `{"name":"` + name + `"}`
	return "POST /v1/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func upgradeRequest(token string) string {
	return "GET " + tickroom.WebSocketPath + "?token=" + token + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// v2Header is a PROXY protocol version 2 header naming 203.0.113.9:4000.
const v2Header = "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + "\xcb\x00\x71\x09" + "\x0a\x00\x00\x01" + "\x0f\xa0" + "\x1f\x91"

// TestServerProxyProtocol runs the binary's server with -proxy-protocol:
// behind a trusted proxy, each client its PROXY header names has its own
// guest-login allowance on the HTTP port, and the WebSocket port takes
// the header ahead of the upgrade; from an untrusted address the header
// is refused on both ports.
func TestServerProxyProtocol(t *testing.T) {
	t.Run("trusted proxy", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{TrustedProxies: []string{"127.0.0.1"}, ProxyProtocol: true, GuestLoginRate: 0.01, GuestLoginBurst: 1})
		a := "PROXY TCP4 198.51.100.7 10.0.0.1 40000 443\r\n"
		steps := []struct {
			name, header string
			want         int
		}{
			{"client A", a, 200},
			{"client A again: its own limit", a, 429},
			{"client B (v2)", v2Header, 200},
			{"the proxy itself, no header", "", 200},
		}
		var out struct{ Token string }
		for _, s := range steps {
			st, body := rawRequest(t, srv.HTTPAddr(), s.header, loginRequest("ann"))
			if st != s.want {
				t.Fatalf("%s: %d %q, want %d", s.name, st, body, s.want)
			}
			if st == 200 {
				_ = json.Unmarshal([]byte(body), &out)
			}
		}
		tok := out.Token
		if st, body := rawRequest(t, srv.Addr(), a, upgradeRequest(tok)); st != http.StatusSwitchingProtocols {
			t.Fatalf("WebSocket upgrade after a PROXY header: %d %q", st, body)
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{TrustedProxies: []string{"10.0.0.0/8"}, ProxyProtocol: true, GuestLoginRate: math.Inf(1)})
		for _, h := range []string{"PROXY TCP4 198.51.100.7 10.0.0.1 40000 443\r\n", v2Header} {
			if st, body := rawRequest(t, srv.HTTPAddr(), h, loginRequest("eve")); st != http.StatusBadRequest {
				t.Fatalf("login behind a PROXY header from an untrusted peer: %d %q, want 400", st, body)
			}
			tok := login(t, srv, "eve")
			if st, body := rawRequest(t, srv.Addr(), h, upgradeRequest(tok)); st != http.StatusBadRequest || !strings.Contains(body, "untrusted") {
				t.Fatalf("upgrade behind a PROXY header from an untrusted peer: %d %q, want 400", st, body)
			}
		}
	})
}

// TestIPv6ClientsCountedByNetwork runs the WebSocket port's per-address
// connection cap for IPv6 clients, named by a trusted proxy's PROXY
// headers: the addresses of one /64 share one address's cap, the /64s of
// one /48 share 16 times it, and another /48 is counted apart.
func TestIPv6ClientsCountedByNetwork(t *testing.T) {
	srv, _, _ := start(t, tickroom.Options{TrustedProxies: []string{"127.0.0.1"}, ProxyProtocol: true, GuestLoginRate: math.Inf(1), MaxConnsPerIP: 2})
	n := 0
	// upgrade opens a WebSocket as a new player from client, through a
	// PROXY header, and keeps it open; it returns the HTTP status.
	upgrade := func(client string) int {
		t.Helper()
		n++
		tok := login(t, srv, "p"+strconv.Itoa(n))
		nc, err := net.DialTimeout("tcp", srv.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(nc, "PROXY TCP6 "+client+" ::1 40000 443\r\n"+upgradeRequest(tok)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("upgrade from %s: %v", client, err)
		}
		return resp.StatusCode
	}
	for _, c := range []string{"2001:db8:1:1::1", "2001:db8:1:1::2"} {
		if st := upgrade(c); st != http.StatusSwitchingProtocols {
			t.Fatalf("%s: %d, want 101", c, st)
		}
	}
	if st := upgrade("2001:db8:1:1::3"); st != http.StatusTooManyRequests {
		t.Fatalf("a third address of one /64 with MaxConnsPerIP 2: %d, want 429", st)
	}
	// The /48's share: 32 connections, two of them taken.
	for i := 2; i <= 16; i++ {
		for j := 1; j <= 2; j++ {
			c := "2001:db8:1:" + strconv.FormatInt(int64(i), 16) + "::" + strconv.Itoa(j)
			if st := upgrade(c); st != http.StatusSwitchingProtocols {
				t.Fatalf("%s, under its /48's share: %d, want 101", c, st)
			}
		}
	}
	if st := upgrade("2001:db8:1:99::1"); st != http.StatusTooManyRequests {
		t.Fatalf("a /64 past its /48's share: %d, want 429", st)
	}
	if st := upgrade("2001:db8:2::1"); st != http.StatusSwitchingProtocols {
		t.Fatalf("another /48: %d, want 101", st)
	}
}
