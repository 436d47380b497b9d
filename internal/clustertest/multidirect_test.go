package clustertest

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestDirectMessageReachesEveryNodeOfAMultiSocketUser: with
// -multi-sockets bob holds a connection on n1 and one on n2, and
// protocol/README.md says a direct message reaches every connection of
// its recipient. ada, on n1, messages him: his connection on n1 and his
// connection on n2 must each get it, once.
func TestDirectMessageReachesEveryNodeOfAMultiSocketUser(t *testing.T) {
	t.Parallel()
	n1, bobID, bobNear, bobFar := bobOnTwoNodes(t)
	ada, _ := connectUser(t, n1, "ada")

	ok(t, "ada's message to bob", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: "hi bob"}))
	gotOnce(t, bobNear, "bob's connection on ada's node", "direct message", "hi bob", directText)
	gotOnce(t, bobFar, "bob's connection on the other node", "direct message", "hi bob", directText)
}

// TestCallSignalReachesEveryNodeOfAMultiSocketUser: as a direct message,
// a call signal is relayed to every connection of its recipient. bob, ada's
// friend, holds a connection on n1, hers, and one on n2: her offer must
// reach each, once, whichever bob answers from.
func TestCallSignalReachesEveryNodeOfAMultiSocketUser(t *testing.T) {
	t.Parallel()
	n1, bobID, bobNear, bobFar := bobOnTwoNodes(t)
	ada, adaID := connectUser(t, n1, "ada")
	ok(t, "ada asks bob", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bobNear.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "bob accepts", request(bobNear, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))

	ok(t, "ada's offer to bob", request(ada, &tickroomv1.SendSignal{ToUserId: bobID, CallId: "call-1",
		Kind: tickroomv1.SignalKind_SIGNAL_KIND_OFFER, Data: "v=0"}))
	gotOnce(t, bobNear, "bob's connection on ada's node", "signal", "call-1", signalCall)
	gotOnce(t, bobFar, "bob's connection on the other node", "signal", "call-1", signalCall)
}

// TestNoticeReachesEveryNodeOfAMultiSocketUser: an operator's notice to a
// user reaches every connection of it exactly once (protocol/README.md),
// and the admin API counts them. bob holds a connection on n1 and one on
// n2; a notice to him through n1 must reach each once, delivered 2.
func TestNoticeReachesEveryNodeOfAMultiSocketUser(t *testing.T) {
	t.Parallel()
	n1, bobID, bobNear, bobFar := bobOnTwoNodes(t)

	var res struct{ Delivered int }
	if st, _ := adminJSON(t, n1, http.MethodPost, "/v1/admin/notify", `{"user_id":"`+bobID+`","kind":"k","title":"hello bob"}`, &res); st != http.StatusOK || res.Delivered != 2 {
		t.Fatalf("notice through n1 to bob, on n1 and n2: %d, delivered %d, want 200 and 2", st, res.Delivered)
	}
	gotOnce(t, bobNear, "bob's connection on the node that took the notice", "notice", "hello bob", noticeTitle)
	gotOnce(t, bobFar, "bob's connection on the other node", "notice", "hello bob", noticeTitle)
}

// TestDirectMessagesReachEveryNodeOfAMultiSocketUserInOrder: a user's
// direct messages reach each of its connections in the order they were
// sent, those on the recipient's other nodes included. bob holds a
// connection on n1 and one on n2; five friends of his on n1 send him 50
// messages, ten each, one friend after another, each sending its ten at
// once: both his connections must get all 50, in that order.
func TestDirectMessagesReachEveryNodeOfAMultiSocketUserInOrder(t *testing.T) {
	t.Parallel()
	n1, bobID, bobNear, bobFar := bobOnTwoNodes(t)
	// Five friends: each sends its chat burst (ChatBurst, 10), and no
	// bucket of messages from non-friends holds them back.
	var friends []*testclient.Client
	for i := range 5 {
		f, fID := connectUser(t, n1, fmt.Sprintf("friend%d", i))
		ok(t, "a friend asks bob", request(f, &tickroomv1.AddFriend{UserId: bobID}))
		bobNear.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
		ok(t, "bob accepts", request(bobNear, &tickroomv1.AnswerFriend{UserId: fID, Accept: true}))
		friends = append(friends, f)
	}
	bobNear.Drain(0)
	bobFar.Drain(0)

	var want []string
	for _, f := range friends {
		var ids []uint32
		for range 10 {
			text := fmt.Sprintf("m%02d", len(want))
			want = append(want, text)
			ids = append(ids, f.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{
				SendDirect: &tickroomv1.SendDirect{ToUserId: bobID, Text: text}}}))
		}
		for _, id := range ids {
			ok(t, "a friend's message to bob", f.Reply(id))
		}
	}
	for _, cl := range []struct {
		c   *testclient.Client
		who string
	}{{bobNear, "bob's connection on the senders' node"}, {bobFar, "bob's connection on the other node"}} {
		var got []string
		for len(got) < len(want) {
			got = append(got, cl.c.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage().Text)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s got the direct messages in the order %q, want %q", cl.who, got, want)
		}
	}
}

