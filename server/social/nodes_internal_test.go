package social

import (
	"fmt"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// idlePeers is a Peers whose calls find no one and whose casts go nowhere.
type idlePeers struct{}

func (idlePeers) Call(ops []*RemoteOp, done func([]RemoteAnswer)) {
	go done(make([]RemoteAnswer, len(ops)))
}
func (idlePeers) Cast(*RemoteOp)                  {}
func (idlePeers) JoinChannel(string, func(error)) {}
func (idlePeers) LeaveChannel(string)             {}
func (idlePeers) PostChannel(string, *tickroomv1.Chat, uint64, func(error)) error {
	return nil
}

// TestUnfriendingDropsTheRemoteNote: a friend of another node that a
// user was told is online is noted with its node (NodesLive); unfriended,
// the note stayed for the user's whole session, so a user who made and
// ended friendships with users of other nodes held a note for each, past
// MaxListSize, and every node poll walked them. Unfriending drops it.
func TestUnfriendingDropsTheRemoteNote(t *testing.T) {
	so, err := New(Config{Peers: idlePeers{}, MaxListSize: 10}, quietHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	so.Connect("ann", "ann", nil)
	online := encodeMessage(presenceMessage(&tickroomv1.Presence{Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE}))
	for i := range 25 {
		x := fmt.Sprint("friend", i)
		so.mu.Lock()
		so.addFriendSideLocked("ann", so.users["ann"], x)
		so.mu.Unlock()
		so.Serve(&RemoteOp{Kind: OpPresence, From: x, To: "ann", Message: online, Node: "n-b"})
		so.Serve(&RemoteOp{Kind: OpUnfriend, From: x, To: "ann", Node: "n-b"})
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	if n, at := len(so.users["ann"].remote), so.remoteAt["n-b"]; n != 0 || at != 0 {
		t.Fatalf("after 25 friends of n-b unfriended: ann holds %d notes, n-b named by %d; want none", n, at)
	}
}
