package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// oneAnHour gives a node's users a bucket of one direct message from
// users who are not their friends, refilled once an hour: nothing refills
// during a test.
func oneAnHour(c *social.Config) {
	c.StrangerDirectRate, c.StrangerDirectBurst = 1.0/3600, 1
}

// sendDirect sends the direct message text from m, user from of node n, to
// the user to as request id, and returns its reply.
func sendDirect(t *testing.T, n *socialNode, m *social.Member, from string, id uint32, to, text string) *tickroomv1.ServerMessage {
	t.Helper()
	err := n.so.SendDirect(m, id, &tickroomv1.SendDirect{ToUserId: to, Text: text})
	return replyOf(t, n, from, id, fmt.Sprintf("%s's message %q", from, text), err)
}

// replyOf is the reply to request id of user from of node n, what, which
// the call that sent it returned err: the error itself when it was refused
// at once (the hub replies so), else the reply n's host got.
func replyOf(t *testing.T, n *socialNode, from string, id uint32, what string, err error) *tickroomv1.ServerMessage {
	t.Helper()
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("%s: %v", what, err)
		}
		return &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Error{Error: &tickroomv1.Error{Code: tickroomv1.ErrorCode(pe.Code), Message: pe.Text()}}}
	}
	var reply *tickroomv1.ServerMessage
	waitFor(t, 10*time.Second, "the reply to "+what, func() bool {
		n.host.mu.Lock()
		defer n.host.mu.Unlock()
		for _, r := range n.host.replies[from] {
			if r.RequestId == id {
				reply = r
				return true
			}
		}
		return false
	})
	return reply
}

// TestDirectMessageOfAFriendTheRecipientsNodeDoesNotKnowOf: a user's
// friend is never held back by its bucket of messages from users who are
// not its friends, though the recipient's lists on its node do not name
// the friend: with -multi-sockets a friendship accepted on one of the
// user's nodes is recorded there alone, and a list that failed to load
// names no one. The sender's own lists name the recipient (a friendship
// is both's), and that is enough, whether the sender is on another node
// (ada on a, bob on b) or on the recipient's (dan on b). Here bob's lists
// on b name neither; his bucket, of one message an hour, is spent by a
// guest's; ada's and dan's messages must still reach him.
func TestDirectMessageOfAFriendTheRecipientsNodeDoesNotKnowOf(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startSocialNodeOf(t, rs, "a", map[string][]string{"ada": {"bob"}}, nodeOptions{social: oneAnHour})
	b := startSocialNodeOf(t, rs, "b", map[string][]string{"dan": {"bob"}}, nodeOptions{social: oneAnHour})
	ada, gus := a.login(t, "ada", 1), a.login(t, "gus", 2)
	b.login(t, "bob", 3)
	dan := b.login(t, "dan", 4)
	waitFor(t, 10*time.Second, "the users' lists merged", func() bool {
		return a.loads.Load() == 2 && b.loads.Load() == 2 && a.so.IsFriend("ada", "bob") && b.so.IsFriend("dan", "bob")
	})

	if r := sendDirect(t, a, gus, "gus", 1, "bob", "one"); r.GetOk() == nil {
		t.Fatalf("gus's first message to bob: %v, want Ok", r)
	}
	if r := sendDirect(t, a, gus, "gus", 2, "bob", "two"); r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("gus's second message to bob, past bob's bucket: %v, want RATE_LIMITED", r)
	}
	if r := sendDirect(t, a, ada, "ada", 1, "bob", "from ada"); r.GetOk() == nil {
		t.Fatalf("ada's message to bob, her friend, from another node whose lists name him: %v, want Ok", r)
	}
	if r := sendDirect(t, b, dan, "dan", 1, "bob", "from dan"); r.GetOk() == nil {
		t.Fatalf("dan's message to bob, his friend, on bob's node: %v, want Ok", r)
	}
	if got, want := b.host.direct("bob"), []string{"one", "from ada", "from dan"}; !slices.Equal(got, want) {
		t.Fatalf("bob got %q, want %q", got, want)
	}
}