// TestDirectMessagesWhileRedisIsDownAreNotHeldForAMultiSocketUser: the
// copies of direct messages delivered on the sender's node, for the
// recipient's other nodes, are not held while Redis is out of reach, to
// arrive stale once it is back. bob holds a connection on n1 and one on
// n2; with Redis stopped, ada, his friend on n1, sends him five messages:
// his connection on n1 gets them, n1's queue of casts holds none of their
// copies (each counted lost), and once Redis is back, his connection on
// n2 gets ada's next message, not the five.
func TestDirectMessagesWhileRedisIsDownAreNotHeldForAMultiSocketUser(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-multi-sockets"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	ada, adaID := connectUser(t, n1, "ada")
	bobTok, bobID := n2.Login(t, "bob")
	bobFar, bobNear := dialAs(t, n2, bobTok, "bob"), dialAs(t, n1, bobTok, "bob")
	c.WaitSessionRecorded(t, 10*time.Second, n2, bobID)
	c.WaitSessionRecorded(t, 10*time.Second, n1, bobID)
	ok(t, "ada asks bob", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bobNear.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "bob accepts", request(bobNear, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
	// The request and the friendship are cast to bob's other node, and
	// ada's: a message's copy, cast after them in order, reaching n2
	// tells that n1 holds none of them when Redis stops.
	ok(t, "ada's message to bob, Redis up", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: "up"}))
	for _, b := range []*testclient.Client{bobNear, bobFar} {
		b.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetDirectMessage().GetText() == "up" })
	}

	c.Redis.Stop(t)
	waitUntil(t, 30*time.Second, "n1 not ready without Redis", func() bool {
		code, _ := readyz(t, n1)
		return code == http.StatusServiceUnavailable
	})
	lost := metrics(t, n1)["tickroom_cluster_casts_lost_total"]
	const n = 5
	for i := range n {
		ok(t, "ada's message to bob, Redis down", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: fmt.Sprintf("down%d", i)}))
	}
	for i := range n {
		if got := bobNear.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage().Text; got != fmt.Sprintf("down%d", i) {
			t.Fatalf("bob's connection on ada's node got %q, want down%d", got, i)
		}
	}
	m := metrics(t, n1)
	if waiting, dropped := m["tickroom_cluster_casts_waiting"], m["tickroom_cluster_casts_lost_total"]-lost; waiting != 0 || dropped != n {
		t.Errorf("with Redis down, n1 holds %v casts waiting and counted %v lost after %d direct messages to bob, want 0 waiting and %d lost", waiting, dropped, n, n)
	}

	c.Redis.Restart(t)
	c.WaitRegistered(t, 30*time.Second, n1.ID, n2.ID)
	for _, nd := range []*Node{n1, n2} {
		waitUntil(t, 30*time.Second, nd.ID+" ready again", func() bool { code, _ := readyz(t, nd); return code == http.StatusOK })
	}
	c.WaitSessionRecorded(t, 10*time.Second, n2, bobID)
	c.WaitSessionRecorded(t, 10*time.Second, n1, bobID)
	ok(t, "ada's message to bob, Redis back", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: "back"}))
	gotOnce(t, bobNear, "bob's connection on ada's node", "direct message", "back", directText)
	gotOnce(t, bobFar, "bob's connection on the other node", "direct message", "back", directText)
}

// bobOnTwoNodes starts a cluster of two nodes with -multi-sockets, where
// bob holds a connection on each, recorded by both: it returns the first
// node, bob's id, his connection there and his connection on the second.
func bobOnTwoNodes(t *testing.T) (n1 *Node, bobID string, bobNear, bobFar *testclient.Client) {
	t.Helper()
	c := Start(t, Config{Nodes: 2, Args: []string{"-multi-sockets"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	bobTok, bobID := n2.Login(t, "bob")
	bobFar, bobNear = dialAs(t, n2, bobTok, "bob"), dialAs(t, n1, bobTok, "bob")
	c.WaitSessionRecorded(t, 10*time.Second, n2, bobID)
	c.WaitSessionRecorded(t, 10*time.Second, n1, bobID)
	return n1, bobID, bobNear, bobFar
}

// gotOnce fails t unless c, named who, gets exactly one message of the
// kind what that of picks out (returning its text), of text want, before
// it has been quiet for a second, within 10 s.
func gotOnce(t *testing.T, c *testclient.Client, who, what, want string, of func(*tickroomv1.ServerMessage) (string, bool)) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		for _, m := range c.Drain(time.Second) {
			if text, ok := of(m); ok {
				got = append(got, text)
			}
		}
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("%s got the %ss %q, want %q once", who, what, got, want)
	}
}

func directText(m *tickroomv1.ServerMessage) (string, bool) {
	dm := m.GetDirectMessage()
	return dm.GetText(), dm != nil
}

func signalCall(m *tickroomv1.ServerMessage) (string, bool) {
	s := m.GetSignal()
	return s.GetCallId(), s != nil
}

func noticeTitle(m *tickroomv1.ServerMessage) (string, bool) {
	n := m.GetNotification()
	return n.GetTitle(), n != nil
}
