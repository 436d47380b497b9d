package clustertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestDirectMessagesFromStrangersOnAnotherNodeAreBounded: guests on n1,
// each within its own chat rate, message bob on n2 together; bob's node
// charges them to his share for users who are not his friends (20 at
// once, 4 a second), and past it they get RATE_LIMITED with a retry hint
// and nothing reaches him, while a friend's messages from n1 still do,
// and carol on n2 still gets the guests' messages to her.
//
// A node takes no flag for that rate, so its share refills during the
// test. The friend's messages are sent first: 9 of them, each answered
// before the guests send, then the guests must still have had the whole
// burst of 20 delivered. Were the friend's messages charged, that would
// take 9 tokens refilled (2.25 s) between the friend's last answer and
// the guests' messages reaching n2; the friend's message after the flood
// would pass such an exemption once 250 ms refilled one. That the
// friend's messages are never charged, with nothing refilling, is
// cluster's TestDirectMessageOfAFriendTheRecipientsNodeDoesNotKnowOf.
func TestDirectMessagesFromStrangersOnAnotherNodeAreBounded(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	ada, adaID := connectUser(t, n1, "ada")
	bob, bobID := connectUser(t, n2, "bob")
	carol, carolID := connectUser(t, n2, "carol")
	seesOnline(t, ada, "ada", bobID, "bob")
	seesOnline(t, ada, "ada", carolID, "carol")
	ok(t, "ada asks bob", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bob.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "bob accepts", request(bob, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))

	// Each within its chat burst (10), one left for carol. The guests
	// connect first, so that only ada's messages come between her early
	// ones and the flood.
	const guests, each = 8, 8
	cs := make([]*testclient.Client, guests)
	for i := range cs {
		cs[i], _ = connectUser(t, n1, fmt.Sprint("guest", i))
	}

	// Nine of ada's chat burst (10), one left for after the flood.
	const early = 9
	for i := range early {
		ok(t, "ada's message to bob, her friend, before the flood", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: fmt.Sprint("early ", i)}))
	}
	began := time.Now()
	ids := make([][]uint32, guests)
	for i, g := range cs {
		for j := range each {
			m := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: bobID, Text: fmt.Sprint("spam ", i, " ", j)}}}
			ids[i] = append(ids[i], g.Send(m))
		}
	}
	delivered, limited := 0, 0
	for i, g := range cs {
		// A message to another node may be answered out of order.
		sent := map[uint32]bool{}
		for _, id := range ids[i] {
			sent[id] = true
		}
		for range ids[i] {
			switch m := g.Next(func(m *tickroomv1.ServerMessage) bool { return sent[m.RequestId] }); {
			case m.GetOk() != nil:
				delivered++
			case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().GetRetryAfterMs() > 0:
				limited++
			default:
				t.Fatalf("guest%d's message to bob: %v, want Ok or RATE_LIMITED with a retry hint", i, m)
			}
		}
	}
	// Bob's whole burst for non-friends, which his friend's messages
	// took nothing from, and at most his rate meanwhile.
	most := 20 + int(4*time.Since(began).Seconds()) + 1
	if delivered < 20 || delivered > most || limited == 0 {
		t.Fatalf("%d guests on another node sent bob %d messages at once: %d delivered, %d RATE_LIMITED; want 20 to %d delivered, the rest RATE_LIMITED",
			guests, guests*each, delivered, limited, most)
	}

	ok(t, "ada's message to bob, her friend", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: "from a friend"}))
	ok(t, "guest0's message to carol", request(cs[0], &tickroomv1.SendDirect{ToUserId: carolID, Text: "hello carol"}))
	if dm := carol.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.Text != "hello carol" {
		t.Fatalf("carol got %v, want guest0's message", dm)
	}
	// Bob gets the messages answered Ok and the friend's, no more.
	strangers, friend := 0, 0
	for strangers < delivered || friend < early+1 {
		dm := bob.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage()
		if dm.FromUserId == adaID {
			friend++
		} else {
			strangers++
		}
	}
	for _, m := range bob.Drain(50 * time.Millisecond) {
		if dm := m.GetDirectMessage(); dm != nil {
			t.Fatalf("bob got %q from %s besides the %d messages answered Ok", dm.Text, dm.FromUserId, delivered)
		}
	}
}
