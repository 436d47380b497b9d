package tickroom

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/social"
	"github.com/tickroom/tickroom/store"
)

// storeGraph keeps the social graph in the store: a user's side is read
// when it comes online (on social's own goroutine), and every change goes
// through the write queue, so no event loop waits on the database.
type storeGraph struct {
	db     *store.DB
	q      *store.WriteQueue
	queued *queuedBlocks
}

var _ social.Graph = storeGraph{}

// socialGraph returns the store's graph, or nil without a store (the lists
// then live in memory while their user is online).
func (s *Server) socialGraph() social.Graph {
	if s.db == nil || s.queue == nil {
		return nil
	}
	return storeGraph{db: s.db, q: s.queue, queued: s.blocksQueued()}
}

// blocksQueued returns the server's note of the blocks and unblocks on
// its write queue, which the graph and the inbox share.
func (s *Server) blocksQueued() *queuedBlocks {
	if s.queuedBlocks == nil {
		s.queuedBlocks = &queuedBlocks{m: make(map[string]map[string]queuedBlock)}
	}
	return s.queuedBlocks
}

// queuedBlocks notes the blocks and unblocks on the write queue, from
// their Save until the queue has written them or given them up: the
// store's reads of a user's blocks (Load, Admit, the inbox's Keep) see
// the rows written only, and a block made just before its maker went
// offline, or came back, would not refuse the blocked user meanwhile.
// The changes of one node's queue; in a cluster another node's are not
// seen here.
type queuedBlocks struct {
	mu sync.Mutex
	m  map[string]map[string]queuedBlock // blocker → blocked → its changes queued
}

// queuedBlock is what the changes queued for one pair come to.
type queuedBlock struct {
	blocks bool // the last one queued is a block (else an unblock)
	n      int  // how many are queued
}

// add notes a block (or an unblock) of to by from as queued; the
// function it returns forgets it, once it is written or given up. A nil
// q notes nothing.
func (q *queuedBlocks) add(from, to string, block bool) (done func()) {
	if q == nil {
		return func() {}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	set := q.m[from]
	if set == nil {
		set = make(map[string]queuedBlock)
		q.m[from] = set
	}
	e := set[to]
	e.blocks, e.n = block, e.n+1
	set[to] = e
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		set := q.m[from]
		if e := set[to]; e.n > 1 {
			e.n--
			set[to] = e
			return
		}
		delete(set, to)
		if len(set) == 0 {
			delete(q.m, from)
		}
	}
}

// of returns user's blocks and unblocks queued now, by blocked user: true
// for a block. Read it before the store's blocks, which it then
// overrides: a change written meanwhile is in both. A nil q has none.
func (q *queuedBlocks) of(user string) map[string]bool {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var out map[string]bool
	for to, e := range q.m[user] {
		if out == nil {
			out = make(map[string]bool)
		}
		out[to] = e.blocks
	}
	return out
}

// blocks reports whether user blocks other, from the blocks the store
// read (stored) and the changes queued before that read (queued, from of).
func blocks(stored []string, queued map[string]bool, other string) bool {
	if b, ok := queued[other]; ok {
		return b
	}
	return slices.Contains(stored, other)
}

// withQueued returns the blocks the store read (stored) with the changes
// queued before that read (queued, from of) applied.
func withQueued(stored []string, queued map[string]bool) []string {
	if len(queued) == 0 {
		return stored
	}
	out := slices.DeleteFunc(stored, func(b string) bool { _, ok := queued[b]; return ok })
	for b, block := range queued {
		if block {
			out = append(out, b)
		}
	}
	return out
}

