package hub_test

import (
	"fmt"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// TestDirectMessagesFromStrangersToOneUserAreBounded: guests, each within
// its own chat rate, message one online user together; past the
// recipient's share for users who are not its friends (its burst of 20,
// refilled here once an hour, so that nothing refills during the test
// and a friend's message charged to it would be refused) they get
// RATE_LIMITED with a retry hint and nothing reaches it, while a friend's
// message still does, and another user still gets the guests' messages
// to it.
func TestDirectMessagesFromStrangersToOneUserAreBounded(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.StrangerDirectRate = 1.0 / 3600 }})
	ann, _ := e.connect("ann")
	fred, _ := e.connect("fred")
	cat, _ := e.connect("cat")
	ok(t, fred.Request(addFriend("ann")))
	befriend(t, fred, ann)
	ok(t, cat.Request(addFriend("ann"))) // a request standing makes no friend

	// Each within its chat burst (10), one left for cat.
	const guests, each = 12, 8
	cs := make([]*client, guests)
	for i := range cs {
		cs[i], _ = e.connect(fmt.Sprint("guest", i))
	}
	cs = append(cs, cat)
	ids := make([][]uint32, len(cs))
	for i, c := range cs {
		for j := range each {
			ids[i] = append(ids[i], c.Send(direct("ann", fmt.Sprint("spam ", i, " ", j))))
		}
	}
	delivered, limited := 0, 0
	for i, c := range cs {
		sent := map[uint32]bool{}
		for _, id := range ids[i] {
			sent[id] = true
		}
		for range ids[i] {
			switch m := c.Next(func(m *tickroomv1.ServerMessage) bool { return sent[m.RequestId] }); {
			case m.GetOk() != nil:
				delivered++
			case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().GetRetryAfterMs() > 0:
				limited++
			default:
				t.Fatalf("%s's message to ann: %v, want Ok or RATE_LIMITED with a retry hint", c.user, m)
			}
		}
	}
	// The recipient's burst for non-friends, no more.
	const burst = 20
	if delivered != burst || limited != len(cs)*each-burst {
		t.Fatalf("%d users who are not ann's friends sent her %d messages at once: %d delivered, %d RATE_LIMITED; want %d delivered, the rest RATE_LIMITED",
			len(cs), len(cs)*each, delivered, limited, burst)
	}

	ok(t, fred.Request(direct("ann", "from a friend")))
	ok(t, cs[0].Request(direct("cat", "hello cat")))
	if dm := cat.Next(isKind[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.Text != "hello cat" {
		t.Fatalf("cat got %v, want guest0's message", dm)
	}
	// ann gets the messages answered Ok and the friend's, no more.
	strangers, friend := 0, false
	for strangers < delivered || !friend {
		dm := ann.Next(isKind[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage()
		if dm.FromUserId == "fred" {
			friend = true
		} else {
			strangers++
		}
	}
	for _, m := range drain(ann) {
		if dm := m.GetDirectMessage(); dm != nil {
			t.Fatalf("ann got %q from %s besides the %d messages answered Ok", dm.Text, dm.FromUserId, delivered)
		}
	}
}
