package tickroom

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
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
// the store's, by a channel that opens (Recent) and by a member paging
// through its history (ChannelLines, hub.ChannelLog). They are the queue's
// own lines, shared, so this holds no more than the queue does
// (QueueConfig.Capacity bounds it). In a cluster only this node's lines
// are pending here: a channel that opens again on another node reads what
// the store has.
type storeChannels struct {
	db *store.DB
	q  *store.WriteQueue

	// queueing is held across Keep, so that the lines are numbered,
	// pending and queued in one order: the queue writes them in it.
	queueing sync.Mutex

	mu      sync.Mutex
	last    uint64                   // the number of the last line queued
	pending map[string][]pendingLine // channel → lines queued, oldest first
	written writtenLines             // the numbers and ids of the lines written last
	epoch   uint64                   // this run's, in the ids of waiting lines

	beforeRead func() // tests: run by ChannelLines before it reads the store
}

// pendingLine is a line handed to the queue and not yet written or given
// up, with its number: this node numbers the lines it queues 1, 2, …
type pendingLine struct {
	line *tickroomv1.Chat
	n    uint64
}

// A line still waiting in the queue has no store id: a page gives it
// pendingIDs + epoch<<epochShift + its number, above every store id (the
// store would have to hold 2^52 lines) and below 2^53, which a JavaScript
// number holds: 16 bits of epoch, drawn at random as the node starts, and
// 36 of number (68 billion lines a run). A page cursor
// (GetChannelHistory.before) of the node's epoch and number n stands for
// "before line n", whether n is still waiting or was written since the
// page. The numbers are the node's own: a cursor of another epoch (another
// node's, or this node's before a restart) reads as the newest page, which
// may repeat lines but skips none.
const (
	pendingIDs = 1 << 52
	epochShift = 36
	epochs     = 1 << (52 - epochShift)
)

var (
	_ social.ChannelStore = (*storeChannels)(nil)
	_ hub.ChannelLog      = (*storeChannels)(nil)
)

func newStoreChannels(db *store.DB, q *store.WriteQueue) *storeChannels {
	return &storeChannels{db: db, q: q, pending: make(map[string][]pendingLine), epoch: rand.Uint64N(epochs)}
}

// pendingID is the id a page gives the waiting line numbered n.
func (c *storeChannels) pendingID(n uint64) uint64 {
	return pendingIDs + c.epoch<<epochShift + n
}

// socialChannels returns the store's channel history, or nil without a
// store (a channel's history then goes with it).
func (s *Server) socialChannels() social.ChannelStore {
	if s.channels == nil {
		return nil
	}
	return s.channels
}

