package hub_test

import (
	"strings"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

func answerFriend(user string, accept bool) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AnswerFriend{AnswerFriend: &tickroomv1.AnswerFriend{UserId: user, Accept: accept}}}
}

func removeFriend(user string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: user, Remove: true}}}
}

// befriend has to accept the friend request that from made: to reads the
// FriendRequest and accepts it, from reads the FriendAnswer.
func befriend(t *testing.T, from, to *client) {
	t.Helper()
	if r := to.Next(isKind[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest(); r.FromUserId != from.user {
		t.Fatalf("%s got a request from %s, want %s", to.user, r.FromUserId, from.user)
	}
	ok(t, to.Request(answerFriend(from.user, true)))
	if a := from.Next(isKind[*tickroomv1.ServerMessage_FriendAnswer]).GetFriendAnswer(); a.UserId != to.user || !a.Accepted {
		t.Fatalf("%s got answer %v", from.user, a)
	}
}

// noPresence fails if c got any Presence of user by now.
func noPresence(t *testing.T, c *client, user string) {
	t.Helper()
	for _, m := range drain(c) {
		if p := m.GetPresence(); p != nil && p.UserId == user {
			t.Fatalf("%s got %s's presence: %v", c.user, user, p)
		}
	}
}

// TestFriendRequestNeedsConsent: asking for friendship gives no presence;
// a declined request gives none either; an accepted one gives it both
// ways, and a request crossing one already made is an acceptance.
func TestFriendRequestNeedsConsent(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	c, _ := e.connect("cat")
	joined(t, b.Request(createRoom("tally")))

	// A stranger asks: no presence until bob answers, and none after a no.
	ok(t, c.Request(addFriend("bob")))
	if r := b.Next(isKind[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest(); r.FromUserId != "cat" || r.FromName != "name-cat" {
		t.Fatalf("request %v", r)
	}
	noPresence(t, c, "bob")
	list := c.Request(queryPresence("bob")).GetPresenceList()
	if p := list.Users[0]; p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE || p.RoomId != "" || p.Game != "" {
		t.Fatalf("a stranger's query shows %v", p)
	}
	ok(t, b.Request(answerFriend("cat", false)))
	if a := c.Next(isKind[*tickroomv1.ServerMessage_FriendAnswer]).GetFriendAnswer(); a.UserId != "bob" || a.Accepted {
		t.Fatalf("answer %v", a)
	}
	if code := errCode(t, b.Request(answerFriend("cat", true))); code != tickroomv1.ErrorCode_ERROR_CODE_USER_NOT_FOUND {
		t.Fatalf("answering a declined request: %v", code)
	}
	b.Request(leaveRoom(b.Request(queryPresence("bob")).GetPresenceList().Users[0].RoomId))
	noPresence(t, c, "bob")

	// Accepted: presence both ways.
	ok(t, a.Request(addFriend("bob")))
	befriend(t, a, b)
	if p := a.nextPresence(); p.UserId != "bob" {
		t.Fatalf("ann got %v", p)
	}
	if p := b.nextPresence(); p.UserId != "ann" || p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("bob got %v", p)
	}
	joined(t, a.Request(createRoom("tally")))
	if p := b.nextPresence(); p.UserId != "ann" || p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM {
		t.Fatalf("bob sees ann %v", p)
	}

	// Crossing requests: cat asks ann, ann asks cat: friends.
	ok(t, c.Request(addFriend("ann")))
	a.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, a.Request(addFriend("cat")))
	if p := a.nextPresence(); p.UserId != "cat" {
		t.Fatalf("ann got %v", p)
	}
	if an := c.Next(isKind[*tickroomv1.ServerMessage_FriendAnswer]).GetFriendAnswer(); an.UserId != "ann" || !an.Accepted {
		t.Fatalf("cat got %v", an)
	}

	// Removing ends it both ways.
	ok(t, a.Request(removeFriend("bob")))
	b.WS.Close()
	noPresence(t, a, "bob")
}

// TestBlockingStopsPresenceBothWays: a block ends a friendship, and
// neither side sees the other's presence, not even by query.
func TestBlockingStopsPresenceBothWays(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	ok(t, a.Request(addFriend("bob")))
	befriend(t, a, b)
	a.nextPresence()
	b.nextPresence()

	ok(t, b.Request(block("ann", false)))
	joined(t, b.Request(createRoom("tally")))
	joined(t, a.Request(createRoom("tally")))
	noPresence(t, a, "bob")
	noPresence(t, b, "ann")
	for _, tc := range []struct {
		c     *client
		other string
	}{{a, "bob"}, {b, "ann"}} {
		if p := tc.c.Request(queryPresence(tc.other)).GetPresenceList().Users[0]; p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
			t.Fatalf("%s's query shows %s as %v", tc.c.user, tc.other, p)
		}
	}
	if code := errCode(t, a.Request(addFriend("bob"))); code != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("asking a user who blocked you: %v", code)
	}
	// The blocker asking the user it blocks is told that its own block
	// stands in the way, not that the other blocked it.
	m := b.Request(addFriend("ann"))
	if code := errCode(t, m); code != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED || !strings.Contains(m.GetError().GetMessage(), "you block this user") {
		t.Fatalf("asking a user you block: %v %q", code, m.GetError().GetMessage())
	}
}

// TestAcceptedFriendsPresenceReachesEverySocket: with -multi-sockets, a
// friend request accepted on one of bob's sockets gives every socket of
// his the new friend's Presence, as friends' presence reaches every
// connection: his other tab lists ann as a friend at once, not only at
// her next change.
func TestAcceptedFriendsPresenceReachesEverySocket(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.MultipleSockets = true }})
	a, _ := e.connect("ann")
	b1, _ := e.connect("bob")
	b2, _ := e.connect("bob")
	ok(t, a.Request(addFriend("bob")))
	b2.Next(isKind[*tickroomv1.ServerMessage_FriendRequest])
	befriend(t, a, b1)
	isAnn := func(m *tickroomv1.ServerMessage) bool { return m.GetPresence().GetUserId() == "ann" }
	if p := b1.Next(isAnn).GetPresence(); p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("bob's accepting socket got ann's presence %v, want ONLINE", p)
	}
	// bob's other socket: it fails here, after 10 s, when none comes.
	if p := b2.Next(isAnn).GetPresence(); p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("bob's other socket got ann's presence %v, want ONLINE", p)
	}
}
