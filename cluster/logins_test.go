package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/server/clientip"
)

// TestLoginsAreSharedAndGivenBack: two nodes take an address's logins
// from one bucket (10, then one every 5 s): the burst taken through both,
// either node refuses the next for at most 5 s; a login given back is
// taken again, and a bucket given back all it lent has no key; the /64s
// of one IPv6 /48 share 16 bursts, another /48 has its own; without
// Redis both calls fail with ErrUnavailable, for the node to count alone.
func TestLoginsAreSharedAndGivenBack(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := NewLogins(startNode(t, rs, "a")), NewLogins(startNode(t, rs, "b"))
	ctx := context.Background()
	const limit, burst = rate.Limit(0.2), 10
	addr := netip.MustParseAddr("203.0.113.7")
	allow := func(l *Logins, addr netip.Addr) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := l.Allow(ctx, addr, limit, burst)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	for i := range burst {
		if ok, _ := allow([]*Logins{a, b}[i%2], addr); !ok {
			t.Fatalf("login %d within the burst: refused", i+1)
		}
	}
	for _, l := range []*Logins{a, b} {
		if ok, wait := allow(l, addr); ok || wait <= 0 || wait > 5*time.Second {
			t.Fatalf("a login past the burst taken through both nodes: %v, wait %v; want refused for (0, 5 s]", ok, wait)
		}
	}
	rdb := rs.Client(t)
	name := DefaultPrefix + "login:a:203.0.113.7/32"
	// The burst's 10 logins at one every 5 s refill in 50 s, less the
	// test's time since the first was taken.
	if ttl, err := rdb.PTTL(ctx, name).Result(); err != nil || ttl <= 30*time.Second || ttl > 50*time.Second {
		t.Fatalf("TTL of %s: %v, %v; want (30 s, 50 s]", name, ttl, err)
	}
	if err := a.Refund(ctx, addr, limit, burst); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allow(b, addr); !ok {
		t.Fatal("a login given back through one node: refused through the other, want taken again")
	}
	other := netip.MustParseAddr("198.51.100.1")
	allow(a, other)
	if err := b.Refund(ctx, other, limit, burst); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, DefaultPrefix+"login:a:198.51.100.1/32").Result(); n != 0 {
		t.Fatal("a bucket given back its one login still has a key")
	}

	for i := range clientip.V6SiteFactor {
		for j := range burst {
			if ok, _ := allow(a, netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::1", i))); !ok {
				t.Fatalf("login %d of /64 %d of a /48: refused", j+1, i)
			}
		}
	}
	if ok, _ := allow(b, netip.MustParseAddr("2001:db8:1:ffff::1")); ok {
		t.Fatal("a fresh /64 of a /48 whose 16 bursts were taken: let through, want refused")
	}
	if ok, _ := allow(b, netip.MustParseAddr("2001:db8:2::1")); !ok {
		t.Fatal("a /64 of another /48: refused")
	}

	rs.Stop(t)
	if _, _, err := a.Allow(ctx, addr, limit, burst); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Allow without Redis: %v, want ErrUnavailable", err)
	}
	if err := b.Refund(ctx, addr, limit, burst); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Refund without Redis: %v, want ErrUnavailable", err)
	}
}
