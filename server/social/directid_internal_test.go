package social

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// clockHost is a Host on a clock the test moves, which records the ids of
// the direct messages it delivers.
type clockHost struct {
	now *time.Time
	ids *[]uint64
}

func (clockHost) Send(*tickroomv1.ServerMessage, []*server.Conn) bool { return true }
func (clockHost) Reply(*server.Conn, *tickroomv1.ServerMessage)       {}
func (h clockHost) SendToUser(_ string, m *tickroomv1.ServerMessage) int {
	if dm := m.GetDirectMessage(); dm != nil {
		*h.ids = append(*h.ids, dm.Id)
	}
	return 1
}
func (h clockHost) Now() time.Time { return *h.now }

// TestDirectMessageIDsGoOnAcrossNodes: DirectMessage.id is unique per
// sender, and a page skips one it showed. Each node numbered its direct
// messages from its start time on, one more each: two nodes of a cluster
// started in the same millisecond gave the same ids, and a sender that
// reconnected to the other node could be given an id it had been given
// before, so the recipient's open page hid that message. Ids now follow
// the time they are given, as a lobby channel's lines do.
func TestDirectMessageIDsGoOnAcrossNodes(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	var ids []uint64
	h := clockHost{now: &now, ids: &ids}
	a, err := New(Config{}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{}, h, nil) // started in the same millisecond
	if err != nil {
		t.Fatal(err)
	}
	send := func(so *Social) {
		t.Helper()
		ann := so.Connect("ann", "", nil)
		so.Connect("bob", "", nil)
		if err := so.SendDirect(ann, 1, &tickroomv1.SendDirect{ToUserId: "bob", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	send(a)
	send(a)
	now = now.Add(5 * time.Millisecond) // ann reconnects to the other node
	send(b)
	if len(ids) != 3 || ids[2] <= ids[1] || ids[1] <= ids[0] {
		t.Fatalf("ann's direct message ids %v: want each above the one before, across the nodes", ids)
	}
}
