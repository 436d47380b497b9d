package social

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Graph keeps friendships, standing friend requests and blocks across
// connections and restarts. Load runs on a goroutine of its own when a
// user comes online and may wait on a database; Save is called with
// Social's lock held and must never block (a store queues the change and
// writes it later, dropping and counting past its bound).
type Graph interface {
	// Load returns the user's side of the graph, with at most max of the
	// requests standing for it (the oldest).
	Load(ctx context.Context, user string, max int) (GraphData, error)
	// Admit runs on a goroutine of its own before a change that adds a
	// row (ChangeRequest, ChangeBlock), or an acceptance (ChangeFriends:
	// the requester's row becomes one of c.From's) while c.From's friend
	// list is not loaded whole, is made: it checks that c.To is a user,
	// that c.From's own list of that kind holds fewer than max (for
	// ChangeFriends, its friendships and requests, as for a request), and
	// for a request that fewer than max requests stand for c.To, fewer
	// than c.AddrMax from c.Addr and, from a guest, fewer than c.GuestMax
	// from guests (see GraphChange), and that c.To does not block c.From. It returns a *protocol.Error to tell
	// c.From why not (ERROR_CODE_USER_NOT_FOUND, ERROR_CODE_LIST_FULL,
	// ERROR_CODE_BLOCKED). For ChangeBlock and ChangeFriends the count
	// comes first: ERROR_CODE_USER_NOT_FOUND says the list had room, and
	// such a change naming a user online here is made all the same.
	Admit(ctx context.Context, c GraphChange, max int) error
	// Save records one change, and calls c.Done (when not nil) once it
	// is stored or given up.
	Save(c GraphChange)
}

// GraphData is one user's side of the social graph.
type GraphData struct {
	// Friends are the user's accepted friends.
	Friends []string
	// Requested are the users the user asked for friendship, with when
	// (Unix ms).
	Requested map[string]int64
	// Incoming are the requests standing for the user.
	Incoming []Request
	// Blocks are the users the user blocks.
	Blocks []string
}

// Request is a friend request standing for a user.
type Request struct {
	From, Name string
	AtMs       int64
}

// ChangeKind is what a GraphChange records.
type ChangeKind uint8

const (
	// ChangeRequest: From asked To for friendship.
	ChangeRequest ChangeKind = iota + 1
	// ChangeFriends: From and To are friends (an accepted request).
	ChangeFriends
	// ChangeUnfriend: any friendship or request between From and To ended
	// (declined, withdrawn, removed, or ended by a block).
	ChangeUnfriend
	// ChangeBlock and ChangeUnblock: From blocks (no longer blocks) To.
	ChangeBlock
	ChangeUnblock
)

// GraphChange is one change to the graph.
type GraphChange struct {
	Kind     ChangeKind
	From, To string
	At       time.Time
	// Addr is, for a ChangeRequest, the client address the request was
	// sent from, when that address has a per-address share (not
	// Config.AddressExempt); zero otherwise. Save keeps it with the
	// request, and Admit counts the requests standing for To from its
	// clientip.Group key, and apart from that from its IPv6 /48.
	Addr netip.Addr
	// AddrMax is, for Admit, Config.MaxRequestsPerAddress: with Addr
	// set, a request is refused with ERROR_CODE_LIST_FULL when AddrMax
	// from Addr's key stand for To (counting AddrHeld), or
	// clientip.V6SiteFactor times AddrMax from its /48 (counting
	// SiteHeld).
	AddrMax int
	// Guest says, for Admit, that From's session is a guest's (an
	// account with neither a claimed name nor a linked identity), and
	// GuestMax is Config.MaxGuestRequests: such a request is refused with
	// ERROR_CODE_LIST_FULL when GuestMax senders' requests from guests
	// stand for To (counting GuestHeld).
	Guest    bool
	GuestMax int
	// GuestHeld is, for Admit, the senders of the other requests to To
	// from guests that this node began checking before this one and may
	// not have stored yet, counted as AddrHeld is.
	GuestHeld []string
	// AddrHeld and SiteHeld are, for Admit, the senders of the other
	// requests to To from Addr's key, and from its /48, that this node
	// began checking before this one and may not have stored yet: Admit
	// counts each sender once, stored or held.
	AddrHeld, SiteHeld []string
	// Done, when not nil, is to be called once, when the change is stored
	// or given up (dropped, refused): from any goroutine, and possibly
	// before Save returns, so it must not take Social's lock (Social's
	// own only answer a request).
	Done func()
}

