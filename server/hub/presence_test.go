package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/social"
)

// users returns n user ids, prefix0 to prefix(n-1).
func users(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return ids
}

// presenceList fails unless m is a PresenceList of n users.
func presenceList(t *testing.T, m *tickroomv1.ServerMessage, n int) {
	t.Helper()
	if l := m.GetPresenceList(); l == nil || len(l.Users) != n {
		t.Fatalf("want a presence list of %d users, got %v", n, m)
	}
}

// rateLimited fails unless m is ERROR_CODE_RATE_LIMITED with a retry hint,
// and returns the hint.
func rateLimited(t *testing.T, m *tickroomv1.ServerMessage) time.Duration {
	t.Helper()
	e := m.GetError()
	if e == nil || e.Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || e.RetryAfterMs == 0 {
		t.Fatalf("want ERROR_CODE_RATE_LIMITED with a retry hint, got %v", m)
	}
	return time.Duration(e.RetryAfterMs) * time.Millisecond
}

// TestPresenceQueriesOverTheirBudgetAreRefused: with the default limits, a
// client asking for a whole friend list (500 users, in queries of
// MaxPresenceQuery) is answered in full; one that keeps asking for 100
// users at a time is refused with ERROR_CODE_RATE_LIMITED and a retry
// hint, after which its query is answered again, while another client's
// queries are answered throughout.
func TestPresenceQueriesOverTheirBudgetAreRefused(t *testing.T) {
	e := start(t, options{})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")

	friends := users("friend", 500)
	for i := 0; i < len(friends); i += 100 {
		presenceList(t, bob.Request(queryPresence(friends[i:i+100]...)), 100)
	}

	// ann asks for 100 users a query, far faster than 200 a second: the
	// burst of 1,000 runs out within a few dozen queries (the message
	// rate's burst is 240).
	flood := queryPresence(users("x", 100)...)
	var hint time.Duration
	for i := 0; hint == 0; i++ {
		if i == 100 {
			t.Fatal("100 queries of 100 users each were all answered")
		}
		if m := ann.Request(flood); m.GetError() != nil {
			hint = rateLimited(t, m)
		} else {
			presenceList(t, m, 100)
		}
	}
	if hint > time.Second {
		t.Fatalf("retry hint %v for 100 users at 200 a second", hint)
	}
	presenceList(t, bob.Request(queryPresence("ann", "bob")), 2)

	time.Sleep(hint)
	presenceList(t, ann.Request(flood), 100)
}

// heldPeers is a cluster as social sees it where every user the node does
// not have is on another node, and no node answers until the test says.
type heldPeers struct{ calls chan heldCall }

type heldCall struct {
	ops  []*social.RemoteOp
	done func([]social.RemoteAnswer)
}

func (p heldPeers) Call(ops []*social.RemoteOp, done func([]social.RemoteAnswer)) {
	p.calls <- heldCall{ops, done}
}
func (heldPeers) Cast(*social.RemoteOp)                   {}
func (heldPeers) JoinChannel(_ string, ready func(error)) { ready(nil) }
func (heldPeers) LeaveChannel(string)                     {}
func (heldPeers) PostChannel(string, *tickroomv1.Chat, uint64, func(error)) error {
	return nil
}

// answer answers every op of c: its user is connected nowhere.
func (c heldCall) answer() {
	as := make([]social.RemoteAnswer, len(c.ops))
	for i := range as {
		as[i].Code = protocol.ErrorUserOffline
	}
	c.done(as)
}

// next waits for the next call to reach the peers.
func (p heldPeers) next(t *testing.T) heldCall {
	t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no call reached the other nodes")
		return heldCall{}
	}
}

// TestPresenceQueriesAwaitingOtherNodesAreBounded: while other nodes do
// not answer, a connection's queries may await answers about a whole
// friend list's worth of their users (500), sent at once; one more query
// about a user of another node is refused with ERROR_CODE_RATE_LIMITED
// and a retry hint, without reaching the other nodes, while its query
// about a user here and another connection's query about other nodes are
// still served. Once the answers come, it may ask again. (The cluster is
// a stand-in for package cluster's, which would take Redis and a node
// that stalls.)
func TestPresenceQueriesAwaitingOtherNodesAreBounded(t *testing.T) {
	peers := heldPeers{calls: make(chan heldCall, 16)}
	e := start(t, options{hub: func(c *hub.Config) { c.Social.Peers = peers }})
	ann, _ := e.connect("ann")
	bob, _ := e.connect("bob")

	remote := users("far", 500)
	var ids []uint32
	var held []heldCall
	for i := 0; i < len(remote); i += 100 {
		ids = append(ids, ann.Send(queryPresence(remote[i:i+100]...)))
		held = append(held, peers.next(t))
	}
	rateLimited(t, ann.Request(queryPresence("far500")))
	presenceList(t, ann.Request(queryPresence("ann", "bob")), 2)
	select {
	case c := <-peers.calls:
		t.Fatalf("a refused query reached the other nodes: %d ops", len(c.ops))
	default:
	}

	// bob's queries are his own.
	bobID := bob.Send(queryPresence("far0"))
	peers.next(t).answer()
	presenceList(t, bob.Reply(bobID), 1)

	for i, c := range held {
		c.answer()
		presenceList(t, ann.Reply(ids[i]), 100)
	}
	id := ann.Send(queryPresence("far500"))
	peers.next(t).answer()
	presenceList(t, ann.Reply(id), 1)
}
