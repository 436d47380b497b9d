package hub_test

import (
	"fmt"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// TestIPv6LoopbackHasNoAddressShare: behind a proxy on the same host that
// reaches the node over ::1, its users are exempt from the per-address
// limits of direct messages to offline users, contact requests and
// channel opens, as they are over 127.0.0.1, while a user of another
// IPv6 address still has them.
func TestIPv6LoopbackHasNoAddressShare(t *testing.T) {
	const burst = 2
	b := stalledInbox{release: make(chan struct{})}
	close(b.release)
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub: func(c *hub.Config) {
			c.Social.Inbox = b
			c.Social.OfflineAddressRate, c.Social.OfflineAddressBurst = 0.001, burst
			c.Social.ContactAddressRate, c.Social.ContactAddressBurst = 0.001, burst
			c.Social.ChannelOpenAddressRate, c.Social.ChannelOpenAddressBurst = 0.001, burst
		},
	})
	type ask struct {
		what string
		msg  func(i int) *tickroomv1.ClientMessage
	}
	asks := []ask{
		{"a direct message to an offline user", func(i int) *tickroomv1.ClientMessage { return direct(fmt.Sprint("offline", i), "hi") }},
		{"a block", func(i int) *tickroomv1.ClientMessage { return block(fmt.Sprint("pest", i), false) }},
		{"a channel open", func(i int) *tickroomv1.ClientMessage { return joinChannel(fmt.Sprint("chan", i)) }},
	}
	for k, ip := range []string{"::1", "2001:db8::1"} {
		for i := range burst + 2 {
			c := e.connectFrom(fmt.Sprint(ip, "user", i), ip)
			for _, a := range asks {
				r := c.Request(a.msg(k*100 + i)).GetError()
				switch {
				case ip == "::1" && r != nil:
					t.Fatalf("%s from user %d of ::1: %v, want it done", a.what, i, r)
				case ip != "::1" && i < burst && r != nil:
					t.Fatalf("%s from user %d of %s: %v, want it done", a.what, i, ip, r)
				case ip != "::1" && i >= burst && r.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
					t.Fatalf("%s from user %d of %s past its address's burst: %v, want RATE_LIMITED", a.what, i, ip, r)
				}
			}
		}
	}
}
