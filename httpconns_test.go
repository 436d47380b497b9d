package tickroom_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/server/admin"
)

// httpClient is one keep-alive connection to the public HTTP port from a
// source address of 127.0.0.0/8.
type httpClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialFrom(t *testing.T, addr net.Addr, src string) *httpClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr.String())
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("no loopback address %s here: %v", src, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &httpClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes req and reads the answer: its status and body.
func (c *httpClient) send(req string) (int, string) {
	c.t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, req); err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("read response from %s: %v", c.nc.LocalAddr(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// config asks GET /v1/config on the connection, keeping it open.
func (c *httpClient) config() int {
	c.t.Helper()
	st, _ := c.send("GET /v1/config HTTP/1.1\r\nHost: test\r\n\r\n")
	return st
}

// stall starts a login whose body never comes: the server has read its
// head (100 Continue) and is serving it, waiting for the body.
func (c *httpClient) stall() {
	c.t.Helper()
	st, _ := c.send("POST /v1/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n")
	if st != http.StatusContinue {
		c.t.Fatalf("stalled login: status %d, want 100", st)
	}
}

// closedWithin reports whether the server closes the connection within d.
func (c *httpClient) closedWithin(d time.Duration) bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c.br) // what it still sends, then EOF (nil) or a reset
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// servedFrom dials from src until GET /v1/config is answered 200 (a
// connection goes idle just after its answer is sent, so a new one may
// race it) and returns that connection; it fails the test after 5 s.
func servedFrom(t *testing.T, addr net.Addr, src string) *httpClient {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dialFrom(t, addr, src)
		st := c.config()
		if st == http.StatusOK {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("from %s: %d, want 200", src, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPublicHTTPConnectionsBounded runs the attack of a client that holds
// connections to the public HTTP port: idle keep-alive connections make
// room for new ones (per address and in all) and close at the idle
// timeout; connections all serving a request get 429 for their address
// and 503 for the port, while another address is served; and a request
// whose body never comes gets 408 at the body timeout.
func TestPublicHTTPConnectionsBounded(t *testing.T) {
	t.Run("idle connections make room", func(t *testing.T) {
		// An idle timeout far off: only the caps close connections here.
		srv, _, _ := start(t, tickroom.Options{MaxHTTPConns: 4, MaxHTTPConnsPerIP: 2, HTTPIdleTimeout: time.Minute})
		addr := srv.HTTPAddr()
		// Per address: the connection idle the longest makes room.
		a1, a2 := dialFrom(t, addr, "127.0.0.1"), dialFrom(t, addr, "127.0.0.1")
		for _, c := range []*httpClient{a1, a2} {
			if st := c.config(); st != http.StatusOK {
				t.Fatalf("config: %d", st)
			}
			// Each goes idle when its server goroutine is past its
			// answer, which may come after the client has read it (see
			// below): a moment each, so a1 is idle before a2 is.
			time.Sleep(200 * time.Millisecond)
		}
		a3 := servedFrom(t, addr, "127.0.0.1") // its third, with two idle
		if !a1.closedWithin(time.Second) {
			t.Fatal("the address's oldest idle connection stayed open past its cap")
		}
		if st := a2.config(); st != http.StatusOK {
			t.Fatalf("the newer idle connection: %d, want it still served", st)
		}
		// net/http marks a connection idle only after its answer is
		// written, and a client may read the answer first: on a loaded
		// machine a2's server goroutine can still be short of its idle
		// mark when b1 and c1 have been served, which would make them
		// idle the longer. Give it a moment.
		time.Sleep(200 * time.Millisecond)
		// In all: a2, a3, b1, c1 held; c2 closes the one idle the longest.
		b1, c1 := servedFrom(t, addr, "127.0.0.2"), servedFrom(t, addr, "127.0.0.3")
		if st := a3.config(); st != http.StatusOK { // a3 is now newer than a2
			t.Fatalf("a3: %d", st)
		}
		c2 := servedFrom(t, addr, "127.0.0.3") // past the port's cap, with idle ones held
		if !a2.closedWithin(time.Second) {
			t.Fatal("the port's oldest idle connection stayed open past its cap")
		}
		for _, c := range []*httpClient{a3, b1, c1, c2} {
			if st := c.config(); st != http.StatusOK {
				t.Fatalf("a connection not chosen to make room: %d, want it still served", st)
			}
		}
	})

	t.Run("busy connections", func(t *testing.T) {
		// A body timeout of 4 s rather than 10: the stalls below need only
		// outlast the few requests made while they hold their connections.
		defer tickroom.SetHTTPBodyTimeout(4 * time.Second)()
		srv, _, _ := start(t, tickroom.Options{MaxHTTPConns: 4, MaxHTTPConnsPerIP: 2, HTTPIdleTimeout: time.Second})
		addr := srv.HTTPAddr()
		idle := servedFrom(t, addr, "127.0.0.1")
		if !idle.closedWithin(5 * time.Second) {
			t.Fatal("an idle keep-alive connection stayed open past the idle timeout")
		}

		// The address's third gets 429, another address is served.
		s1, s2 := dialFrom(t, addr, "127.0.0.1"), dialFrom(t, addr, "127.0.0.1")
		s1.stall()
		s2.stall()
		stalled := time.Now()
		const get = "GET /v1/config HTTP/1.1\r\nHost: test\r\n\r\n"
		if st, body := dialFrom(t, addr, "127.0.0.1").send(get); st != http.StatusTooManyRequests || !strings.Contains(body, "from this address") {
			t.Fatalf("third connection of an address with two busy: %d %q, want 429", st, body)
		}
		login := dialFrom(t, addr, "127.0.0.2")
		if st, body := login.send(loginRequest("ann")); st != http.StatusOK {
			t.Fatalf("login from another address during the attack: %d %q, want 200", st, body)
		}
		login.closedWithin(5 * time.Second) // Connection: close; the server closes it after its answer
		// In all: four busy, the fifth gets 503.
		s3 := dialFrom(t, addr, "127.0.0.2")
		s3.stall()
		s4 := dialFrom(t, addr, "127.0.0.3")
		s4.stall()
		if st, body := dialFrom(t, addr, "127.0.0.4").send(get); st != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
			t.Fatalf("a connection past the port's cap with all busy: %d %q, want 503", st, body)
		}

		// A body that never comes gets 408 at the body timeout.
		_ = s1.nc.SetReadDeadline(stalled.Add(15 * time.Second))
		resp, err := http.ReadResponse(s1.br, nil)
		if err != nil {
			t.Fatalf("a login whose body never came: %v, want a 408 at the body timeout", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("a login whose body never came: %d, want 408", resp.StatusCode)
		}
		if !s1.closedWithin(5 * time.Second) {
			t.Fatal("the connection of a login whose body never came stayed open")
		}
		servedFrom(t, addr, "127.0.0.1") // once its stalled requests ended
	})
}

// TestServerServesLargePage sends a page file of several MiB whole, and a
// range of it, through the answer's per-write deadline (a chunk at a time,
// with sendfile), byte for byte.
func TestServerServesLargePage(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 5<<20+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	if err := os.WriteFile(filepath.Join(dir, "game.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, _, _ := start(t, tickroom.Options{Pages: os.DirFS(dir)})
	url := "http://" + srv.HTTPAddr().String() + "/game.bin"
	for _, tc := range []struct {
		rng        string
		from, to   int
		wantStatus int
	}{
		{"", 0, len(data), http.StatusOK},
		{"bytes=1000-3200000", 1000, 3200001, http.StatusPartialContent},
	} {
		req, _ := http.NewRequest("GET", url, nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tc.wantStatus || !bytes.Equal(body, data[tc.from:tc.to]) {
			t.Fatalf("GET %q: %d, %d bytes (%v); want %d, %d bytes as written", tc.rng, resp.StatusCode, len(body), err, tc.wantStatus, tc.to-tc.from)
		}
	}
}

// TestAdminPortConnectionsBounded holds the admin port's connections
// with requests that carry the token (a client without it holds none
// against a new one: server/admin's TestAdminPortKeepsRoomForTheToken):
// past its cap, with every connection serving such a request (each a
// notice whose body never comes), a new one gets 503; each stalled
// request gets 408 at the body timeout and its connection closes, and
// then the port serves again.
func TestAdminPortConnectionsBounded(t *testing.T) {
	// A body timeout of 4 s rather than 10: the stalls need only outlast
	// the requests made while they hold the port.
	defer tickroom.SetHTTPBodyTimeout(4 * time.Second)()
	srv, _, _ := start(t, tickroom.Options{AdminAddr: "127.0.0.1:0", AdminToken: "s3cret"})
	addr := srv.AdminAddr()
	stalled := make([]*httpClient, admin.DefaultMaxConns)
	for i := range stalled {
		c := dialFrom(t, addr, "127.0.0.1")
		st, _ := c.send("POST /v1/admin/notify HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n")
		if st != http.StatusContinue {
			t.Fatalf("stalled notice %d: status %d, want 100", i, st)
		}
		stalled[i] = c
	}
	began := time.Now()
	if st, body := dialFrom(t, addr, "127.0.0.1").send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"); st != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
		t.Fatalf("a connection past the admin port's %d, all serving a request: %d %q, want 503", len(stalled), st, body)
	}
	for _, c := range stalled {
		_ = c.nc.SetReadDeadline(began.Add(20 * time.Second))
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("a notice whose body never came: %v, want a 408 at the body timeout", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("a notice whose body never came: %d, want 408", resp.StatusCode)
		}
		if !c.closedWithin(5 * time.Second) {
			t.Fatal("the connection of a notice whose body never came stayed open")
		}
	}
	if st, _ := dialFrom(t, addr, "127.0.0.1").send("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"); st != http.StatusOK {
		t.Fatalf("/healthz once the stalled requests ended: %d, want 200", st)
	}
}