// graphLoadTimeout bounds one user's load, and graphAdmitTimeout one
// Admit.
const (
	graphLoadTimeout  = 10 * time.Second
	graphAdmitTimeout = 10 * time.Second
)

// A load that failed (the store out of reach) is tried again after
// graphLoadRetry, doubling up to graphLoadRetryMax, for as long as the
// user stays online: until it works the user has no friends, requests or
// blocks here.
const (
	graphLoadRetry    = time.Second
	graphLoadRetryMax = 30 * time.Second
)

// notLoadedLocked reports whether p's lists are not merged with the
// Graph's load yet (profile.merged): a tie its user ends meanwhile is
// noted (Social.unblocked, Social.unfriended), as the load may have read
// it before the change was written. The caller holds so.mu.
func (so *Social) notLoadedLocked(p *profile) bool {
	return so.cfg.Graph != nil && p != nil && !p.merged
}

// noteEndedLocked notes x in notes[p] (Social.unblocked or
// Social.unfriended; lost is p's flag of that kind) while p's lists are
// not merged with the Graph's load (notLoadedLocked). The notes hold at
// most MaxListSize users a profile: the load retries for as long as the
// user is online, and the users named may be made up (an Unblock is not
// checked against the store), so during a store outage they grew at the
// contact rate. Past them p's notes of that kind are dropped and lost set:
// not knowing which of the ties it read ended meanwhile, the load keeps
// none of them. The caller holds so.mu.
func (so *Social) noteEndedLocked(notes map[*profile]map[string]struct{}, p *profile, x string, lost *bool) {
	if !so.notLoadedLocked(p) || *lost || has(notes[p], x) {
		return
	}
	if len(notes[p]) >= so.cfg.MaxListSize {
		*lost = true
		delete(notes, p)
		return
	}
	link(notes, p, x)
}

// save records a change when there is a Graph. The caller holds so.mu, so
// the changes reach the Graph in the order they happened.
func (so *Social) save(kind ChangeKind, from, to string) { so.saveThen(kind, from, to, nil) }

// saveThen records a change like save, with done as its GraphChange.Done.
func (so *Social) saveThen(kind ChangeKind, from, to string, done func()) {
	if so.cfg.Graph != nil {
		so.cfg.Graph.Save(GraphChange{Kind: kind, From: from, To: to, At: so.host.Now(), Done: done})
	}
}

// okWhenSaved records a change like save, and answers m's request id
// with Ok, then the messages in after, once the Graph has stored it (or
// given it up), or after graphOkWait, whichever comes first; at once when
// there is no Graph. A friend request to a user connected nowhere, and a
// friendship accepted while the other user is, are answered so: that user
// may connect to another node right after, and read its side of the graph
// from the store there. The caller holds so.mu.
func (so *Social) okWhenSaved(m *Member, id uint32, kind ChangeKind, from, to string, after ...*tickroomv1.ServerMessage) {
	so.okOnceSaved(m, id, func(done func()) { so.saveThen(kind, from, to, done) }, after...)
}

// okOnceSaved is okWhenSaved with the change's save: save queues it, with
// done as its GraphChange.Done. The caller holds so.mu.
func (so *Social) okOnceSaved(m *Member, id uint32, save func(done func()), after ...*tickroomv1.ServerMessage) {
	reply := func() {
		so.ok(m, id)
		for _, msg := range after {
			so.host.Reply(m.conn, msg)
		}
	}
	if so.cfg.Graph == nil {
		reply()
		return
	}
	// Whichever comes first answers: Stop reports whether the timer had
	// not fired yet.
	late := time.AfterFunc(graphOkWait, reply)
	save(func() {
		if late.Stop() {
			reply()
		}
	})
}

