package clustertest

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestPresenceReachesEveryNodeOfAMultiSocketFriend: with -multi-sockets
// bob holds a connection on n1 and one on n2, and protocol/README.md says
// friends' presence reaches every connection of a user. ann, his friend,
// connects to n1, creates a room there and leaves: each of bob's
// connections, the one on her node and the one on the other, must be told
// each change once.
func TestPresenceReachesEveryNodeOfAMultiSocketFriend(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-multi-sockets"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	annTok, annID := n1.Login(t, "ann")
	bobTok, bobID := n2.Login(t, "bob")
	ann, bobFar := dialAs(t, n1, annTok, "ann"), dialAs(t, n2, bobTok, "bob")
	reachUntil(t, ann, bobID, bobFar)
	ok(t, "ann asks bob", request(ann, &tickroomv1.AddFriend{UserId: bobID}))
	bobFar.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	// bob accepts while ann is connected nowhere: he is answered once the
	// store has the friendship, which his next connection reads.
	ann.WS.Close()
	c.WaitSessionGone(t, 10*time.Second, n1, annID)
	ok(t, "bob accepts", request(bobFar, &tickroomv1.AnswerFriend{UserId: annID, Accept: true}))
	if pr := presenceOf(bobFar, annID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("bob accepted ann, connected nowhere, and was told she is %v", pr)
	}
	bobNear := dialAs(t, n1, bobTok, "bob")
	c.WaitSessionRecorded(t, 10*time.Second, n1, bobID)
	if pr := presenceOf(bobNear, annID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("bob's connection on n1 lists ann, connected nowhere, as %v", pr)
	}

	statusOfAnn := func(m *tickroomv1.ServerMessage) (string, bool) {
		pr := m.GetPresence()
		return pr.GetStatus().String(), pr.GetUserId() == annID
	}
	each := func(what string, want tickroomv1.PresenceStatus) {
		t.Helper()
		gotOnce(t, bobNear, "after ann "+what+", bob's connection on her node", "presence", want.String(), statusOfAnn)
		gotOnce(t, bobFar, "after ann "+what+", bob's connection on the other node", "presence", want.String(), statusOfAnn)
	}
	ann = dialAs(t, n1, annTok, "ann again")
	each("came online", tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE)
	joined(t, "ann", ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku"}}}))
	each("created a room", tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM)
	ann.WS.Close()
	each("went offline", tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE)
}

// TestListsChangedOnOneNodeReachEveryNodeOfAMultiSocketUser: with
// -multi-sockets bob holds a connection on n1 and one on n2, and a friend
// request, its answer and a block made on n1 are his on n2 too. ann, on
// n1, asks him: his connection on n2 gets the request. He accepts on n1:
// his connection on n2 gets ann's presence, as a friend's. He blocks her
// on n1: her direct messages from n2, where she opens a connection too,
// are refused.
func TestListsChangedOnOneNodeReachEveryNodeOfAMultiSocketUser(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-multi-sockets"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	bobTok, bobID := n2.Login(t, "bob")
	bobFar, bobNear := dialAs(t, n2, bobTok, "bob"), dialAs(t, n1, bobTok, "bob")
	c.WaitSessionRecorded(t, 10*time.Second, n2, bobID)
	c.WaitSessionRecorded(t, 10*time.Second, n1, bobID)
	annTok, annID := n1.Login(t, "ann")
	ann := dialAs(t, n1, annTok, "ann")

	ok(t, "ann asks bob", request(ann, &tickroomv1.AddFriend{UserId: bobID}))
	bobNear.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	gotOnce(t, bobFar, "bob's connection on the other node", "friend request", annID, func(m *tickroomv1.ServerMessage) (string, bool) {
		fr := m.GetFriendRequest()
		return fr.GetFromUserId(), fr != nil
	})

	ok(t, "bob accepts on n1", request(bobNear, &tickroomv1.AnswerFriend{UserId: annID, Accept: true}))
	gotOnce(t, bobFar, "after bob accepted ann on n1, his connection on the other node", "presence", "PRESENCE_STATUS_ONLINE", func(m *tickroomv1.ServerMessage) (string, bool) {
		pr := m.GetPresence()
		return pr.GetStatus().String(), pr.GetUserId() == annID
	})

	ok(t, "bob blocks ann on n1", request(bobNear, &tickroomv1.BlockUser{UserId: annID}))
	annFar := dialAs(t, n2, annTok, "ann")
	sendUntil(t, annFar, bobID, protocol.ErrorBlocked)
}

// TestFriendSeesWhereAMultiSocketUserIsOnAllItsNodes: with -multi-sockets
// ann holds a connection on n2, in a room there, and opens one on n1, in
// the lobby; protocol/README.md says a friend sees a user IN_ROOM while it
// is in a room, ONLINE from its first connection to its last. bob, her
// friend on n1, must see her in her room on n2 however her connection on
// n1 comes and goes: not ONLINE when it opens, and, once she made a room
// on n1 and closed that connection, in her room on n2 again, not in the
// room she left nor offline; ONLINE once she closed the one on n2, still
// connected on n1; offline once she closed her last.
func TestFriendSeesWhereAMultiSocketUserIsOnAllItsNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-multi-sockets"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	bobTok, bobID := n1.Login(t, "bob")
	annTok, annID := n2.Login(t, "ann")
	bob, annFar := dialAs(t, n1, bobTok, "bob"), dialAs(t, n2, annTok, "ann")
	reachUntil(t, bob, annID, annFar)
	ok(t, "bob asks ann", request(bob, &tickroomv1.AddFriend{UserId: annID}))
	annFar.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "ann accepts", request(annFar, &tickroomv1.AnswerFriend{UserId: bobID, Accept: true}))
	presenceOf(bob, annID)

	// seen is ann's presence as bob was told it last, once the cluster is
	// quiet.
	var seen *tickroomv1.Presence
	settle := func() *tickroomv1.Presence {
		t.Helper()
		for _, m := range bob.Drain(2 * time.Second) {
			if pr := m.GetPresence(); pr.GetUserId() == annID {
				seen = pr
			}
		}
		return seen
	}
	room := func(who string, cl *testclient.Client) string {
		t.Helper()
		return joined(t, who, cl.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku"}}})).RoomId
	}
	far := room("ann on n2", annFar)
	if pr := settle(); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM || pr.GetRoomId() != far {
		t.Fatalf("after ann made room %s on n2, bob sees her as %v", far, pr)
	}

	annNear := dialAs(t, n1, annTok, "ann")
	c.WaitSessionRecorded(t, 10*time.Second, n1, annID)
	if pr := settle(); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM || pr.GetRoomId() != far {
		t.Errorf("after ann, in room %s on n2, opened a connection on n1, bob sees her as %v", far, pr)
	}
	near := room("ann on n1", annNear)
	if pr := settle(); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM || pr.GetRoomId() != near {
		t.Errorf("after ann made room %s on n1, bob sees her as %v", near, pr)
	}
	annNear.WS.Close()
	c.WaitSessionGone(t, 10*time.Second, n1, annID)
	if pr := settle(); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM || pr.GetRoomId() != far {
		t.Errorf("after ann closed her connection on n1, still in room %s on n2, bob sees her as %v", far, pr)
	}

	// The other way round: she opens one on n1 again and closes the one
	// on n2, in the room; then the last.
	annNear = dialAs(t, n1, annTok, "ann again")
	c.WaitSessionRecorded(t, 10*time.Second, n1, annID)
	settle()
	annFar.WS.Close()
	if pr := settle(); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Errorf("after ann closed her connection on n2, in room %s, still connected on n1 in the lobby, bob sees her as %v", far, pr)
	}
	annNear.WS.Close()
	if pr := settle(); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Errorf("after ann closed her last connection, bob sees her as %v", pr)
	}
}
