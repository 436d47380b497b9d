package admin_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/admin"
)

// rawConn is one TCP connection to the admin port, written by hand.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (e *env) dialRaw(t *testing.T) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", e.admin.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes req and reads the answer: its status and body.
func (c *rawConn) send(req string) (int, string) {
	c.t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, req); err != nil {
		c.t.Fatal(err)
	}
	return c.answer()
}

// answer reads the next answer: its status and body.
func (c *rawConn) answer() (int, string) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// closedWithin reports whether the server closes the connection within d.
func (c *rawConn) closedWithin(d time.Duration) bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// stall sends a notice whose body never comes, and waits for the 100
// Continue that says the server is reading it.
func (c *rawConn) stall() {
	c.t.Helper()
	if st, _ := c.send(stalledNotice); st != http.StatusContinue {
		c.t.Fatalf("stalled notice: status %d, want 100", st)
	}
}

const (
	healthz = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
	// stalledNotice is the head of a notice whose body is to come.
	stalledNotice = "POST /v1/admin/notify HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + adminToken +
		"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 40\r\n\r\n"
)

// TestAdminPortBounds: what a client of the admin port meets at each of
// its bounds, with short timeouts set in the Config: a connection that
// sends nothing, or its head a byte at a time, is closed at the header
// timeout; a body sent in part gets 408 at the body timeout, one past
// 64 KiB gets 413; a keep-alive connection is closed at the idle
// timeout; and past the connection cap an idle connection is closed for
// room, while with every one serving a request a new one gets 503.
func TestAdminPortBounds(t *testing.T) {
	const short = 300 * time.Millisecond
	e := startWith(t, adminToken, func(c *admin.Config) {
		c.MaxConns, c.HeaderTimeout, c.BodyTimeout, c.IdleTimeout = 2, short, short, short
	})

	t.Run("silent connection", func(t *testing.T) {
		if !e.dialRaw(t).closedWithin(10 * time.Second) {
			t.Fatal("a connection that sent nothing stayed open past the header timeout")
		}
	})
	t.Run("head a byte at a time", func(t *testing.T) {
		c := e.dialRaw(t)
		sent := 0
		for _, b := range []byte(healthz) {
			if _, err := c.nc.Write([]byte{b}); err != nil {
				break // closed
			}
			sent++
			time.Sleep(short / 4)
		}
		if sent == len(healthz) {
			t.Fatalf("a head sent a byte every %v was read whole, %d bytes", short/4, sent)
		}
		if !c.closedWithin(10 * time.Second) {
			t.Fatal("a connection sending its head a byte at a time stayed open past the header timeout")
		}
	})
	t.Run("body sent in part", func(t *testing.T) {
		c := e.dialRaw(t)
		c.stall()
		if _, err := io.WriteString(c.nc, `{"text":`); err != nil {
			t.Fatal(err)
		}
		if st, body := c.answer(); st != http.StatusRequestTimeout || !strings.Contains(body, "not sent in time") {
			t.Fatalf("a notice whose body never came whole: %d %q, want 408", st, body)
		}
		if !c.closedWithin(10 * time.Second) {
			t.Fatal("its connection stayed open")
		}
	})
	t.Run("body past its cap", func(t *testing.T) {
		big := `{"text":"` + strings.Repeat("x", 70<<10) + `"}`
		if st, body := e.do("POST", "/v1/admin/notify", adminToken, big); st != http.StatusRequestEntityTooLarge || !strings.Contains(body, "64 KiB") {
			t.Fatalf("a 70 KiB notice: %d %q, want 413", st, body)
		}
	})
	t.Run("idle keep-alive connection", func(t *testing.T) {
		c := e.dialRaw(t)
		if st, _ := c.send(healthz); st != http.StatusOK {
			t.Fatalf("/healthz: %d", st)
		}
		if !c.closedWithin(10 * time.Second) {
			t.Fatal("an idle keep-alive connection stayed open past the idle timeout")
		}
	})
	t.Run("connection cap", func(t *testing.T) {
		// With the idle timeout far off, an idle connection makes room.
		e := startWith(t, adminToken, func(c *admin.Config) { c.MaxConns, c.IdleTimeout = 2, time.Minute })
		idle := e.dialRaw(t)
		if st, _ := idle.send(healthz); st != http.StatusOK {
			t.Fatalf("/healthz: %d", st)
		}
		s1 := e.dialRaw(t)
		s1.stall()
		// The third: the idle one is closed for it. A connection goes
		// idle once its server goroutine is past the answer, which may
		// be after the client read it: until then the third is refused.
		for deadline := time.Now().Add(5 * time.Second); ; {
			c := e.dialRaw(t)
			st, _ := c.send(stalledNotice)
			if st == http.StatusContinue {
				break
			}
			if st != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("a third connection with one idle: %d, want the idle one closed for it", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !idle.closedWithin(5 * time.Second) {
			t.Fatal("the idle connection stayed open past the cap")
		}
		// Both serving a request: a third is refused.
		if st, body := e.dialRaw(t).send(healthz); st != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
			t.Fatalf("a connection past the cap with all serving a request: %d %q, want 503", st, body)
		}
	})
}

// stalledHealthz is the head of a /healthz request, which needs no token,
// whose body never comes: net/http keeps its connection serving it until
// the body timeout, reading the body to drop it.
const stalledHealthz = "GET /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n"

// TestAdminPortKeepsRoomForTheToken runs the attack of a client without
// the token that fills the admin port's connections with requests that
// need none (a /healthz whose body never comes): a request with the
// token still gets its answer, and so do the probes and a scrape, each
// in place of one of those connections; a request with the token keeps
// its connection while more connections than the cap open after it, and
// keeps it idle until its next request.
func TestAdminPortKeepsRoomForTheToken(t *testing.T) {
	e := startWith(t, adminToken, func(*admin.Config) {}) // the port's defaults
	stall := func() {
		if _, err := io.WriteString(e.dialRaw(t).nc, stalledHealthz); err != nil {
			t.Fatal(err)
		}
	}
	for range admin.DefaultMaxConns {
		stall()
	}
	overview := "GET /v1/admin/overview HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + adminToken + "\r\n\r\n"
	if st, body := e.dialRaw(t).send(overview); st != http.StatusOK {
		t.Fatalf("a request with the token, the port's %d connections held by requests without it: %d %q, want 200",
			admin.DefaultMaxConns, st, body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if st, body := e.dialRaw(t).send("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n"); st != http.StatusOK {
			t.Fatalf("%s with the port held by requests without the token: %d %q, want 200", path, st, body)
		}
	}

	notice := `{"everyone":true,"title":"restart"}`
	op := e.dialRaw(t)
	if st, _ := op.send("POST /v1/admin/notify HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + adminToken +
		"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + strconv.Itoa(len(notice)) + "\r\n\r\n"); st != http.StatusContinue {
		t.Fatalf("notice: status %d, want 100", st)
	}
	for range admin.DefaultMaxConns + 8 {
		stall()
	}
	if st, body := op.send(notice); st != http.StatusOK {
		t.Fatalf("a notice with the token, its body sent after %d connections without it opened: %d %q, want 200",
			admin.DefaultMaxConns+8, st, body)
	}
	// Between two requests with the token, the operator's connection is
	// idle; more connections without it than the cap open meanwhile, and
	// the next request (a kick, which the client would not send again)
	// still goes on it.
	for range admin.DefaultMaxConns + 8 {
		stall()
	}
	if st, body := op.send(overview); st != http.StatusOK {
		t.Fatalf("a second request with the token on its kept-alive connection, after %d connections without it opened: %d %q, want 200",
			admin.DefaultMaxConns+8, st, body)
	}
}