// graphOkWait bounds how long okWhenSaved holds an answer: while the
// store's writes fail, the change waits in its queue (and the request
// stands in memory), and the client is answered rather than left to time
// out.
const graphOkWait = 2 * time.Second

// Friend requests and blocks awaiting Graph.Admit: at most
// maxAdmitsPerMember for one connection and maxAdmits on the node, so
// that a stalled store holds a bounded number of goroutines.
const (
	maxAdmitsPerMember = 4
	maxAdmits          = 1024
)

// startAdmit counts an Admit about to start for m, or refuses it with
// ERROR_CODE_RATE_LIMITED when m or the node has too many waiting. A
// started one is counted down by admitThen.
func (so *Social) startAdmit(m *Member) error {
	switch claim(&m.admits, &so.admitting, maxAdmitsPerMember, maxAdmits) {
	case memberFull:
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: time.Second, Message: "friend and block requests of yours still being checked"}
	case nodeFull:
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: time.Second, Message: "too many friend and block requests being checked"}
	}
	return nil
}

// A claim on work in flight: counted, or refused because the member's or
// the node's count is at its bound.
const (
	claimed = iota
	memberFull
	nodeFull
)

// claim counts one more piece of work in flight for a member (mine) and
// for the node (all), or leaves both counts as they were and says which
// is at its bound. It never blocks; unclaim counts a claimed one down.
func claim(mine *atomic.Int32, all *atomic.Int64, perMember int32, perNode int64) int {
	if mine.Add(1) > perMember {
		mine.Add(-1)
		return memberFull
	}
	if all.Add(1) > perNode {
		all.Add(-1)
		mine.Add(-1)
		return nodeFull
	}
	return claimed
}

// unclaim counts down a piece of work claim counted.
func unclaim(mine *atomic.Int32, all *atomic.Int64) {
	mine.Add(-1)
	all.Add(-1)
}

// pendingKey names a friend request or block awaiting Graph.Admit.
type pendingKey struct {
	kind     ChangeKind
	from, to string
}

// admitLocked starts the Graph's check of a new friend request or block
// (kind) from m's user uid to x, which apply makes once it is admitted;
// m's request id gets the refusal otherwise. A Remove or Unblock of x
// (dropPendingLocked), or a newer request of the same kind, that comes
// while the check runs wins: the older one is answered Ok and not made.
// The caller holds so.mu.
//
// A friend request (h not nil) is held from now (holdRequest) until apply
// hands it to saveRequest, or it comes to nothing: Admit counts the other
// requests held to x from its sender's address.
func (so *Social) admitLocked(m *Member, id uint32, kind ChangeKind, uid, x string, apply func(p *profile, uid, x string, h *requestHold) error) error {
	if err := so.startAdmit(m); err != nil {
		return err
	}
	c := GraphChange{Kind: kind, From: uid, To: x}
	var h *requestHold
	if kind == ChangeRequest {
		h = so.holdRequest(m, uid, x)
		c.Addr, c.AddrMax = h.addr(), so.cfg.MaxRequestsPerAddress
		c.Guest, c.GuestMax = m.guest, so.cfg.MaxGuestRequests
	}
	so.pendingGen++
	gen := so.pendingGen
	so.pending[pendingKey{kind, uid, x}] = gen
	go so.admitThen(m, id, c, gen, h, apply)
	return nil
}

// dropPendingLocked makes a check admitLocked started for (kind, uid, x)
// come to nothing. The caller holds so.mu.
func (so *Social) dropPendingLocked(kind ChangeKind, uid, x string) {
	delete(so.pending, pendingKey{kind, uid, x})
}

