package hub_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// TestChannelSquattingIsBoundedPerAddress: guests on one address opening
// eight channels each (125 of them filled the server's 1,000) get only the
// address's share; the channels that exist stay open to everyone, and a
// channel that empties gives its place back.
func TestChannelSquattingIsBoundedPerAddress(t *testing.T) {
	e := start(t, options{hub: countLoopback})
	const guests, each, share = 20, 8, 32 // share: SocialConfig.MaxChannelsPerAddress's default
	opened, refused := 0, 0
	var first *client
	for g := range guests {
		c, _ := e.connect(fmt.Sprint("guest", g))
		if first == nil {
			first = c
		}
		for i := range each {
			m := c.Request(joinChannel(fmt.Sprintf("g%d-%d", g, i)))
			switch {
			case m.GetChatHistory() != nil:
				opened++
			case errCode(t, m) == tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL:
				refused++
			default:
				t.Fatalf("refused with %v", m.GetError())
			}
		}
	}
	if opened != share || refused != guests*each-share {
		t.Fatalf("%d channels opened and %d refused from one address, want %d and %d", opened, refused, share, guests*each-share)
	}
	late, _ := e.connect("late")
	if late.Request(joinChannel("g0-0")).GetChatHistory() == nil {
		t.Fatal("an existing channel refused a member")
	}
	if errCode(t, late.Request(joinChannel("new"))) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatal("a new channel was opened past the address's share")
	}
	ok(t, first.Request(leaveChannel("g0-1"))) // it empties and closes
	if late.Request(joinChannel("new")).GetChatHistory() == nil {
		t.Fatal("the place of a channel that closed was not given back")
	}
}

// TestChannelsOpenedCountPerUserAcrossConnections: a user's share of
// opened channels holds across its connections.
func TestChannelsOpenedCountPerUserAcrossConnections(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) {
		c.MultipleSockets = true
		c.Social.MaxChannelsPerUser = 2
	}})
	a1, _ := e.connect("ann")
	a2, _ := e.connect("ann")
	for _, name := range []string{"one", "two"} {
		if a1.Request(joinChannel(name)).GetChatHistory() == nil {
			t.Fatalf("open %s", name)
		}
	}
	if errCode(t, a2.Request(joinChannel("three"))) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatal("a second connection opened past the user's share")
	}
	if a2.Request(joinChannel("one")).GetChatHistory() == nil {
		t.Fatal("joining a channel that exists was refused")
	}
}

// TestChannelSquattingIsBoundedPerIPv6Site: guests behind a trusted proxy
// from many /64s of one IPv6 /48 share 16 addresses' worth of opened
// channels (one /64 alone, one address's), while another /48 still opens
// its own.
func TestChannelSquattingIsBoundedPerIPv6Site(t *testing.T) {
	e := start(t, options{
		hub: func(c *hub.Config) {
			countLoopback(c)
			c.Social.MaxChannelsPerAddress = 2
			c.Social.AddressExempt = func(netip.Addr) bool { return false }
		},
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
	})
	from := e.connectFrom
	open := func(c *client, name string) tickroomv1.ErrorCode {
		m := c.Request(joinChannel(name))
		if m.GetChatHistory() != nil {
			return 0
		}
		return errCode(t, m)
	}
	// One /64: two channels, then LIST_FULL.
	a := from("a", "2001:db8:1:1::1")
	b := from("b", "2001:db8:1:1::2")
	if open(a, "a1") != 0 || open(b, "b1") != 0 || open(b, "b2") != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatal("one /64 did not get one address's share of two channels")
	}
	// Fifteen more /64s of the /48 open two each: 32, its share.
	for i := 2; i <= 16; i++ {
		c := from(fmt.Sprint("g", i), fmt.Sprintf("2001:db8:1:%x::1", i))
		for j := range 2 {
			if code := open(c, fmt.Sprintf("g%d-%d", i, j)); code != 0 {
				t.Fatalf("/64 %d of the /48, channel %d: %v, want it opened", i, j, code)
			}
		}
	}
	if code := open(from("late", "2001:db8:1:99::1"), "late"); code != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("a /64 past its /48's share: %v, want LIST_FULL", code)
	}
	if code := open(from("other", "2001:db8:2::1"), "other"); code != 0 {
		t.Fatalf("another /48: %v, want its channel opened", code)
	}
}

// TestChannelOpensAreRateLimited: a client that opens ever new channels
// (join a new name, post a line, leave), each of which closes at once, is
// refused with RATE_LIMITED and a retry hint past its user's open budget,
// and the other users of its address past the address's; joining a
// channel that exists still works, and a user of another address still
// opens one.
func TestChannelOpensAreRateLimited(t *testing.T) {
	const userBurst, addrBurst = 3, 5
	e := start(t, options{
		hub: func(c *hub.Config) {
			c.Social.ChannelOpenRate = 0.001 // no refill within the test
			c.Social.ChannelOpenBurst = userBurst
			c.Social.ChannelOpenAddressRate = 0.001
			c.Social.ChannelOpenAddressBurst = addrBurst
			c.Social.AddressExempt = func(netip.Addr) bool { return false }
		},
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
	})
	from := e.connectFrom
	limited := func(c *client, name string) {
		t.Helper()
		m := c.Request(joinChannel(name))
		if errCode(t, m) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			t.Fatalf("open %s past the budget: %v, want RATE_LIMITED", name, m)
		}
		if ms := m.GetError().GetRetryAfterMs(); ms == 0 || ms > 1000*1000 {
			t.Fatalf("open %s past the budget: retry_after_ms %d, want a hint within one refill (1,000 s)", name, ms)
		}
	}
	// A channel that stays open, held by a user of another address.
	host := from("host", "198.51.100.1")
	if host.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("open lobby")
	}
	churn := func(c *client, name string) {
		t.Helper()
		if m := c.Request(joinChannel(name)); m.GetChatHistory() == nil {
			t.Fatalf("open %s within the budget: %v", name, m)
		}
		ok(t, c.Request(channelChat(name, "hi")))
		ok(t, c.Request(leaveChannel(name))) // the channel closes
	}
	a := from("a", "192.0.2.1")
	for i := range userBurst {
		churn(a, fmt.Sprint("a", i))
	}
	limited(a, "a-more")
	if a.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("a user over its open budget could not join an existing channel")
	}
	// Another user of the same address has the rest of the address's.
	b := from("b", "192.0.2.1")
	for i := range addrBurst - userBurst {
		churn(b, fmt.Sprint("b", i))
	}
	limited(b, "b-more")
	if b.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("an address over its open budget could not join an existing channel")
	}
	// Another address opens its own.
	if m := from("c", "203.0.113.1").Request(joinChannel("c0")); m.GetChatHistory() == nil {
		t.Fatalf("a user of another address could not open a channel: %v", m)
	}
}