// Load implements social.Graph: the user's friendships and the requests
// it made, then the oldest max requests standing for it with their
// senders' names, in one query each, and its blocks, those on the write
// queue included.
func (g storeGraph) Load(ctx context.Context, user string, max int) (social.GraphData, error) {
	var d social.GraphData
	queued := g.queued.of(user)
	edges, err := g.db.OwnFriendships(ctx, user)
	if err != nil {
		return d, err
	}
	for _, f := range edges {
		switch {
		case f.State == store.FriendAccepted:
			other := f.From
			if other == user {
				other = f.To
			}
			d.Friends = append(d.Friends, other)
		case f.From == user:
			if d.Requested == nil {
				d.Requested = make(map[string]int64)
			}
			d.Requested[f.To] = f.Since.UnixMilli()
		}
	}
	incoming, err := g.db.FriendRequestsTo(ctx, user, max)
	if err != nil {
		return d, err
	}
	for _, r := range incoming {
		d.Incoming = append(d.Incoming, social.Request{From: r.From, Name: r.FromName, AtMs: r.Since.UnixMilli()})
	}
	d.Blocks, err = g.db.Blocks(ctx, user)
	d.Blocks = withQueued(d.Blocks, queued)
	return d, err
}

// Admit implements social.Graph: c.To must be an account, and for a
// friend request one that does not block c.From (by a block written or
// on the write queue); the maker's
// own list (its friendships and requests for a request or an acceptance,
// its blocks for a block), but for a row with c.To that the change would only overwrite,
// must hold fewer than max in the store, as it may not when its lists in
// memory are not loaded (the load failed, or has not ended); and for a
// friend request fewer than max requests from others may be stored for
// c.To (a sender asking again, before its own lists have loaded, is not
// refused for its own request), for a guest's request fewer than
// c.GuestMax from guests, stored or held (admitFromGuest), and fewer than c.AddrMax from
// c.Addr's address (admitFromAddr). The counts are the store's, so they hold
// across restarts and nodes; changes still on the write queue are counted
// by social from the lists in memory. For a block or an acceptance the
// count comes before the check of c.To's account (social.Graph).
func (g storeGraph) Admit(ctx context.Context, c social.GraphChange, max int) error {
	// A block and an acceptance count the maker's list first: a user
	// online with no account (a guest that logged in while the store was
	// down) is blocked or befriended all the same once its answer,
	// ERROR_CODE_USER_NOT_FOUND, says the list had room.
	var err error
	switch c.Kind {
	case social.ChangeBlock:
		n, cerr := g.db.CountBlocks(ctx, c.From, c.To, max)
		err = listFull(n, cerr, max, "your block list is full")
	case social.ChangeFriends:
		// An acceptance: c.To's request becomes a friendship of c.From's.
		n, cerr := g.db.CountOwnFriendships(ctx, c.From, c.To, max)
		err = listFull(n, cerr, max, "your friend list is full")
	}
	if err != nil {
		return err
	}
	if _, err := g.db.UserByID(ctx, c.To); errors.Is(err, store.ErrNotFound) {
		return protocol.NewError(protocol.ErrorUserNotFound, "")
	} else if err != nil {
		return errUnchecked
	}
	switch c.Kind {
	case social.ChangeRequest:
		// A user away keeps its blocks, those still on the write queue
		// too: a request from a user it blocks is refused as it is while
		// the user is online.
		queued := g.queued.of(c.To)
		stored, err := g.db.Blocks(ctx, c.To)
		if err != nil {
			return errUnchecked
		}
		if blocks(stored, queued, c.From) {
			return protocol.NewError(protocol.ErrorBlocked, "")
		}
		n, err := g.db.CountOwnFriendships(ctx, c.From, c.To, max)
		if err := listFull(n, err, max, "your friend list is full"); err != nil {
			return err
		}
		n, err = g.db.CountFriendRequestsTo(ctx, c.To, c.From, max)
		if err := listFull(n, err, max, "that user has too many friend requests waiting"); err != nil {
			return err
		}
		if err := g.admitFromGuest(ctx, c); err != nil {
			return err
		}
		return g.admitFromAddr(ctx, c)
	}
	return nil
}

// admitFromGuest refuses a friend request from a guest (c.Guest: an
// account with neither a claimed name nor a linked identity) when
// c.GuestMax senders' requests from guests stand for c.To: those the store
// has (its accounts that are guests now), but c.From's own, and those the
// node holds besides (c.GuestHeld), each sender once. Guests are made one
// every few seconds; claimed accounts keep the rest of the user's
// requests.
func (g storeGraph) admitFromGuest(ctx context.Context, c social.GraphChange) error {
	if !c.Guest || c.GuestMax <= 0 {
		return nil
	}
	stored, err := g.db.GuestRequestSendersTo(ctx, c.To, c.From)
	if err != nil {
		return errUnchecked
	}
	if senders(c.From, stored, c.GuestHeld) >= c.GuestMax {
		return protocol.NewError(protocol.ErrorListFull, "that user has too many friend requests from guests waiting: claim a name to ask")
	}
	return nil
}