// admitThen runs the check admitLocked started. It runs on a goroutine
// of its own.
func (so *Social) admitThen(m *Member, id uint32, c GraphChange, gen uint64, h *requestHold, apply func(p *profile, uid, x string, h *requestHold) error) {
	key := pendingKey{c.Kind, c.From, c.To}
	defer func() {
		so.mu.Lock()
		if so.pending[key] == gen {
			delete(so.pending, key)
		}
		if h != nil && !h.handed {
			h.release() // not made
		}
		so.mu.Unlock()
	}()
	// The holds before this one, taken before Admit reads the store: one
	// released since was stored first, or not made.
	c.AddrHeld, c.SiteHeld, c.GuestHeld = h.before()
	ctx, cancel := context.WithTimeout(context.Background(), graphAdmitTimeout)
	err := so.cfg.Graph.Admit(ctx, c, so.cfg.MaxListSize)
	cancel()
	// The check is over: it is counted no longer before apply runs,
	// which may start one of its own (an acceptance by asking back whose
	// request went meanwhile is a new request, checked as one); counted
	// until then, it took one of m's maxAdmitsPerMember from the new one.
	unclaim(&m.admits, &so.admitting)
	// A block the store could not check (it cannot be read, so the
	// maker's blocks may never load this session) is made from memory
	// all the same if its user is online here, as it is once the blocks
	// are loaded: a user online can reach the maker now, and a block is
	// how a user stops one that harasses it. The list in memory still holds
	// MaxListSize; past the stored blocks go only those made while the
	// store cannot be read, at the contact rate, through the bounded
	// write queue. A block of a user away, which may name no user, gets
	// the store's ERROR_CODE_UNAVAILABLE.
	//
	// A block or an acceptance the store answers with
	// ERROR_CODE_USER_NOT_FOUND, once it has counted the maker's list
	// (Graph.Admit), is made all the same if its user is online here: a
	// guest that logged in while the store was down has no account in
	// it, and is answered so once the maker's lists are loaded.
	//
	// onlineOnly: refused by the store, but made if x is online here.
	onlineOnly := err != nil && (c.Kind == ChangeBlock && asProtocolError(err).Code == protocol.ErrorUnavailable ||
		(c.Kind == ChangeBlock || c.Kind == ChangeFriends) && asProtocolError(err).Code == protocol.ErrorUserNotFound)
	if err == nil || onlineOnly {
		if m.closed.Load() {
			return
		}
		err = so.withContact(m, c.To, func(p *profile, uid, x string) error {
			if so.pending[key] != gen {
				so.ok(m, id) // undone, or asked again, meanwhile
				return nil
			}
			if onlineOnly && so.users[x] == nil {
				return err // gone meanwhile: the store's answer stands
			}
			return apply(p, uid, x, h)
		})
	}
	if err != nil {
		so.fail(m, id, asProtocolError(err))
	}
}

// oneAtATimeLocked runs job(uid, p) on a goroutine of its own, one per
// user for each table (running: so.loads, so.inboxes): while a run for an
// earlier profile of uid goes on (a connection since closed, whose read
// waits on a slow store up to its 10 s), p is noted as the one to run for
// next, and that goroutine runs for it once done, if it is still the
// user's; the profiles noted in between, gone already, are skipped. With
// a goroutine each, a user that closed its connection and opened another
// in a loop (thousands of times a second) left two goroutines with each
// connection, each held up to 10 s by a stalled store. The caller holds
// so.mu.
func (so *Social) oneAtATimeLocked(running map[string]*profile, uid string, p *profile, job func(uid string, p *profile)) {
	if _, ok := running[uid]; ok {
		running[uid] = p
		return
	}
	running[uid] = nil
	go func() {
		for {
			job(uid, p)
			so.mu.Lock()
			next := running[uid]
			if next == nil || so.users[uid] != next {
				delete(running, uid)
				so.mu.Unlock()
				return
			}
			running[uid] = nil
			so.mu.Unlock()
			p = next
		}
	}()
}

// whileOnline runs try until it succeeds, waiting graphLoadRetry between
// tries, doubling up to graphLoadRetryMax, for as long as p is uid's
// profile (the user is online); it reports whether try succeeded. It runs
// on a goroutine of its own.
func (so *Social) whileOnline(uid string, p *profile, try func() bool) bool {
	for wait := graphLoadRetry; ; wait = min(2*wait, graphLoadRetryMax) {
		if try() {
			return true
		}
		time.Sleep(wait)
		so.mu.Lock()
		gone := so.users[uid] != p
		so.mu.Unlock()
		if gone {
			return false
		}
	}
}

