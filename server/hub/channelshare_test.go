package hub_test

import (
	"fmt"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// TestChannelSquattingIsBoundedPerAddress: guests on one address opening
// eight channels each (125 of them filled the server's 1,000) get only the
// address's share; the channels that exist stay open to everyone, and a
// channel that empties gives its place back.
func TestChannelSquattingIsBoundedPerAddress(t *testing.T) {
	e := start(t, options{hub: countLoopback})
	const guests, each, share = 20, 8, 32 // share: SocialConfig.MaxChannelsPerAddress's default
	opened, refused := 0, 0
	var first *client
	for g := range guests {
		c, _ := e.connect(fmt.Sprint("guest", g))
		if first == nil {
			first = c
		}
		for i := range each {
			m := c.Request(joinChannel(fmt.Sprintf("g%d-%d", g, i)))
			switch {
			case m.GetChatHistory() != nil:
				opened++
			case errCode(t, m) == tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL:
				refused++
			default:
				t.Fatalf("refused with %v", m.GetError())
			}
		}
	}
	if opened != share || refused != guests*each-share {
		t.Fatalf("%d channels opened and %d refused from one address, want %d and %d", opened, refused, share, guests*each-share)
	}
	late, _ := e.connect("late")
	if late.Request(joinChannel("g0-0")).GetChatHistory() == nil {
		t.Fatal("an existing channel refused a member")
	}
	if errCode(t, late.Request(joinChannel("new"))) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatal("a new channel was opened past the address's share")
	}
	ok(t, first.Request(leaveChannel("g0-1"))) // it empties and closes
	if late.Request(joinChannel("new")).GetChatHistory() == nil {
		t.Fatal("the place of a channel that closed was not given back")
	}
}

// TestChannelsOpenedCountPerUserAcrossConnections: a user's share of
// opened channels holds across its connections.
func TestChannelsOpenedCountPerUserAcrossConnections(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) {
		c.MultipleSockets = true
		c.Social.MaxChannelsPerUser = 2
	}})
	a1, _ := e.connect("ann")
	a2, _ := e.connect("ann")
	for _, name := range []string{"one", "two"} {
		if a1.Request(joinChannel(name)).GetChatHistory() == nil {
			t.Fatalf("open %s", name)
		}
	}
	if errCode(t, a2.Request(joinChannel("three"))) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatal("a second connection opened past the user's share")
	}
	if a2.Request(joinChannel("one")).GetChatHistory() == nil {
		t.Fatal("joining a channel that exists was refused")
	}
}