// senders counts the users lists name, each once, but from.
func senders(from string, lists ...[]string) int {
	set := make(map[string]struct{})
	for _, l := range lists {
		for _, x := range l {
			if x != from {
				set[x] = struct{}{}
			}
		}
	}
	return len(set)
}

// admitFromAddr refuses a friend request from c.Addr when c.AddrMax
// senders' requests from its address key (an IPv4 address, an IPv6 /64)
// stand for c.To, or clientip.V6SiteFactor times that from its IPv6 /48:
// those the store has, but for c.From's own, and those the node holds
// besides (c.AddrHeld, c.SiteHeld), each sender once, whether its request
// is stored yet or not. A request from no address (an exempt one) is not
// counted.
func (g storeGraph) admitFromAddr(ctx context.Context, c social.GraphChange) error {
	if !c.Addr.IsValid() || c.AddrMax <= 0 {
		return nil
	}
	addr, site := addrKeys(c.Addr)
	fromAddr, fromSite, err := g.db.FriendRequestSendersFromAddr(ctx, c.To, c.From, addr, site)
	if err != nil {
		return errUnchecked
	}
	if senders(c.From, fromAddr, c.AddrHeld) >= c.AddrMax || site != "" && senders(c.From, fromSite, c.SiteHeld) >= c.AddrMax*clientip.V6SiteFactor {
		return protocol.NewError(protocol.ErrorListFull, "that user has too many friend requests waiting from your network")
	}
	return nil
}

// addrKeys are the keys a request from addr is stored under
// (store.Friendship's FromAddr, FromSite): its clientip.Group key and,
// for IPv6, its /48; empty for no address.
func addrKeys(addr netip.Addr) (key, site string) {
	if !addr.IsValid() {
		return "", ""
	}
	k, s := clientip.Group(addr)
	if s.IsValid() {
		site = s.String()
	}
	return k.String(), site
}

// errUnchecked is Admit's answer when the store could not be read.
var errUnchecked = protocol.NewError(protocol.ErrorUnavailable, "the request could not be checked")

// listFull is Admit's answer to a count of n rows against max: nil under
// it, ERROR_CODE_LIST_FULL saying why at it, errUnchecked when the count
// failed.
func listFull(n int, err error, max int, why string) error {
	if err != nil {
		return errUnchecked
	}
	if n >= max {
		return protocol.NewError(protocol.ErrorListFull, why)
	}
	return nil
}

// Save implements social.Graph: the change is queued, never waited for;
// its Done runs once the queue has written it or given it up.
func (g storeGraph) Save(c social.GraphChange) {
	op := store.GraphOp{A: c.From, B: c.To, At: c.At, Done: c.Done}
	if c.Kind == social.ChangeBlock || c.Kind == social.ChangeUnblock {
		// Noted until written or given up (AddGraph calls Done then).
		forget := g.queued.add(c.From, c.To, c.Kind == social.ChangeBlock)
		op.Done = func() {
			forget()
			if c.Done != nil {
				c.Done()
			}
		}
	}
	switch c.Kind {
	case social.ChangeRequest:
		op.Kind, op.Friendship = store.GraphPutFriendship, store.Friendship{From: c.From, To: c.To, State: store.FriendPending, Since: c.At}
		op.Friendship.FromAddr, op.Friendship.FromSite = addrKeys(c.Addr)
	case social.ChangeFriends:
		op.Kind, op.Friendship = store.GraphPutFriendship, store.Friendship{From: c.From, To: c.To, State: store.FriendAccepted, Since: c.At}
	case social.ChangeUnfriend:
		op.Kind = store.GraphDeleteFriendship
	case social.ChangeBlock:
		op.Kind = store.GraphBlock
	case social.ChangeUnblock:
		op.Kind = store.GraphUnblock
	default:
		if c.Done != nil {
			c.Done()
		}
		return
	}
	g.q.AddGraph(op)
}
