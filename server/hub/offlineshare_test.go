package hub_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// TestOfflineDirectMessagesPerAddressAreBounded: the guests of one client
// address, each within its own chat burst, send direct messages to
// offline users within the address's rate together, so that, behind a
// slow store, they cannot take every message the node may have awaiting
// it; a user at another address still has its message kept.
func TestOfflineDirectMessagesPerAddressAreBounded(t *testing.T) {
	b := stalledInbox{release: make(chan struct{})}
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub:    func(c *hub.Config) { c.Social.Inbox = b; c.Social.ChatBurst = 16 },
	})
	release := sync.OnceFunc(func() { close(b.release) })
	t.Cleanup(release)
	// 64 guests of 16 messages each are the node's 1,024 awaiting the store.
	const guests, each = 64, 16
	limited := 0
	began := time.Now()
	for i := range guests {
		me := fmt.Sprint("guest", i)
		c := e.connectFrom(me, "203.0.113.7")
		for j := range each {
			c.Send(direct(fmt.Sprint("offline", j), "spam"))
		}
		// Answered at once, after the messages before it.
		probe := c.Send(direct(me, "to myself"))
		c.Next(func(m *tickroomv1.ServerMessage) bool {
			switch code := m.GetError().GetCode(); {
			case m.RequestId == probe:
			case code == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().GetRetryAfterMs() > 0:
				limited++
			case m.GetError() != nil:
				t.Fatalf("%s's message: %v", me, m)
			}
			return m.RequestId == probe
		})
	}
	kept := guests*each - limited
	// The address's burst of 4 × 16, and its rate of 4 × 2 a second.
	most := 4*16 + int(8*time.Since(began).Seconds()) + 1
	other := e.connectFrom("elsewhere", "198.51.100.9")
	id := other.Send(direct("offline0", "see you tonight"))
	probe := other.Send(direct("elsewhere", "to myself"))
	if m := other.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == id || m.RequestId == probe }); m.RequestId == id {
		t.Fatalf("another address's message to an offline user while one address's guests have %d awaiting the store: %v", kept, m)
	}
	release()
	if m := other.Reply(id); m.GetOk() == nil {
		t.Fatalf("another address's message once the store answers: %v, want Ok", m)
	}
	if kept > most {
		t.Fatalf("one address had %d messages to offline users kept, more than its burst and rate allow, %d", kept, most)
	}
}

// TestOfflineDirectMessagesRefusedAsBusyCostNoRate: messages to offline
// users refused with UNAVAILABLE while the store is stalled, as a client
// retrying them sends, are never kept and take nothing from the address's
// rate: once the store answers, the address's remaining burst is kept.
func TestOfflineDirectMessagesRefusedAsBusyCostNoRate(t *testing.T) {
	const held, retries, burst = 16, 4, 20 // held: a connection's most awaiting the store
	b := stalledInbox{release: make(chan struct{})}
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub: func(c *hub.Config) {
			c.Social.Inbox = b
			c.Social.ChatBurst = 64
			c.Social.OfflineAddressRate, c.Social.OfflineAddressBurst = 0.001, burst
		},
	})
	release := sync.OnceFunc(func() { close(b.release) })
	t.Cleanup(release)
	c := e.connectFrom("guest", "203.0.113.7")
	ids := map[uint32]bool{}
	for i := range held {
		ids[c.Send(direct(fmt.Sprint("offline", i), "hi"))] = true
	}
	for i := range retries {
		m := c.Request(direct("offline0", fmt.Sprint("retry ", i)))
		if code := m.GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
			t.Fatalf("retry %d while the store is stalled: %v, want UNAVAILABLE", i, m)
		}
	}
	release()
	// Their answers come in any order.
	for range held {
		if m := c.Next(func(m *tickroomv1.ServerMessage) bool { return ids[m.RequestId] }); m.GetOk() == nil {
			t.Fatalf("a held message once the store answers: %v, want Ok", m)
		}
	}
	for i := range burst - held {
		if m := c.Request(direct("offline0", fmt.Sprint("again ", i))); m.GetOk() == nil {
			t.Fatalf("message %d of the address's remaining burst of %d once the store answers: %v, want Ok", i, burst-held, m)
		}
	}
}