// Recent implements social.ChannelStore: the store's newest n lines with
// the lines still waiting in the write queue, each once. When the store
// cannot be read it returns the waiting lines with the error.
func (c *storeChannels) Recent(ctx context.Context, channel string, n int) ([]*tickroomv1.Chat, error) {
	// The waiting lines are taken before the store is read: a line written
	// in between is then in both (and is read once, below), never in
	// neither.
	c.mu.Lock()
	waiting := make([]*tickroomv1.Chat, 0, len(c.pending[channel]))
	for _, p := range c.pending[channel] {
		waiting = append(waiting, p.line)
	}
	c.mu.Unlock()
	lines, err := c.db.ChannelLines(ctx, channel, 0, min(n, store.MaxPage))
	out := make([]*tickroomv1.Chat, len(lines), len(lines)+len(waiting))
	for i, l := range lines { // newest first
		out[len(lines)-1-i] = chatOf(&l)
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

// ChannelLines implements hub.ChannelLog: a page of the channel's lines
// with ids below before (0: from the newest), newest first, the lines
// still waiting in the write queue among them, each once.
//
// The queue writes this node's lines in the order they were queued, after
// every line the store holds, so the waiting lines are the newest, oldest
// first, and a page gives them the ids pendingID(their numbers). A page
// of store ids (before below pendingIDs) holds no waiting line. A page
// before pendingID(n) holds the waiting lines numbered below n and the
// stored lines written before line n: all of them while n waits, else
// those below the store id of the first line numbered n or more written
// (writtenLines). A page whose lines all wait reads no store; when the
// store cannot be read, the waiting lines below before are returned with
// hub.ErrOlderUnread, so either is answered while the database is lost.
func (c *storeChannels) ChannelLines(ctx context.Context, channel string, before int64, limit int) ([]store.Line, error) {
	if (before > 0 && before < pendingIDs) || limit < 1 || limit > store.MaxPage {
		return c.db.ChannelLines(ctx, channel, before, limit)
	}
	cut := uint64(math.MaxUint64)
	if before > 0 && uint64(before-pendingIDs)>>epochShift == c.epoch {
		cut = uint64(before-pendingIDs) & (1<<epochShift - 1)
	} // else another run's: the newest page

	// As in Recent, the waiting lines are taken before the store is read.
	// Of the waiting lines numbered below cut, the newest limit are copied.
	c.mu.Lock()
	list := c.pending[channel]
	i := pendingIndex(list, cut)
	waiting := make([]*tickroomv1.Chat, 0, min(i, limit))
	for _, p := range list[max(0, i-limit):i] {
		waiting = append(waiting, &tickroomv1.Chat{Id: c.pendingID(p.n), Channel: p.line.Channel, FromUserId: p.line.FromUserId,
			FromName: p.line.FromName, Text: p.line.Text, SentAtMs: p.line.SentAtMs})
	}
	if len(waiting) == limit {
		c.mu.Unlock()
		return linesOf(waiting, nil), nil
	}
	after := c.pendingFrom(channel, cut) // numbered from cut
	below := c.written.idFrom(cut)
	c.mu.Unlock()
	if c.beforeRead != nil {
		c.beforeRead()
	}
	var stored []*tickroomv1.Chat
	for tries := 0; ; tries++ {
		n := min(limit+len(after), store.MaxPage)
		ls, err := c.db.ChannelLines(ctx, channel, below, n)
		if err != nil {
			if len(waiting) > 0 {
				// The page holds the waiting lines and leads on from the
				// oldest of them (hub.ErrOlderUnread).
				return linesOf(waiting, nil), fmt.Errorf("%w: %w", hub.ErrOlderUnread, err)
			}
			return nil, err
		}
		stored = make([]*tickroomv1.Chat, len(ls))
		for i := range ls {
			stored[i] = chatOf(&ls[i])
		}
		if below > 0 {
			break // the lines written before line cut, none from it
		}
		// Lines numbered from cut, newer than the page, may have been
		// queued (since the waiting lines were taken, too) and written
		// before the store answered. Once one is known written, the lines
		// below its id are read again; those not yet known written still
		// wait and are left out here. WithoutLines drops the first copies
		// it meets, the newest stored ones.
		c.mu.Lock()
		below = c.written.idFrom(cut)
		had := len(after)
		after = c.pendingFrom(channel, cut)
		c.mu.Unlock()
		if below > 0 {
			continue
		}
		stored = social.WithoutLines(stored, after)
		if len(ls) < n || len(after) == had || tries == 3 {
			// The store holds no more, or as many were read as could be
			// left out. (Past a few tries, lines posted ever again, a page
			// may come up short.)
			break
		}
	}
	// A line numbered below cut written since the waiting lines were taken
	// is both stored and waiting: it is read as stored. WithoutLines drops
	// the first copies it meets, the oldest waiting ones: the lines written.
	waiting = social.WithoutLines(waiting, stored)
	out := linesOf(waiting, stored)
	return out[:min(len(out), limit)], nil
}

// pendingFrom returns the channel's waiting lines numbered n or more, the
// queue's own. mu is held.
func (c *storeChannels) pendingFrom(channel string, n uint64) []*tickroomv1.Chat {
	list := c.pending[channel]
	i := pendingIndex(list, n)
	out := make([]*tickroomv1.Chat, 0, len(list)-i)
	for _, p := range list[i:] {
		out = append(out, p.line)
	}
	return out
}

// pendingIndex returns the index in a channel's waiting lines (numbered in
// order) of the first numbered n or more.
func pendingIndex(list []pendingLine, n uint64) int {
	i, _ := slices.BinarySearchFunc(list, n, func(p pendingLine, n uint64) int { return cmp.Compare(p.n, n) })
	return i
}

// chatOf is a stored line as a chat line carrying its store id.
func chatOf(l *store.Line) *tickroomv1.Chat {
	return &tickroomv1.Chat{Id: uint64(l.ID), Channel: l.Channel, FromUserId: l.From, FromName: l.FromName, Text: l.Text, SentAtMs: l.At.UnixMilli()}
}

// linesOf returns waiting (oldest first) then stored (newest first) as
// store lines, newest first.
func linesOf(waiting, stored []*tickroomv1.Chat) []store.Line {
	out := make([]store.Line, 0, len(waiting)+len(stored))
	for i := len(waiting) - 1; i >= 0; i-- {
		out = append(out, lineOf(waiting[i]))
	}
	for _, l := range stored {
		out = append(out, lineOf(l))
	}
	return out
}

func lineOf(l *tickroomv1.Chat) store.Line {
	return store.Line{ID: int64(l.Id), Channel: l.Channel, From: l.FromUserId, FromName: l.FromName, Text: l.Text, At: time.UnixMilli(l.SentAtMs)}
}

// Keep implements social.ChannelStore: the line is queued, never waited
// for, and pending until the queue has written or given it up.
func (c *storeChannels) Keep(line *tickroomv1.Chat) {
	c.queueing.Lock()
	defer c.queueing.Unlock()
	c.mu.Lock()
	c.last++
	p := pendingLine{line: line, n: c.last}
	c.pending[line.Channel] = append(c.pending[line.Channel], p)
	c.mu.Unlock()
	// Done may run on this goroutine (a line dropped at once), so mu is
	// not held across AddLine.
	c.q.AddLine(store.Line{Channel: line.Channel, From: line.FromUserId, FromName: line.FromName, Text: line.Text, At: time.UnixMilli(line.SentAtMs),
		Done: func(id int64) { c.done(p, id) }})
}

// done forgets a line the queue has written (id, its store id) or given
// up (id 0). Lines are written in the order they were queued, so it is
// mostly the first.
func (c *storeChannels) done(p pendingLine, id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id > 0 {
		c.written.add(p.n, id)
	}
	list := c.pending[p.line.Channel]
	if i := slices.Index(list, p); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(c.pending, p.line.Channel)
		return
	}
	c.pending[p.line.Channel] = list
}

// writtenKept is how many written lines writtenLines remembers: 256 KiB.
const writtenKept = 16384

// writtenLines remembers the number and store id of the last writtenKept
// lines written, of every channel, in a ring: from head (once full) the
// oldest first. The queue writes them in the order they were numbered, so
// both grow along it.
type writtenLines struct {
	n    []uint64
	id   []int64
	head int // the oldest, once full; 0 until then
}

func (w *writtenLines) add(n uint64, id int64) {
	if len(w.n) < writtenKept {
		w.n = append(w.n, n)
		w.id = append(w.id, id)
		return
	}
	w.n[w.head], w.id[w.head] = n, id
	w.head = (w.head + 1) % writtenKept
}

// idFrom returns the store id of the first line written numbered n or
// more, or 0 when none was (every stored line was written before line n).
// Lines are numbered and stored in one order, so the stored lines written
// before line n are those with a smaller id. When it forgot lines numbered
// n or more (writtenKept lines written since line n) it answers the id of
// the oldest it remembers: a page may then repeat lines of the page
// before it.
func (w *writtenLines) idFrom(n uint64) int64 {
	at := func(i int) int { return (w.head + i) % len(w.n) }
	i := sort.Search(len(w.n), func(i int) bool { return w.n[at(i)] >= n })
	if i == len(w.n) {
		return 0
	}
	return w.id[at(i)]
}
