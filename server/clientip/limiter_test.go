package clientip_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/clientip"
)

// TestBucketsForgetLeastRecentlyUsed: a key gets its burst, then waits; a
// table of two forgets the key used least recently when a third comes, so
// only that one gets a fresh burst.
func TestBucketsForgetLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1000, 0)
	b := clientip.NewBuckets[string](rate.Every(time.Minute), 1, 2)
	for _, k := range []string{"a", "b"} {
		if ok, _ := b.Allow(k, now); !ok {
			t.Fatalf("%s: first take refused", k)
		}
	}
	if ok, wait := b.Allow("a", now); ok || wait != time.Minute {
		t.Fatalf("a again: %v %v, want refused for a minute", ok, wait)
	}
	b.Allow("c", now) // forgets b, used least recently
	if ok, _ := b.Allow("b", now); !ok {
		t.Fatal("b, forgotten, has no fresh burst")
	}
	if ok, _ := b.Allow("a", now.Add(time.Minute)); !ok {
		t.Fatal("a refused after a minute")
	}
}

// TestLimiterSharesV6Site: the /64s of one /48 share V6SiteFactor
// addresses' worth; IPv4 addresses are limited one by one.
func TestLimiterSharesV6Site(t *testing.T) {
	now := time.Unix(1000, 0)
	l := clientip.NewLimiter(rate.Every(time.Hour), 1, 1000)
	for i := range clientip.V6SiteFactor {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(i), 15: 1})
		if ok, _ := l.Allow(a, now); !ok {
			t.Fatalf("/64 number %d refused", i)
		}
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:1:ff::1"), now); ok {
		t.Fatal("a /64 past the /48's share allowed")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("192.0.2.1"), now); !ok {
		t.Fatal("an IPv4 address refused")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("192.0.2.1"), now); ok {
		t.Fatal("an IPv4 address allowed past its burst")
	}
}

// TestLimiterKeepsSpentBucketsWhileASpentSiteFloods: a client whose IPv6
// /48 has spent its share sends requests from ever new /64s of it, many
// more than the table holds. Every one is refused, and none makes the
// table forget another bucket: the IPv4 address and the /64 of another
// /48 that spent their bursts before the flood are still refused after
// it.
func TestLimiterKeepsSpentBucketsWhileASpentSiteFloods(t *testing.T) {
	const maxAddrs = 64
	now := time.Unix(1000, 0)
	l := clientip.NewLimiter(rate.Every(time.Hour), 1, maxAddrs)
	v6 := func(site, net uint16) netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(site >> 8), byte(site), byte(net >> 8), byte(net), 15: 1})
	}
	spent := []netip.Addr{netip.MustParseAddr("192.0.2.1"), v6(2, 0)}
	for _, a := range spent {
		if ok, _ := l.Allow(a, now); !ok {
			t.Fatalf("%v: first request refused", a)
		}
		if ok, _ := l.Allow(a, now); ok {
			t.Fatalf("%v: allowed past its burst", a)
		}
	}
	for i := range clientip.V6SiteFactor {
		if ok, _ := l.Allow(v6(1, uint16(i)), now); !ok {
			t.Fatalf("/64 number %d of the flooding /48 refused within its share", i)
		}
	}
	for i := clientip.V6SiteFactor; i < clientip.V6SiteFactor+4*maxAddrs; i++ {
		if ok, _ := l.Allow(v6(1, uint16(i)), now); ok {
			t.Fatalf("/64 number %d of the flooding /48 allowed past its share", i)
		}
	}
	for _, a := range spent {
		if ok, _ := l.Allow(a, now); ok {
			t.Fatalf("%v: allowed again after another /48 sent %d requests from new /64s; its spent bucket was forgotten", a, 4*maxAddrs)
		}
	}
}

// TestRefundGivesBackOneToken: a token given back lets one more through,
// the refill under way kept; a full bucket holds no more than its burst;
// a Limiter gives back its /48's token with its /64's.
func TestRefundGivesBackOneToken(t *testing.T) {
	now := time.Unix(1000, 0)
	b := clientip.NewBuckets[string](rate.Every(time.Second), 2, 8)
	b.Allow("a", now)
	b.Allow("a", now)
	half := now.Add(time.Second / 2)
	b.Refund("a", half) // half a token refilled, and one given back
	if ok, _ := b.Allow("a", half); !ok {
		t.Fatal("the token given back is not there")
	}
	if ok, wait := b.Allow("a", half); ok || wait != time.Second/2 {
		t.Fatalf("next take: %v %v, want refused for the half second left of the refill", ok, wait)
	}
	b.Allow("b", now)
	b.Refund("b", now)
	b.Refund("b", now)
	for i := range 3 {
		if ok, _ := b.Allow("b", now); ok != (i < 2) {
			t.Fatalf("take %d after refunds at a full bucket: %v, want the burst of 2 only", i, ok)
		}
	}

	l := clientip.NewLimiter(rate.Every(time.Hour), 1, 64)
	for i := range clientip.V6SiteFactor {
		l.Allow(netip.MustParseAddr(fmt.Sprintf("2001:db8:2:%x::1", i)), now)
	}
	last := netip.MustParseAddr(fmt.Sprintf("2001:db8:2:%x::1", clientip.V6SiteFactor-1))
	l.Refund(last, now)
	if ok, _ := l.Allow(last, now); !ok {
		t.Fatal("the /64 and its /48, both given back their token, refuse it")
	}
}

// TestTimesOutOfOrderAddNoTokens: callers read the clock before the
// table's lock, so requests sent at once come in with times a little out
// of order. A bucket given a time before its last counted the time
// between again at the next later one: of 60 requests sent within 1.5 s,
// half of them read 1 s before their turn (a loaded host), more than
// the burst of 10 (one every 6 s) were let through.
func TestTimesOutOfOrderAddNoTokens(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		name  string
		allow func(now time.Time) bool
	}{
		{"Buckets", func() func(time.Time) bool {
			b := clientip.NewBuckets[string](rate.Every(6*time.Second), 10, 64)
			return func(now time.Time) bool { ok, _ := b.Allow("k", now); return ok }
		}()},
		{"Limiter", func() func(time.Time) bool {
			l := clientip.NewLimiter(rate.Every(6*time.Second), 10, 64)
			a := netip.MustParseAddr("203.0.113.7")
			return func(now time.Time) bool { ok, _ := l.Allow(a, now); return ok }
		}()},
	} {
		let := 0
		for i := range 60 {
			// Every other one read its time 1 s before it took the lock.
			now := t0.Add(time.Second + time.Duration(i/2)*50*time.Millisecond)
			if i%2 == 1 {
				now = now.Add(-time.Second)
			}
			if c.allow(now) {
				let++
			}
		}
		// 2.5 s passed since the first: no token came back.
		if let != 10 {
			t.Errorf("%s: %d of 60 requests within 2.5 s let through, want the burst of 10", c.name, let)
		}
	}
}