// TestDirectMessageFromAnOlderNodeIsNotCharged: in a rolling deploy, a
// node of the version before the bucket of messages from users who are
// not their friends took every ERROR_CODE_RATE_LIMITED answer to a direct
// message for the recipient's signaling budget's refusal: its sender was
// told the wrong reason, with a retry hint of a millisecond, and counted
// as blocked. Its messages, which carry no RemoteOp.DirectRate, pass
// uncharged: here two from node a, sent as it sends them, to bob on b,
// whose bucket holds one; then messages of this version from a are
// charged again.
func TestDirectMessageFromAnOlderNodeIsNotCharged(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startSocialNodeOf(t, rs, "a", nil, nodeOptions{social: oneAnHour})
	b := startSocialNodeOf(t, rs, "b", nil, nodeOptions{social: oneAnHour})
	gus := a.login(t, "gus", 1)
	b.login(t, "bob", 2)
	for i, text := range []string{"old one", "old two"} {
		dm := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_DirectMessage{DirectMessage: &tickroomv1.DirectMessage{
			Id: uint64(i + 1), FromUserId: "gus", ToUserId: "bob", Text: text,
		}}}
		enc, _ := dm.MarshalVT()
		answer := make(chan social.RemoteAnswer, 1)
		a.peers.Call([]*social.RemoteOp{{Kind: social.OpDeliver, From: "gus", To: "bob", Message: enc}}, func(as []social.RemoteAnswer) { answer <- as[0] })
		if an := <-answer; an.Err != nil || an.Code != 0 || an.Delivered != 1 {
			t.Fatalf("gus's message %q from a node of the older version: %+v, want delivered on bob's connection, uncharged", text, an)
		}
	}
	if r := sendDirect(t, a, gus, "gus", 1, "bob", "one"); r.GetOk() == nil {
		t.Fatalf("gus's message to bob from a node of this version, his bucket untouched: %v, want Ok", r)
	}
	if r := sendDirect(t, a, gus, "gus", 2, "bob", "two"); r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || r.GetError().GetRetryAfterMs() < 1000 {
		t.Fatalf("gus's next message to bob, past his bucket: %v, want RATE_LIMITED with bob's bucket's retry hint", r)
	}
	if got, want := b.host.direct("bob"), []string{"old one", "old two", "one"}; !slices.Equal(got, want) {
		t.Fatalf("bob got %q, want %q", got, want)
	}
}

// TestDirectMessageRefusedOnOneNodeOfTheRecipientIsDeliveredOnAnother:
// with -multi-sockets (SharedUsers) bob is connected on a and on b, each
// keeping his bucket of messages from users who are not his friends; a
// message that a's spent bucket refuses must still reach bob's
// connection on b and be answered Ok, and be RATE_LIMITED only once b's
// is spent too. Here gil, on b, spends a's bucket (one an hour) before
// bob connects on b, and gus, on a, messages him then. Then ada, his
// friend as his lists on a say (not those on b, nor hers), messages him:
// a's bucket does not hold her back, but b's does, as b goes by its own
// lists of bob, not a's, which may be the stale ones (a friendship bob
// ended on b that a has not heard of yet). Then dan, on a, whose own
// lists name bob, messages him: b spares him too, and gets his message
// after ada's.
func TestDirectMessageRefusedOnOneNodeOfTheRecipientIsDeliveredOnAnother(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	shared := func(c *social.Config) { oneAnHour(c); c.SharedUsers = true }
	a := startSocialNodeOf(t, rs, "a", map[string][]string{"bob": {"ada"}, "dan": {"bob"}}, nodeOptions{social: shared})
	b := startSocialNodeOf(t, rs, "b", nil, nodeOptions{social: shared})
	// ada first: her lists, read before bob's, do not name him.
	ada := a.login(t, "ada", 5)
	waitFor(t, 10*time.Second, "ada's lists read", func() bool { return a.loads.Load() == 1 })
	a.login(t, "bob", 1)
	gus, gil, dan := a.login(t, "gus", 2), b.login(t, "gil", 3), a.login(t, "dan", 6)
	waitFor(t, 10*time.Second, "the users' lists on a merged", func() bool {
		return a.loads.Load() == 4 && a.so.IsFriend("bob", "ada") && a.so.IsFriend("dan", "bob")
	})
	if r := sendDirect(t, b, gil, "gil", 1, "bob", "one"); r.GetOk() == nil {
		t.Fatalf("gil's message to bob, on a alone: %v, want Ok", r)
	}
	b.login(t, "bob", 4)
	if r := sendDirect(t, a, gus, "gus", 2, "bob", "two"); r.GetOk() == nil {
		t.Fatalf("gus's second message to bob, past his bucket on a but not on b: %v, want Ok", r)
	}
	if r := sendDirect(t, a, gus, "gus", 3, "bob", "three"); r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || r.GetError().GetRetryAfterMs() < 1000 {
		t.Fatalf("gus's third message to bob, past his buckets on a and on b: %v, want RATE_LIMITED with a's retry hint", r)
	}
	if r := sendDirect(t, a, ada, "ada", 1, "bob", "from ada"); r.GetOk() == nil {
		t.Fatalf("ada's message to bob, her friend as his lists on a say: %v, want Ok", r)
	}
	if r := sendDirect(t, a, dan, "dan", 1, "bob", "from dan"); r.GetOk() == nil {
		t.Fatalf("dan's message to bob, his friend as his own lists say: %v, want Ok", r)
	}
	if got, want := a.host.direct("bob"), []string{"one", "from ada", "from dan"}; !slices.Equal(got, want) {
		t.Fatalf("bob got %q on a, want %q", got, want)
	}
	// The copies of a's messages reach b in order: once dan's is there,
	// ada's was delivered or refused.
	waitFor(t, 10*time.Second, "dan's message to bob on b", func() bool { return slices.Contains(b.host.direct("bob"), "from dan") })
	if got, want := b.host.direct("bob"), []string{"two", "from dan"}; !slices.Equal(got, want) {
		t.Fatalf("bob got %q on b, want %q", got, want)
	}
	// a counts a message refused only when its sender was: gus's second
	// was delivered, on b.
	if refused, sent := a.so.Stats().ChatRefused.Load(), a.so.Stats().DirectMessages.Load(); refused != 1 || sent != 3 {
		t.Fatalf("a counted %d direct messages refused and %d delivered, want 1 (gus's third) and 3 (gus's second, on b, ada's and dan's)", refused, sent)
	}
}

