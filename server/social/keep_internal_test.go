package social

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// quietHost is a Host that delivers nothing.
type quietHost struct{}

func (quietHost) Send(*tickroomv1.ServerMessage, []*server.Conn) bool { return true }
func (quietHost) Reply(*server.Conn, *tickroomv1.ServerMessage)       {}
func (quietHost) SendToUser(string, *tickroomv1.ServerMessage) int    { return 0 }
func (quietHost) Now() time.Time                                      { return time.Now() }

// gatedInbox's Keep waits until release is closed.
type gatedInbox struct{ release chan struct{} }

func (b gatedInbox) Keep(ctx context.Context, _ Stored) error {
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (gatedInbox) Take(context.Context, string) ([]Stored, error) { return nil, nil }
func (gatedInbox) Done(context.Context, string, []int64) error    { return nil }

// TestOfflineDirectMessagesAwaitingTheStoreAreBoundedPerNode: while the
// Inbox does not answer, the node has at most maxKeeps direct messages to
// offline users being kept, whatever the connections; a message past it
// is refused at once with ERROR_CODE_UNAVAILABLE and a retry hint, and the
// node keeps messages again once the Inbox answers.
func TestOfflineDirectMessagesAwaitingTheStoreAreBoundedPerNode(t *testing.T) {
	in := gatedInbox{release: make(chan struct{})}
	// The members have no connection, so no address of their own: none is
	// held to an address's share.
	everyone := func(netip.Addr) bool { return true }
	so, err := New(Config{Inbox: in, ChatBurst: 2 * maxKeepsPerMember, AddressExempt: everyone}, quietHost{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(m *Member, i int) error {
		return so.SendDirect(m, 1, &tickroomv1.SendDirect{ToUserId: fmt.Sprint("offline", i), Text: "hi"})
	}
	for u := range maxKeeps / maxKeepsPerMember {
		m := so.Connect(fmt.Sprint("user", u), "", nil)
		for i := range maxKeepsPerMember {
			if err := send(m, i); err != nil {
				t.Fatalf("user%d's message %d: %v", u, i, err)
			}
		}
	}
	late := so.Connect("late", "", nil)
	var pe *protocol.Error
	if err := send(late, 0); !errors.As(err, &pe) || pe.Code != protocol.ErrorUnavailable || pe.RetryAfter <= 0 {
		t.Fatalf("a message past the node's %d: %v, want UNAVAILABLE with a retry hint", maxKeeps, err)
	}
	if got := so.stats.DirectBusy.Load(); got != 1 {
		t.Fatalf("DirectBusy %d, want 1", got)
	}
	if n := late.keeping.Load(); n != 0 {
		t.Fatalf("the refused message left %d counted for its member", n)
	}
	close(in.release)
	for deadline := time.Now().Add(10 * time.Second); so.keeping.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still counted once the Inbox answered", so.keeping.Load())
		}
	}
	if err := send(late, 1); err != nil {
		t.Fatalf("a message once the others are kept: %v", err)
	}
}
