package hub_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// TestOneAddressHoldsAShareOfTheStoreReads: behind a slow database, the
// guests of one address that keep asking for their match history, each
// within its own share of store reads, together hold only the address's
// share of the node's queue; a user at another address still has its
// leaderboard request queued, and answered once the database answers,
// rather than refused.
func TestOneAddressHoldsAShareOfTheStoreReads(t *testing.T) {
	g := gatedRecords{Records: openStore(t), gate: make(chan struct{})}
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub:    func(c *hub.Config) { c.Records = g },
	})
	open := sync.OnceFunc(func() { close(g.gate) })
	t.Cleanup(open)
	// 65 guests of 4 reads each are more than the node's queue of 256 and
	// its 4 readers.
	const guests, each = 65, 4
	refused := 0
	for i := range guests {
		c := e.connectFrom(fmt.Sprint("guest", i), "203.0.113.7")
		ids := make([]uint32, each+1)
		for j := range ids {
			ids[j] = c.Send(getHistory("", 0, 0))
		}
		// The last one is past the session's share: its refusal says the
		// ones before it were queued or refused.
		last := c.Next(func(m *tickroomv1.ServerMessage) bool {
			if m.RequestId != ids[each] && m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT {
				refused++
			}
			return m.RequestId == ids[each]
		})
		if code := errCode(t, last); code != tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT {
			t.Fatalf("guest%d's read past its share: %v", i, code)
		}
	}
	other := e.connectFrom("elsewhere", "198.51.100.9")
	id := other.Send(getLeaderboard("tally", 0))
	// Sent after the leaderboard request, refused at once: the request
	// was queued or refused by then.
	probe := other.Send(getLeaderboard("", 0))
	if m := other.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == id || m.RequestId == probe }); m.RequestId == id {
		t.Fatalf("another address's leaderboard request while one address's guests fill the queue (%d of their %d reads refused): %v", refused, guests*each, m)
	}
	open()
	if m := other.Reply(id); m.GetLeaderboard() == nil {
		t.Fatalf("another address's leaderboard once the database answers: %v", m)
	}
	if refused < guests*each-256/4 {
		t.Fatalf("one address had %d of %d reads queued, more than a quarter of the queue", guests*each-refused, guests*each)
	}
}

// TestAReadRefusedByTheAddressShareKeepsTheUsersStoreReads: a store read
// refused ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT because the reads of its
// client address fill the address's share gives back the store read it
// took (StoreReadRate), so that once the others' reads are answered the
// user's StoreReadBurst is whole.
func TestAReadRefusedByTheAddressShareKeepsTheUsersStoreReads(t *testing.T) {
	g := gatedRecords{Records: openStore(t), gate: make(chan struct{})}
	// A rate that gives no token back while the test runs.
	e := start(t, options{
		server: func(c *server.Config) { c.TrustedProxies, _ = clientip.Parse("127.0.0.1") },
		hub: func(c *hub.Config) {
			c.Records = g
			c.Social.StoreReadRate, c.Social.StoreReadBurst = 0.001, 10
		},
	})
	open := sync.OnceFunc(func() { close(g.gate) })
	t.Cleanup(open)
	// 16 guests of 4 reads each fill the address's share of 64.
	const guests, each, addr = 16, 4, "203.0.113.7"
	type waiting struct {
		c   *client
		ids map[uint32]bool
	}
	var queued []waiting
	for i := range guests {
		c := e.connectFrom(fmt.Sprint("guest", i), addr)
		w := waiting{c, map[uint32]bool{}}
		for range each {
			w.ids[c.Send(getHistory("", 0, 0))] = true
		}
		// Past the session's share, refused at once: the reads before it
		// were queued by then.
		if code := errCode(t, c.Request(getHistory("", 0, 0))); code != tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT {
			t.Fatalf("guest%d's read past its share: %v", i, code)
		}
		queued = append(queued, w)
	}
	ada := e.connectFrom("ada", addr)
	for i := range 10 {
		if code := errCode(t, ada.Request(getHistory("", 0, 0))); code != tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT {
			t.Fatalf("ada's read %d while her address's share is full: %v", i, code)
		}
	}
	open()
	for _, w := range queued {
		for len(w.ids) > 0 {
			m := w.c.Next(func(m *tickroomv1.ServerMessage) bool { return w.ids[m.RequestId] })
			if m.GetMatchHistory() == nil {
				t.Fatalf("a guest's read within the address's share: %v", m)
			}
			delete(w.ids, m.RequestId)
		}
	}
	served, limited := 0, 0
	for range 11 {
		switch m := ada.Request(getHistory("", 0, 0)); {
		case m.GetMatchHistory() != nil:
			served++
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
			limited++
		default:
			t.Fatalf("ada's read once the address's share is free: %v", m)
		}
	}
	if served != 10 || limited != 1 {
		t.Fatalf("after 10 reads refused by her address's share, ada's 11 reads: %d served, %d refused RATE_LIMITED; want 10 (the whole burst) and 1", served, limited)
	}
}