// load reads uid's graph and merges it into its profile p, if p is still
// the user's (it went offline meanwhile otherwise: its next connection
// loads again). Each of the user's connections then gets its friends'
// Presence and the friend requests standing for it. It runs on a goroutine
// of its own.
func (so *Social) load(uid string, p *profile) {
	var d GraphData
	// Tried again while the user is online: a failed read left it with no
	// friends and, worse, no blocks for its whole session.
	loaded := so.whileOnline(uid, p, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), graphLoadTimeout)
		defer cancel()
		var err error
		if d, err = so.cfg.Graph.Load(ctx, uid, so.cfg.MaxListSize); err != nil {
			so.stats.GraphLoadErrors.Add(1)
			return false
		}
		return true
	})
	if !loaded {
		return // gone: its next connection loads again
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.users[uid] != p {
		return
	}
	var out []*tickroomv1.ServerMessage
	var remote []string // friends with no connection here, in a cluster
	// Friends with a connection here that may have others on other nodes
	// (Config.SharedUsers): those are told uid's presence too.
	var here []string
	// Whether the lists now hold every tie the store has (profile.listed):
	// not when one was left out for MaxListSize, nor when the incoming
	// requests read were as many as asked for (there may be more).
	whole := len(d.Incoming) < so.cfg.MaxListSize
	// Whether the block list holds every block the store has
	// (profile.blocked), and friends and requested every friendship and
	// own request (profile.friended), whatever the other lists.
	blocksWhole, friendsWhole := true, true
	// More ties ended while the load ran than were noted
	// (noteEndedLocked): any of those read of that kind may be one, so
	// none is kept, and the lists lack what the store may still hold.
	if p.unblockedLost && len(d.Blocks) > 0 {
		d.Blocks, whole, blocksWhole = nil, false, false
	}
	if p.unfriendedLost && (len(d.Friends) > 0 || len(d.Requested) > 0 || len(d.Incoming) > 0) {
		d.Friends, d.Requested, d.Incoming, whole, friendsWhole = nil, nil, nil, false, false
	}
	for _, b := range d.Blocks {
		if has(so.unblocked[p], b) {
			// Unblocked while the load ran, maybe after the read: the
			// Unblock, written after it, stands.
			continue
		}
		if p.blocks == nil {
			p.blocks = make(map[string]struct{})
		}
		if len(p.blocks) < so.cfg.MaxListSize || has(p.blocks, b) {
			p.blocks[b] = struct{}{}
			link(so.blockedBy, b, uid)
		} else {
			whole, blocksWhole = false, false
		}
	}
	// A friendship or request told while the load ran (kept over what
	// the load read), with a user blocked either way as far as this node
	// knows (a block read, or told meanwhile), ends: the block, written
	// after it, stands, as on the node it was made on. The store may
	// still hold the tie: the lists are not whole.
	var ended []string
	for x := range p.friends {
		ended = append(ended, x)
	}
	for x := range p.requested {
		ended = append(ended, x)
	}
	for x := range p.incoming {
		ended = append(ended, x)
	}
	for _, x := range ended {
		if so.blockedLocked(uid, x) {
			so.unfriendLocalLocked(uid, x)
			whole, friendsWhole = false, false
		}
	}
	// Edges changed while the load ran win over what it read: those
	// made are in the lists, those ended noted (Social.unfriended).
	known := func(x string) bool {
		if has(p.friends, x) || has(p.requested, x) || has(p.incoming, x) || has(so.unfriended[p], x) {
			return true
		}
		if has(p.blocks, x) {
			// A tie the store holds with a blocked user is left out of
			// the lists: they no longer hold all of it.
			whole, friendsWhole = false, false
			return true
		}
		return false
	}
	for _, x := range d.Friends {
		if known(x) {
			continue
		}
		if len(p.friends)+len(p.requested) >= so.cfg.MaxListSize {
			whole, friendsWhole = false, false
			continue
		}
		if p.friends == nil {
			p.friends = make(map[string]struct{})
		}
		p.friends[x] = struct{}{}
		link(so.watchers, x, uid)
		if so.remoteLocked(x) {
			remote = append(remote, x)
			continue
		}
		if so.shared() {
			here = append(here, x)
		}
		out = append(out, presenceMessage(so.presenceLocked(x, so.users[x])))
	}
	// An online user who counts uid as a friend made the friendship while
	// uid was away; the store may not have it yet.
	for x := range so.watchers[uid] {
		if xp := so.users[x]; xp != nil && has(xp.friends, uid) && !known(x) && len(p.friends)+len(p.requested) < so.cfg.MaxListSize {
			if p.friends == nil {
				p.friends = make(map[string]struct{})
			}
			p.friends[x] = struct{}{}
			link(so.watchers, x, uid)
			if so.shared() {
				here = append(here, x)
			}
			out = append(out, presenceMessage(so.presenceLocked(x, xp)))
		}
	}
	for x, at := range d.Requested {
		if known(x) {
			continue
		}
		if len(p.friends)+len(p.requested) >= so.cfg.MaxListSize {
			whole, friendsWhole = false, false
			continue
		}
		if p.requested == nil {
			p.requested = make(map[string]int64)
		}
		p.requested[x] = at
		link(so.requestsTo, x, uid)
		if xp := so.users[x]; xp != nil && !has(xp.incoming, uid) && !has(xp.blocks, uid) && len(xp.incoming) < so.cfg.MaxListSize {
			xp.addIncoming(Request{From: uid, Name: p.name, AtMs: at})
		}
	}
	for _, r := range d.Incoming {
		if known(r.From) {
			continue
		}
		if len(p.incoming) >= so.cfg.MaxListSize {
			whole = false
			continue
		}
		if xp := so.users[r.From]; xp != nil {
			r.Name = xp.name
		}
		p.addIncoming(r)
		out = append(out, so.requestMessage(r.From, r.Name, r.AtMs))
	}
	p.listed = whole
	p.blocked = blocksWhole
	p.friended = friendsWhole
	p.merged = true
	delete(so.unblocked, p)
	delete(so.unfriended, p)
	conns := memberConns(p)
	for _, m := range out {
		so.host.Send(m, conns)
	}
	if len(remote) > 0 || len(here) > 0 {
		so.remoteFriendsLocked(uid, p, remote, here)
	}
}