// sendSignal sends a call signal of data from m, user from of node n, to
// the user to as request id, and returns its reply.
func sendSignal(t *testing.T, n *socialNode, m *social.Member, from string, id uint32, to, data string) *tickroomv1.ServerMessage {
	t.Helper()
	q := &tickroomv1.SendSignal{ToUserId: to, CallId: "call-1", Kind: tickroomv1.SignalKind_SIGNAL_KIND_CANDIDATE, Data: data}
	return replyOf(t, n, from, id, fmt.Sprintf("%s's signal %d", from, id), n.so.SendSignal(m, id, q))
}

// TestSignalRefusedOnOneNodeOfTheRecipientIsCountedDelivered: with
// -multi-sockets (SharedUsers) a signal over its recipient's signaling
// budget on one of its nodes is still delivered on another and answered
// Ok; the node counts it as relayed, not refused. Here dan, on b, spends
// bob's budget on a (whose clock stands still: nothing refills) before
// bob connects on b; then ada, on a, signals him.
func TestSignalRefusedOnOneNodeOfTheRecipientIsCountedDelivered(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	now := time.Now()
	shared := func(c *social.Config) { c.SharedUsers = true }
	a := startSocialNodeOf(t, rs, "a", map[string][]string{"ada": {"bob"}}, nodeOptions{social: shared, clock: func() time.Time { return now }})
	b := startSocialNodeOf(t, rs, "b", map[string][]string{"dan": {"bob"}}, nodeOptions{social: shared})
	ada := a.login(t, "ada", 1)
	a.login(t, "bob", 2)
	dan := b.login(t, "dan", 3)
	// The Graph's count of loads moves as a load returns, before its lists
	// are merged: dan's first signal could find his lists still empty.
	waitFor(t, 10*time.Second, "the users' lists merged", func() bool {
		return a.loads.Load() == 2 && a.so.IsFriend("ada", "bob") && b.so.IsFriend("dan", "bob")
	})
	big := strings.Repeat("x", 16000)
	for id := uint32(1); ; id++ {
		r := sendSignal(t, b, dan, "dan", id, "bob", big)
		if r.GetOk() != nil {
			if int(id) > social.SignalInBurst/len(big)+1 {
				t.Fatalf("dan's %d signals of 16 KB to bob on a all passed", id)
			}
			continue
		}
		if r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			t.Fatalf("dan's signal %d to bob on a: %v, want Ok or RATE_LIMITED", id, r)
		}
		break
	}
	b.login(t, "bob", 4)
	if r := sendSignal(t, a, ada, "ada", 1, "bob", big); r.GetOk() == nil {
		t.Fatalf("ada's signal to bob, past his budget on a but not on b: %v, want Ok", r)
	}
	if refused, relayed := a.so.Stats().SignalRefused.Load(), a.so.Stats().Signals.Load(); refused != 0 || relayed != 1 {
		t.Fatalf("a counted %d signals refused and %d relayed, want 0 and 1 (ada's, delivered on b)", refused, relayed)
	}
}
