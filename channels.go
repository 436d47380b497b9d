package tickroom

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
	"github.com/tickroom/tickroom/store"
)

// storeChannels keeps lobby channel lines in the store: each line is
// queued on the write queue (the store keeps a channel's newest
// ChannelKeep, for the ChannelHistories channels written most recently),
// and a channel that opens reads its newest lines back.
//
// A channel closes with its last member and may open again before the
// queue has written its last lines (within the queue's linger, or for as
// long as the database is lost), so the lines handed to the queue and not
// yet written or given up are kept here too (pending) and read back with
// the store's. They are the queue's own lines, shared, so this holds no
// more than the queue does (QueueConfig.Capacity bounds it). In a cluster
// only this node's lines are pending here: a channel that opens again on
// another node reads what the store has.
type storeChannels struct {
	db *store.DB
	q  *store.WriteQueue

	mu      sync.Mutex
	pending map[string][]*tickroomv1.Chat // channel → lines queued, oldest first
}

var _ social.ChannelStore = (*storeChannels)(nil)

// socialChannels returns the store's channel history, or nil without a
// store (a channel's history then goes with it).
func (s *Server) socialChannels() social.ChannelStore {
	if s.db == nil || s.queue == nil {
		return nil
	}
	return &storeChannels{db: s.db, q: s.queue, pending: make(map[string][]*tickroomv1.Chat)}
}

// Recent implements social.ChannelStore: the store's newest n lines with
// the lines still waiting in the write queue, each once. When the store
// cannot be read it returns the waiting lines with the error.
func (c *storeChannels) Recent(ctx context.Context, channel string, n int) ([]*tickroomv1.Chat, error) {
	// The waiting lines are taken before the store is read: a line written
	// in between is then in both (and is read once, below), never in
	// neither.
	c.mu.Lock()
	waiting := slices.Clone(c.pending[channel])
	c.mu.Unlock()
	lines, err := c.db.ChannelLines(ctx, channel, 0, min(n, store.MaxPage))
	out := make([]*tickroomv1.Chat, len(lines), len(lines)+len(waiting))
	for i, l := range lines { // newest first
		out[len(lines)-1-i] = &tickroomv1.Chat{Channel: l.Channel, FromUserId: l.From, FromName: l.FromName, Text: l.Text, SentAtMs: l.At.UnixMilli()}
	}
	return mergeWaiting(out, waiting, n), err
}

// mergeWaiting adds to kept, the store's lines oldest first, the waiting
// lines it does not hold (social.WithoutLines), as copies (the caller
// numbers them), ordered by time, and keeps the newest n.
func mergeWaiting(kept, waiting []*tickroomv1.Chat, n int) []*tickroomv1.Chat {
	for _, l := range social.WithoutLines(slices.Clone(waiting), kept) {
		kept = append(kept, &tickroomv1.Chat{Channel: l.Channel, FromUserId: l.FromUserId, FromName: l.FromName, Text: l.Text, SentAtMs: l.SentAtMs})
	}
	slices.SortStableFunc(kept, func(a, b *tickroomv1.Chat) int { return cmp.Compare(a.SentAtMs, b.SentAtMs) })
	return kept[max(0, len(kept)-n):]
}

// Keep implements social.ChannelStore: the line is queued, never waited
// for, and pending until the queue has written or given it up.
func (c *storeChannels) Keep(line *tickroomv1.Chat) {
	c.mu.Lock()
	c.pending[line.Channel] = append(c.pending[line.Channel], line)
	c.mu.Unlock()
	// Done may run on this goroutine (a line dropped at once), so the lock
	// is not held across AddLine.
	c.q.AddLine(store.Line{Channel: line.Channel, From: line.FromUserId, FromName: line.FromName, Text: line.Text, At: time.UnixMilli(line.SentAtMs),
		Done: func() { c.done(line) }})
}

// done forgets a line the queue has written or given up. Lines are
// written in the order they were queued, so it is mostly the first.
func (c *storeChannels) done(line *tickroomv1.Chat) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.pending[line.Channel]
	if i := slices.Index(list, line); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(c.pending, line.Channel)
		return
	}
	c.pending[line.Channel] = list
}