// remoteFriendsLocked tells the friends of uid that its list loading found
// on no connection of this node that uid is online (their nodes deliver it
// to those who are connected), and asks their nodes for their presence,
// which uid's connections get when the answers come; a friend connected
// nowhere, or whose node does not answer in time, is sent as offline.
// here are the friends it found with a connection on this node, which
// told them already, that may have others on other nodes
// (Config.SharedUsers): those nodes are told too (remoteAnnouncementsLocked).
// The caller holds so.mu.
func (so *Social) remoteFriendsLocked(uid string, p *profile, friends, here []string) {
	set := make(map[string]struct{}, len(friends)+len(here))
	for _, x := range friends {
		set[x] = struct{}{}
	}
	for _, x := range here {
		set[x] = struct{}{}
	}
	so.announceRemoteLocked(uid, so.presenceLocked(uid, p), set)
	if len(friends) > 0 {
		so.askRemotePresenceLocked(uid, p, friends, func(m *tickroomv1.ServerMessage) { so.host.Send(m, memberConns(p)) })
	}
}

// askRemotePresenceLocked asks the nodes of friends, friends of uid on
// other nodes, for their presence, and hands each answer to deliver as a
// Presence message, unless uid's profile here is no longer p, the friend
// was unfriended meanwhile, or its node cast its presence since the
// question was asked. The answers come together once every node asked
// has answered or timed out, and a cast comes at once: delivered after
// it, an answer its node gave before the friend's change (or a timeout,
// taken for offline) would overtake the change, and hold until the
// friend's next, which might never come. A question whose answer failed
// (its node did not answer in time, or Redis did not say where the
// friend is) is asked again, up to askTries times askRetry apart, before
// the friend is shown as this node knows it (offline). The caller holds
// so.mu, and deliver runs with it held.
func (so *Social) askRemotePresenceLocked(uid string, p *profile, friends []string, deliver func(*tickroomv1.ServerMessage)) {
	so.askRemotePresenceTryLocked(uid, p, friends, deliver, 1)
}

