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
