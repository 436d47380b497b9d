package hub_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// TestReconnectsAreRateLimited: a user that closes its connection and
// opens another in a loop gets HTTP 429 with Retry-After past its session
// rate, so its friend, who did nothing, is not flooded with its presence
// coming and going; another user of the same address still connects.
func TestReconnectsAreRateLimited(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	ok(t, a.Request(addFriend("bob")))
	b, _ := e.connect("bob")
	befriend(t, a, b)
	a.nextPresence() // bob online
	b.WS.Close()

	tok := e.token("bob", time.Hour)
	begin := time.Now()
	opened, refused := 1, 0 // bob's first session
	// Until the rate has refused it for a second, however slowly a
	// loaded box dials (at most 10 s).
	var firstRefusal time.Time
	for time.Since(begin) < 10*time.Second && (refused == 0 || time.Since(firstRefusal) < time.Second) {
		c, res, err := dial(t, e.url, tok)
		if err == nil {
			opened++
			c.WS.Close()
			continue
		}
		if res == nil || res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("reconnect %d: %v", opened+refused, err)
		}
		if s, _ := strconv.Atoi(res.Header.Get("Retry-After")); s < 1 {
			t.Fatalf("a 429 with Retry-After %q", res.Header.Get("Retry-After"))
		}
		if refused == 0 {
			firstRefusal = time.Now()
		}
		refused++
	}
	elapsed := time.Since(begin)
	// The default: a burst of 20, then 2 a second.
	if most := 20 + int(2*elapsed.Seconds()) + 1; opened > most || refused == 0 {
		t.Fatalf("bob opened %d sessions and was refused %d times in %v; want at most %d opened", opened, refused, elapsed, most)
	}
	if n := e.hub.Stats().SessionsUserRate.Load(); n != uint64(refused) {
		t.Fatalf("SessionsUserRate %d, want %d", n, refused)
	}

	pushes := 0
	for _, m := range drain(a) {
		if p := m.GetPresence(); p != nil && p.UserId == "bob" {
			pushes++
		}
	}
	if pushes > 2*opened {
		t.Fatalf("ann got %d of bob's presence changes for his %d sessions", pushes, opened)
	}
	// ann is still served, and cat, at the same address, connects.
	if m := a.Request(queryPresence("bob")); m.GetPresenceList() == nil {
		t.Fatalf("ann's query got %v", m)
	}
	c, _ := e.connect("cat")
	if m := c.Request(queryPresence("ann")); m.GetPresenceList() == nil {
		t.Fatalf("cat's query got %v", m)
	}
	t.Logf("in %v bob opened %d sessions and got %d refusals; ann got %d presence pushes", elapsed.Round(time.Millisecond), opened, refused, pushes)
}

// TestSessionsPerAddressAreRateLimited: the users of one client address
// open sessions within the address's rate together, however many tokens
// they hold; another address is not held back.
func TestSessionsPerAddressAreRateLimited(t *testing.T) {
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub:    func(c *hub.Config) { c.SessionAddressRate, c.SessionAddressBurst = 0.01, 5 },
	})
	from := http.Header{"X-Forwarded-For": {"203.0.113.7"}}
	for i := range 5 {
		e.connectFrom("u"+strconv.Itoa(i), "203.0.113.7")
	}
	_, res, err := dialWith(t, e.url, e.token("u5", time.Hour), from)
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a sixth user from the address: %v, %v", res, err)
	}
	if s, _ := strconv.Atoi(res.Header.Get("Retry-After")); s < 60 {
		t.Fatalf("Retry-After %q at 0.01 a second", res.Header.Get("Retry-After"))
	}
	if n := e.hub.Stats().SessionsAddressRate.Load(); n != 1 {
		t.Fatalf("SessionsAddressRate %d, want 1", n)
	}
	// Another address, and loopback (exempt), still connect.
	c := e.connectFrom("v", "198.51.100.9")
	if m := c.Request(queryPresence("u0")); m.GetPresenceList() == nil {
		t.Fatalf("the other address's user got %v", m)
	}
	e.connect("w")
}

// TestAddressRefusalsLeaveTheUserItsSessions: a user refused because its
// address is over its rate (a crowded NAT) keeps its own sessions, so
// that when it moves to another address (a phone off the Wi-Fi) it
// connects at once rather than being refused for its own rate, which its
// refused attempts had spent.
func TestAddressRefusalsLeaveTheUserItsSessions(t *testing.T) {
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub: func(c *hub.Config) {
			c.SessionRate, c.SessionBurst = 0.01, 3
			c.SessionAddressRate, c.SessionAddressBurst = 0.01, 1
		},
	})
	e.connectFrom("ann", "203.0.113.7") // the address's one session
	tok := e.token("bob", time.Hour)
	for i := range 3 {
		_, res, err := dialWith(t, e.url, tok, http.Header{"X-Forwarded-For": {"203.0.113.7"}})
		if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("bob's attempt %d from the crowded address: %v, %v", i+1, res, err)
		}
	}
	if n := e.hub.Stats().SessionsAddressRate.Load(); n != 3 {
		t.Fatalf("SessionsAddressRate %d, want 3", n)
	}
	c, res, err := dialWith(t, e.url, tok, http.Header{"X-Forwarded-For": {"198.51.100.9"}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("bob from another address after 3 refusals for the first's rate: %d, %v (SessionsUserRate %d)", status, err, e.hub.Stats().SessionsUserRate.Load())
	}
	c.Next(isKind[*tickroomv1.ServerMessage_Welcome])
}
