package social

import (
	"sync"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// shownHost is a Host that keeps the last presence sent of each user.
type shownHost struct {
	quietHost
	mu    sync.Mutex
	shown map[string]*tickroomv1.Presence
}

func (h *shownHost) Send(m *tickroomv1.ServerMessage, _ []*server.Conn) bool {
	if pr := m.GetPresence(); pr != nil {
		h.mu.Lock()
		h.shown[pr.UserId] = pr
		h.mu.Unlock()
	}
	return true
}

func (h *shownHost) last(uid string) *tickroomv1.Presence {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shown[uid]
}

// TestFriendSeesAUserOfSeveralNodesMerged: with Config.SharedUsers, x
// is connected on n1, in a room, and on n2, in the lobby; w, its friend
// here, is told each node's word and shown them merged. Then both of x's
// connections close at once: n2 found x connected nowhere and cast
// OFFLINE, and n1, whose question n2 answered before its own closed,
// casts OpPresenceLeft with x's presence there as n2 answered it; in
// either order, w ends seeing x offline.
func TestFriendSeesAUserOfSeveralNodesMerged(t *testing.T) {
	for _, offlineFirst := range []bool{true, false} {
		h := &shownHost{shown: make(map[string]*tickroomv1.Presence)}
		so, err := New(Config{Peers: &castPeers{}, SharedUsers: true}, h, nil)
		if err != nil {
			t.Fatal(err)
		}
		so.Connect("w", "w", nil)
		so.mu.Lock()
		so.addFriendSideLocked("w", so.users["w"], "x")
		so.mu.Unlock()
		cast := func(node string, pr *tickroomv1.Presence) {
			so.Serve(&RemoteOp{Kind: OpPresence, From: "x", To: "w", Message: encodeMessage(presenceMessage(pr)), Node: node, PerNode: true})
		}
		inRoom := &tickroomv1.Presence{UserId: "x", Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM, RoomId: "r1", SinceMs: 1}
		online := &tickroomv1.Presence{UserId: "x", Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE, SinceMs: 2}
		offline := &tickroomv1.Presence{UserId: "x", Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE, SinceMs: 3}
		cast("n1", inRoom)
		cast("n2", online)
		if pr := h.last("x"); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM {
			t.Fatalf("x in a room on n1 and in the lobby on n2 is shown %v", pr)
		}
		left := func() {
			so.Serve(&RemoteOp{Kind: OpPresenceLeft, From: "x", To: "w", Message: encodeMessage(presenceMessage(online)), Node: "n1"})
		}
		if offlineFirst {
			cast("n2", offline)
			if pr := h.last("x"); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM {
				t.Fatalf("after n2's OFFLINE, n1's room not left yet, x is shown %v", pr)
			}
			left()
		} else {
			left()
			if pr := h.last("x"); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
				t.Fatalf("after x left n1, still on n2, x is shown %v", pr)
			}
			cast("n2", offline)
		}
		if pr := h.last("x"); pr.GetStatus() != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
			t.Errorf("offline first %v: after both of x's connections closed, x is shown %v", offlineFirst, pr)
		}
		so.mu.Lock()
		n := len(so.told["x"])
		so.mu.Unlock()
		if n > 1 {
			t.Errorf("offline first %v: %d entries kept of x, offline everywhere", offlineFirst, n)
		}
	}
}
