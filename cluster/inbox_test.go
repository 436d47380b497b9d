package cluster

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// laggingInbox is one store shared by the nodes, whose writes land only
// when the test calls write: a message Keep took is queued until then, as
// the store's write queue holds it while the database is slow.
type laggingInbox struct {
	mu      sync.Mutex
	queued  []social.Stored
	written []social.Stored
	nextID  int64
}

func (b *laggingInbox) Keep(_ context.Context, d social.Stored) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queued = append(b.queued, d)
	return nil
}

// write lands the queued messages, then tells their senders' nodes so.
func (b *laggingInbox) write() {
	b.mu.Lock()
	q := b.queued
	b.queued = nil
	for _, d := range q {
		b.nextID++
		d.ID = b.nextID
		b.written = append(b.written, d)
	}
	b.mu.Unlock()
	for _, d := range q {
		if d.Written != nil {
			d.Written()
		}
	}
}

func (b *laggingInbox) Take(_ context.Context, user string) ([]social.Stored, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []social.Stored
	for _, d := range b.written {
		if d.To == user {
			out = append(out, d)
		}
	}
	return out, nil
}

func (b *laggingInbox) Done(_ context.Context, user string, ids []int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.written = slices.DeleteFunc(b.written, func(d social.Stored) bool { return d.To == user && slices.Contains(ids, d.ID) })
	return nil
}

// TestOfflineDirectMessageWrittenAfterItsRecipientLoggedInOnAnotherNode:
// a direct message to a user connected nowhere is kept, and read at the
// recipient's login; one whose write lands after the recipient logged in
// on another node, which read an empty inbox, reaches the recipient there
// once written, not at its next login however long it stays online.
func TestOfflineDirectMessageWrittenAfterItsRecipientLoggedInOnAnotherNode(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	inbox := new(laggingInbox)
	a := startSocialNodeOf(t, rs, "a", nil, nodeOptions{inbox: inbox})
	b := startSocialNodeOf(t, rs, "b", nil, nodeOptions{inbox: inbox})
	ann := a.login(t, "ann", 1)
	if err := a.so.SendDirect(ann, 7, &tickroomv1.SendDirect{ToUserId: "bob", Text: "just now"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ann's message to bob, offline, queued", func() bool {
		inbox.mu.Lock()
		defer inbox.mu.Unlock()
		return len(inbox.queued) == 1
	})
	b.login(t, "bob", 2) // reads bob's inbox: nothing written yet
	inbox.write()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(b.host.direct("bob")) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if got := b.host.direct("bob"); !slices.Equal(got, []string{"just now"}) {
		t.Fatalf("bob, online on b, got direct messages %q within 5 s of the write, want [\"just now\"]", got)
	}
	if left, _ := inbox.Take(context.Background(), "bob"); len(left) != 0 {
		t.Fatalf("the inbox still keeps %d messages for bob after he got them", len(left))
	}
}
