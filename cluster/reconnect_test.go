package cluster

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// recordedOn returns whether user's live records, as n reads them, are
// exactly one connection on node (none when node is "").
func recordedOn(n *hubNode, user, node string) func() bool {
	return func() bool {
		loc, err := n.users.Locate(context.Background(), user)
		if err != nil {
			return false
		}
		if node == "" {
			return len(loc[user]) == 0
		}
		return len(loc[user]) == 1 && loc[user][0].Node == node
	}
}

// pings has c ping and reports whether it was answered.
func pings(c *testclient.Client) bool {
	r := c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 1}}})
	return r.GetPong() != nil
}

// TestReconnectionThroughAnotherNodeWithinTheClockErrorIsKept: ada's
// connection to a closes (she follows a Redirect to b) and she connects
// to b before a has removed its record of the old connection. Two nodes'
// reckonings of Redis's clock differ by up to half their round trips to
// Redis, and b's reads her new connection's accept time 5 ms before the
// old one's: b's exclusive claim took a's record for a newer connection,
// recorded nothing and closed the new one with CLOSE_CODE_DUPLICATE_LOGIN.
// A conflict within the clock error is not decided on the clocks at once:
// b claims again while a's record stands, a short while, and a's release
// of the closed connection lets the new one in.
func TestReconnectionThroughAnotherNodeWithinTheClockErrorIsKept(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	// Both clocks stand still, b's 5 ms before a's: b's reckoning behind
	// a's by more than the time between ada's two connections.
	at := time.Now()
	held, retry := make(chan struct{}), make(chan struct{})
	var heldOnce, retryOnce sync.Once
	letRelease := func() { heldOnce.Do(func() { close(held) }) }
	letRetry := func() { retryOnce.Do(func() { close(retry) }) }
	var bClaims atomic.Int32
	a := startHubNodeWith(t, rs, "a", hubNodeOptions{
		clock:     func() time.Time { return at },
		releasing: func(string, uint64) { <-held },
	})
	b := startHubNodeWith(t, rs, "b", hubNodeOptions{
		clock: func() time.Time { return at.Add(-5 * time.Millisecond) },
		// b's claims after its first wait until a's record is gone, so
		// that the test holds whatever the box's load.
		claiming: func(string, uint64) {
			if bClaims.Add(1) > 1 {
				<-retry
			}
		},
	})
	t.Cleanup(letRelease)
	t.Cleanup(letRetry)
	tok := userToken(t, "ada")

	first := a.dial(t, tok, "ada on a")
	waitFor(t, 10*time.Second, "ada's record on a", recordedOn(a, "ada", "a"))
	_ = first.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "redirect"), time.Now().Add(time.Second))
	first.WaitClosed()
	waitFor(t, 10*time.Second, "a's hub to see ada leave", func() bool { return len(a.reg.Sessions("ada")) == 0 })
	// a's release of her closed connection waits: its record stands.

	second := b.dial(t, tok, "ada on b")
	// b's first claim has run once its second is held (or, superseded on
	// the clocks, her connection closed): waiting on b's worker instead
	// would queue behind that held try.
	waitFor(t, 10*time.Second, "b's second claim of ada, or her connection there closed", func() bool {
		return bClaims.Load() >= 2 || second.CloseCode() != 0
	})
	if !recordedOn(b, "ada", "a")() {
		t.Fatal("a's record of ada's closed connection is gone before its release")
	}
	letRelease()
	waitFor(t, 10*time.Second, "a's release of ada's closed connection", recordedOn(b, "ada", ""))
	letRetry()
	waitFor(t, 10*time.Second, "ada's record on b, or her connection there closed", func() bool {
		return recordedOn(b, "ada", "b")() || second.CloseCode() != 0
	})
	if code := second.CloseCode(); code != 0 {
		t.Fatalf("ada's connection to b, opened after her connection to a closed, was closed with %d (a's record of the old one stood, accepted 5 ms after the new one as the nodes reckon Redis's clock); want it kept", code)
	}
	if !pings(second) {
		t.Fatalf("ada's connection to b unanswered (closed with %d)", second.CloseCode())
	}
}

// TestConcurrentLoginsOnTwoNodesKeepOne: ada logs in on a and on b, both
// connections open, their accept times 5 ms apart as the nodes reckon
// Redis's clock, within its error: whichever claim reaches Redis first,
// the connection accepted last is kept and the other is closed with
// CLOSE_CODE_DUPLICATE_LOGIN, so exactly one stays.
func TestConcurrentLoginsOnTwoNodesKeepOne(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		bLate time.Duration // b's clock against a's
		first string        // the node that claims first
	}{
		{name: "a first, b accepted earlier", bLate: -5 * time.Millisecond, first: "a"},
		{name: "a first, b accepted later", bLate: 5 * time.Millisecond, first: "a"},
		{name: "b first, b accepted earlier", bLate: -5 * time.Millisecond, first: "b"},
		{name: "b first, b accepted later", bLate: 5 * time.Millisecond, first: "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			at := time.Now()
			a := startHubNodeWith(t, rs, "a", hubNodeOptions{clock: func() time.Time { return at }})
			b := startHubNodeWith(t, rs, "b", hubNodeOptions{clock: func() time.Time { return at.Add(tc.bLate) }})
			tok := userToken(t, "ada")
			nodes := []*hubNode{a, b}
			if tc.first == "b" {
				slices.Reverse(nodes)
			}
			c0 := nodes[0].dial(t, tok, "ada on "+nodes[0].id)
			waitFor(t, 10*time.Second, "ada's first record", recordedOn(a, "ada", nodes[0].id))
			c1 := nodes[1].dial(t, tok, "ada on "+nodes[1].id)
			conns := map[string]*testclient.Client{nodes[0].id: c0, nodes[1].id: c1}
			kept, closed := "a", "b"
			if tc.bLate > 0 {
				kept, closed = "b", "a"
			}
			if code := conns[closed].WaitClosed(); code != int(protocol.CloseDuplicateLogin) {
				t.Fatalf("ada's connection to %s, accepted first, closed with %d; want %d", closed, code, protocol.CloseDuplicateLogin)
			}
			if !pings(conns[kept]) {
				t.Fatalf("ada's connection to %s, accepted last, unanswered (closed with %d); want it kept", kept, conns[kept].CloseCode())
			}
			waitFor(t, 10*time.Second, "ada recorded on "+kept+" alone", recordedOn(a, "ada", kept))
			if code := conns[kept].CloseCode(); code != 0 {
				t.Fatalf("ada's connection to %s closed with %d", kept, code)
			}
		})
	}
}