// Asking again: a login's questions whose answers failed.
const (
	askTries = 3
	askRetry = time.Second
)

// askRemotePresenceTryLocked is askRemotePresenceLocked's try of try.
// The caller holds so.mu.
func (so *Social) askRemotePresenceTryLocked(uid string, p *profile, friends []string, deliver func(*tickroomv1.ServerMessage), try int) {
	ask, since := so.askingLocked(p)
	answered := func(as []RemoteAnswer) {
		so.mu.Lock()
		defer so.mu.Unlock()
		so.answeredLocked(p, ask)
		if so.users[uid] != p {
			return // gone meanwhile
		}
		var again []string
		for i, a := range as {
			x := friends[i]
			if !has(p.friends, x) || ask.casted[x] > since {
				continue // unfriended, or told a later presence, meanwhile
			}
			if a.Err != nil && try < askTries {
				again = append(again, x)
				continue
			}
			deliver(presenceMessage(so.answeredPresenceLocked(p, x, a)))
		}
		if len(again) > 0 {
			time.AfterFunc(askRetry, func() {
				so.mu.Lock()
				defer so.mu.Unlock()
				if so.users[uid] == p {
					so.askRemotePresenceTryLocked(uid, p, again, deliver, try+1)
				}
			})
		}
	}
	if pa, ok := so.peers.(PresenceAsker); ok {
		pa.AskPresence(uid, friends, answered)
		return
	}
	ops := make([]*RemoteOp, len(friends))
	for i, x := range friends {
		ops[i] = &RemoteOp{Kind: OpQueryPresence, From: uid, To: x}
	}
	so.peers.Call(ops, answered)
}

// asking is what a profile's presence questions awaiting other nodes'
// answers need: how many calls await, and the friends whose presence a
// cast told since, numbered by casts (the last a friend).
type asking struct {
	questions int
	casts     uint64
	casted    map[string]uint64
}

// askingLocked notes a call of questions about p's friends on other
// nodes, and returns its entry and the casts' count when it was asked;
// answeredLocked must follow, once. The caller holds so.mu.
func (so *Social) askingLocked(p *profile) (*asking, uint64) {
	ask := so.asking[p]
	if ask == nil {
		if so.asking == nil {
			so.asking = make(map[*profile]*asking)
		}
		ask = new(asking)
		so.asking[p] = ask
	}
	ask.questions++
	return ask, ask.casts
}

// answeredLocked notes that a call askingLocked noted was answered. The
// caller holds so.mu.
func (so *Social) answeredLocked(p *profile, ask *asking) {
	if ask.questions--; ask.questions == 0 {
		delete(so.asking, p)
	}
}

// castLocked notes that friend x's node cast its presence to p's user,
// newer than the answers p awaits. The caller holds so.mu.
func (so *Social) castLocked(p *profile, x string) {
	ask := so.asking[p]
	if ask == nil {
		return
	}
	ask.casts++
	if ask.casted == nil {
		ask.casted = make(map[string]uint64)
	}
	ask.casted[x] = ask.casts
}

// addIncoming records a request standing for p's user.
func (p *profile) addIncoming(r Request) {
	if p.incoming == nil {
		p.incoming = make(map[string]Request)
	}
	p.incoming[r.From] = r
}

// answeredPresenceLocked is friend x's presence from a peer's answer a to
// p's query, noted as that node's; a failed or empty answer leaves what
// this node knows of x. The caller holds so.mu.
func (so *Social) answeredPresenceLocked(p *profile, x string, a RemoteAnswer) *tickroomv1.Presence {
	pr := decodePresence(a.Presence)
	if a.Err != nil || a.Code != 0 || pr == nil {
		return so.presenceLocked(x, so.users[x])
	}
	so.noteRemoteLocked(p, x, pr, a.Node)
	return pr
}
