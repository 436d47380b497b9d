package social

import (
	"fmt"
	"runtime"
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

// BenchmarkRemoteNotes reports the heap a profile's note of a friend on
// another node holds (B/note): 1,000 users with 100 friends each on
// another node, each friend told in a room, each note from its own cast.
func BenchmarkRemoteNotes(b *testing.B) {
	const users, friends = 1000, 100
	b.ReportAllocs()
	for range b.N {
		so, err := New(Config{Peers: idlePeers{}}, quietHost{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for u := range users {
			uid := fmt.Sprint("user", u)
			so.Connect(uid, uid, nil)
			so.mu.Lock()
			for f := range friends {
				so.addFriendSideLocked(uid, so.users[uid], fmt.Sprint("friend", f))
			}
			so.mu.Unlock()
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for f := range friends {
			x := fmt.Sprint("friend", f)
			for u := range users {
				msg := encodeMessage(presenceMessage(&tickroomv1.Presence{UserId: x, Name: x,
					Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM, RoomId: "room-0123456789", Game: "arena", SinceMs: 1_790_000_000_000}))
				so.Serve(&RemoteOp{Kind: OpPresence, From: x, To: fmt.Sprint("user", u), Message: msg, Node: "n-b"})
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(users*friends), "B/note")
		runtime.KeepAlive(so)
	}
}
