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
