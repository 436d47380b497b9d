package tickroom

import (
	"context"
	"errors"
	"strings"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/social"
	"github.com/tickroom/tickroom/store"
)

// storeInbox keeps direct messages to offline users in the store: each is
// queued on the write queue (the store keeps a recipient's newest
// InboxKeep), read at the recipient's next login and removed once handed
// over.
type storeInbox struct {
	db     *store.DB
	q      *store.WriteQueue
	queued *queuedBlocks
}

var _ social.Inbox = storeInbox{}

// socialInbox returns the store's inbox, or nil without a store (a direct
// message to an offline user is then refused).
func (s *Server) socialInbox() social.Inbox {
	if s.db == nil || s.queue == nil {
		return nil
	}
	return storeInbox{db: s.db, q: s.queue, queued: s.blocksQueued()}
}

// Keep implements social.Inbox. It refuses in the order the online path
// does: an unknown recipient, then one that blocks the sender (by a block
// written or on the write queue), then text that cannot be kept.
func (b storeInbox) Keep(ctx context.Context, d social.Stored) error {
	if _, err := b.db.UserByID(ctx, d.To); errors.Is(err, store.ErrNotFound) {
		return protocol.NewError(protocol.ErrorUserNotFound, "")
	} else if err != nil {
		return protocol.NewError(protocol.ErrorUnavailable, "the message could not be kept")
	}
	// The recipient's blocks still on the write queue count, as they do
	// while it is online.
	queued := b.queued.of(d.To)
	stored, err := b.db.Blocks(ctx, d.To)
	if err != nil {
		return protocol.NewError(protocol.ErrorUnavailable, "the message could not be kept")
	}
	if blocks(stored, queued, d.From) {
		return protocol.NewError(protocol.ErrorBlocked, "")
	}
	// No store keeps a NUL (a PostgreSQL text column cannot), and the
	// queue would drop the line: no retry would ever keep it. The social
	// package refuses such text before any path looks at the recipient
	// (so that the answer does not tell an online recipient from an
	// offline one); this is the store's own guard, after the recipient
	// and its blocks as the online path checks them.
	if strings.IndexByte(d.Text, 0) >= 0 {
		return protocol.NewError(protocol.ErrorBadRequest, "text holding a NUL character cannot be kept for a user who is offline")
	}
	var done func(int64)
	if d.Written != nil {
		done = func(int64) { d.Written() }
	}
	if !b.q.AddLine(store.Line{To: d.To, From: d.From, FromName: d.FromName, Text: d.Text, At: d.At, Done: done}) {
		return protocol.NewError(protocol.ErrorUnavailable, "the message could not be kept")
	}
	return nil
}

// Take implements social.Inbox.
func (b storeInbox) Take(ctx context.Context, user string) ([]social.Stored, error) {
	lines, err := b.db.Inbox(ctx, user)
	out := make([]social.Stored, 0, len(lines))
	for _, l := range lines {
		out = append(out, social.Stored{ID: l.ID, From: l.From, FromName: l.FromName, To: l.To, Text: l.Text, At: l.At})
	}
	return out, err
}

// Done implements social.Inbox.
func (b storeInbox) Done(ctx context.Context, user string, ids []int64) error {
	return b.db.AckInbox(ctx, user, ids)
}
