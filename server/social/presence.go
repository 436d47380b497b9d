package social

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// presenceLocked is uid's current status; p is its profile, nil when the
// user is offline. The caller holds so.mu.
func (so *Social) presenceLocked(uid string, p *profile) *tickroomv1.Presence {
	if p == nil {
		return &tickroomv1.Presence{UserId: uid, Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE}
	}
	pr := &tickroomv1.Presence{
		UserId: uid, Name: p.name, Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE,
		SinceMs: p.since / int64(time.Millisecond),
	}
	if len(p.rooms) > 0 {
		pr.Status = tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM
		// The most recent listed room; a private room is not named.
		for i := len(p.rooms) - 1; i >= 0; i-- {
			if r := p.rooms[i]; !r.Private {
				pr.RoomId, pr.Game = r.ID, r.Game
				break
			}
		}
	}
	return pr
}

// announceLocked pushes uid's status to every online user who watches it.
// p is uid's profile, nil when it went offline. The caller holds so.mu.
func (so *Social) announceLocked(uid string, p *profile) {
	if p != nil {
		so.announceRemoteLocked(uid, so.presenceLocked(uid, p), p.friends)
	}
	ws := so.watchers[uid]
	if len(ws) == 0 {
		return
	}
	pr := so.presenceLocked(uid, p)
	if p == nil {
		pr = so.offlineLocked(uid)
	}
	var conns []*server.Conn
	for w := range ws {
		if wp := so.users[w]; wp != nil {
			for _, m := range wp.members {
				conns = append(conns, m.conn)
			}
		}
	}
	if len(conns) == 0 {
		return
	}
	if so.host.Send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Presence{Presence: pr}}, conns) {
		so.stats.PresenceEvents.Add(uint64(len(conns)))
	}
}

// offlineLocked is uid's status as it goes offline. The caller holds
// so.mu.
func (so *Social) offlineLocked(uid string) *tickroomv1.Presence {
	pr := so.presenceLocked(uid, nil)
	pr.SinceMs = so.host.Now().UnixMilli()
	return pr
}

// AddFriend asks a user for friendship, accepts that user's standing
// request, or with Remove ends a friendship or withdraws a request.
// Presence flows only between friends: a request is Ok'd (to a user
// connected nowhere, once the Graph has stored it, within graphOkWait)
// and the other user gets a FriendRequest, now or when it connects while
// the request stands. A new request to a user with MaxListSize requests
// standing is refused with ERROR_CODE_LIST_FULL; with a Graph, one to a
// user id that names no user is refused with ERROR_CODE_USER_NOT_FOUND,
// and one to a user who blocks the sender with ERROR_CODE_BLOCKED also
// while that user is away, all checked by Graph.Admit before the request
// is made. An acceptance by asking back is checked by Graph.Admit too
// while the user's friend list is not loaded whole, as AnswerFriend's
// is. A Remove of a
// user with whom the user's loaded lists hold no friendship or request
// is answered Ok and writes nothing (mayBeTiedLocked). Every AddFriend
// counts against the contact rate (allowContact). It runs on the member's
// loop.
func (so *Social) AddFriend(m *Member, id uint32, q *tickroomv1.AddFriend) error {
	if err := so.allowContact(m); err != nil {
		return err
	}
	return so.withContact(m, q.UserId, func(p *profile, uid, x string) error {
		return so.addFriendCheckedLocked(m, id, p, uid, x, q.Remove)
	})
}

// addFriendCheckedLocked serves AddFriend once the contact rate let it
// through: a new request, and an acceptance while uid's friend list is
// not loaded whole (acceptNeedsAdmitLocked), are made once Graph.Admit
// has checked them. The caller holds so.mu.
func (so *Social) addFriendCheckedLocked(m *Member, id uint32, p *profile, uid, x string, remove bool) error {
	if remove {
		so.dropPendingLocked(ChangeRequest, uid, x)
		so.dropPendingLocked(ChangeFriends, uid, x)
	}
	if remove || so.cfg.Graph == nil {
		return so.addFriendLocked(m, id, p, uid, x, remove, nil)
	}
	if so.newRequestLocked(p, uid, x) {
		return so.admitLocked(m, id, ChangeRequest, uid, x, func(p *profile, uid, x string, h *requestHold) error {
			return so.addFriendLocked(m, id, p, uid, x, false, h)
		})
	}
	if so.acceptNeedsAdmitLocked(p, uid, x) {
		return so.admitLocked(m, id, ChangeFriends, uid, x, func(p *profile, uid, x string, _ *requestHold) error {
			if so.newRequestLocked(p, uid, x) {
				// x's request went meanwhile: this is a new request,
				// checked as one.
				return so.addFriendCheckedLocked(m, id, p, uid, x, false)
			}
			return so.addFriendLocked(m, id, p, uid, x, false, nil)
		})
	}
	return so.addFriendLocked(m, id, p, uid, x, false, nil)
}

// acceptNeedsAdmitLocked reports whether uid (profile p) accepting x's
// friend request, by AnswerFriend or by asking back, needs Graph.Admit's
// count of uid's own friendships and requests in the store first
// (ChangeFriends): the acceptance turns x's row into a friendship counted
// against uid's list, and until that list is loaded whole
// (profile.friended; it is empty again on each login) the store may hold
// ties the list lacks, so only the store's count bounds it. Not when the
// friendship or uid's own request is counted already, nor when no
// request from x is known here (but for a user of another node, whose
// node answers), nor for a refusal for a block. The caller holds so.mu.
func (so *Social) acceptNeedsAdmitLocked(p *profile, uid, x string) bool {
	if so.cfg.Graph == nil || p.friended || has(p.friends, x) || has(p.requested, x) || so.blockedLocked(uid, x) {
		return false
	}
	if xp := so.users[x]; xp != nil && has(xp.friends, uid) {
		return false // the friendship is stored already
	}
	return has(p.incoming, x) || so.remoteLocked(x)
}

// newRequestLocked reports whether an AddFriend from uid (profile p) to x
// would make a new friend request, not answer one, find a friendship, or
// be refused for a block. The caller holds so.mu.
func (so *Social) newRequestLocked(p *profile, uid, x string) bool {
	if so.blockedLocked(uid, x) || has(p.friends, x) || has(p.requested, x) || has(p.incoming, x) {
		return false
	}
	xp := so.users[x]
	return xp == nil || !has(xp.friends, uid)
}

// requestsFullLocked reports whether MaxListSize friend requests from
// users other than uid stand for x as this node knows them: x's list when
// it is online here, else the requests of this node's online users. The
// caller holds so.mu.
func (so *Social) requestsFullLocked(uid, x string) bool {
	if xp := so.users[x]; xp != nil {
		return !has(xp.incoming, uid) && len(xp.incoming) >= so.cfg.MaxListSize
	}
	to := so.requestsTo[x]
	return !has(to, uid) && len(to) >= so.cfg.MaxListSize
}

// addFriendLocked serves AddFriend; a new request is saved under hold h
// (nil for none), which saveRequest, or remoteOfferLocked, then releases.
// The caller holds so.mu.
func (so *Social) addFriendLocked(m *Member, id uint32, p *profile, uid, x string, remove bool, h *requestHold) error {
	if remove {
		so.unfriendLocked(uid, x)
		so.ok(m, id)
		return nil
	}
	if so.blockedLocked(uid, x) {
		if has(so.blockedBy[x], uid) {
			return protocol.NewError(protocol.ErrorBlocked, "you block this user: unblock them first")
		}
		return protocol.NewError(protocol.ErrorBlocked, "")
	}
	if so.remoteLocked(x) {
		return so.remoteOfferLocked(m, id, p, uid, x, h)
	}
	if _, ok := p.friends[x]; ok {
		so.ok(m, id)
		so.host.Reply(m.conn, presenceMessage(so.presenceLocked(x, so.users[x])))
		return nil
	}
	xp := so.users[x]
	if has(p.incoming, x) || (xp != nil && has(xp.friends, uid)) {
		// x asked first, or counts uid as a friend already: both agree.
		return so.befriendLocked(m, id, p, x, xp)
	}
	if _, ok := p.requested[x]; !ok {
		if len(p.friends)+len(p.requested) >= so.cfg.MaxListSize {
			return protocol.NewError(protocol.ErrorListFull, "")
		}
		if so.requestsFullLocked(uid, x) {
			return errRequestsFull()
		}
		if p.requested == nil {
			p.requested = make(map[string]int64)
		}
		now := so.host.Now().UnixMilli()
		p.requested[x] = now
		link(so.requestsTo, x, uid)
		so.tieElsewhereLocked(uid, x, tieAsked, nil)
		if xp == nil {
			so.okOnceSaved(m, id, func(done func()) { so.saveRequest(h, uid, x, done) })
			return nil
		}
		so.saveRequest(h, uid, x, nil)
		xp.addIncoming(Request{From: uid, Name: p.name, AtMs: now})
		req := so.requestMessage(uid, p.name, now)
		so.host.Send(req, memberConns(xp))
		so.tieElsewhereLocked(x, uid, tieAskedBy, req)
	}
	so.ok(m, id)
	return nil
}

// AnswerFriend accepts or declines the standing friend request of a user.
// With a Graph, an acceptance while the user's friend list is not loaded
// whole is first checked by Graph.Admit against the user's own rows
// (acceptNeedsAdmitLocked): ERROR_CODE_LIST_FULL past MaxListSize,
// ERROR_CODE_UNAVAILABLE when the store cannot be read. It counts against
// the contact rate (allowContact). It runs on the member's loop.
func (so *Social) AnswerFriend(m *Member, id uint32, q *tickroomv1.AnswerFriend) error {
	if err := so.allowContact(m); err != nil {
		return err
	}
	return so.withContact(m, q.UserId, func(p *profile, uid, x string) error {
		if !q.Accept {
			so.dropPendingLocked(ChangeFriends, uid, x)
		} else if so.acceptNeedsAdmitLocked(p, uid, x) {
			return so.admitLocked(m, id, ChangeFriends, uid, x, func(p *profile, uid, x string, _ *requestHold) error {
				return so.answerLocked(m, id, p, uid, x, true)
			})
		}
		return so.answerLocked(m, id, p, uid, x, q.Accept)
	})
}

// answerLocked serves AnswerFriend. The caller holds so.mu.
func (so *Social) answerLocked(m *Member, id uint32, p *profile, uid, x string, accept bool) error {
	if so.remoteLocked(x) {
		return so.remoteAnswerLocked(m, id, p, uid, x, accept)
	}
	if !has(p.incoming, x) {
		return protocol.NewError(protocol.ErrorUserNotFound, "no friend request from that user")
	}
	xp := so.users[x] // nil: the requester is offline
	if accept {
		return so.befriendLocked(m, id, p, x, xp)
	}
	delete(p.incoming, x)
	so.noteEndedLocked(so.unfriended, p, x, &p.unfriendedLost)
	unlink(so.requestsTo, uid, x)
	so.save(ChangeUnfriend, x, uid)
	so.tieElsewhereLocked(uid, x, tieEnded, nil)
	so.ok(m, id)
	if xp != nil {
		delete(xp.requested, uid)
		answer := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_FriendAnswer{
			FriendAnswer: &tickroomv1.FriendAnswer{UserId: uid, Name: p.name},
		}}
		so.host.Send(answer, memberConns(xp))
		so.tieElsewhereLocked(x, uid, tieEnded, answer)
	}
	return nil
}

// befriendLocked makes m's user and x friends, both having agreed: each
// watches the other. m is answered Ok and x's presence; x, when online
// (xp not nil), is told with FriendAnswer and m's user's presence, else it
// finds the friendship in the Graph when it comes back (and m's answer
// waits for the Graph to have it: okWhenSaved). The caller holds so.mu.
func (so *Social) befriendLocked(m *Member, id uint32, p *profile, x string, xp *profile) error {
	uid := m.user
	if !has(p.requested, x) && len(p.friends)+len(p.requested) >= so.cfg.MaxListSize {
		return protocol.NewError(protocol.ErrorListFull, "")
	}
	if xp != nil && !has(xp.requested, uid) && !has(xp.friends, uid) && len(xp.friends)+len(xp.requested) >= so.cfg.MaxListSize {
		return protocol.NewError(protocol.ErrorListFull, "that user's friend list is full")
	}
	for _, side := range []struct {
		from string
		p    *profile
		to   string
	}{{uid, p, x}, {x, xp, uid}} {
		unlink(so.requestsTo, side.to, side.from)
		if side.p == nil {
			continue
		}
		delete(side.p.requested, side.to)
		delete(side.p.incoming, side.to)
		if side.p.friends == nil {
			side.p.friends = make(map[string]struct{})
		}
		side.p.friends[side.to] = struct{}{}
		link(so.watchers, side.to, side.from)
	}
	// The user's other connections (MultipleSockets) list the new friend
	// at once too, as they get its changes from now on; m gets it after
	// its answer. So do those on its other nodes.
	pr := presenceMessage(so.presenceLocked(x, xp))
	if others := otherConns(p, m); len(others) > 0 {
		so.host.Send(pr, others)
	}
	so.tieElsewhereLocked(uid, x, tieFriends, nil)
	if xp == nil {
		// x is connected nowhere: it reads the friendship from the store
		// when it comes back, maybe at once on another node.
		so.okWhenSaved(m, id, ChangeFriends, x, uid, pr)
		return nil
	}
	so.save(ChangeFriends, x, uid)
	so.ok(m, id)
	so.host.Reply(m.conn, pr)
	conns := memberConns(xp)
	answer := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_FriendAnswer{
		FriendAnswer: &tickroomv1.FriendAnswer{UserId: uid, Name: p.name, Accepted: true},
	}}
	so.host.Send(answer, conns)
	so.host.Send(presenceMessage(so.presenceLocked(uid, p)), conns)
	so.tieElsewhereLocked(x, uid, tieFriends, answer)
	return nil
}

// unfriendLocked ends any friendship or request between a (a user of
// this node) and b, both ways, b's side on its node when it is on
// another; with users shared across nodes (Config.SharedUsers), on the
// other nodes of each as well, where its lists kept the tie until its
// next login there. When none may exist (mayBeTiedLocked), it does
// nothing: no store write, no op to another node. The caller holds so.mu.
func (so *Social) unfriendLocked(a, b string) {
	if !so.mayBeTiedLocked(a, b) {
		return
	}
	so.save(ChangeUnfriend, a, b)
	if so.remoteLocked(b) || so.shared() {
		so.peers.Cast(&RemoteOp{Kind: OpUnfriend, From: a, To: b})
	}
	if so.shared() {
		so.peers.Cast(&RemoteOp{Kind: OpUnfriend, From: b, To: a})
	}
	so.unfriendLocalLocked(a, b)
}

// mayBeTiedLocked reports whether a friendship or friend request, either
// way, may stand between a (a user of this node) and b: this node knows
// of one, or a's lists may lack one the store holds. They may until the
// Graph's load of a's side has ended with all of it (profile.listed): the
// load has not ended yet, or failed, or met MaxListSize; so a Remove sent
// before then is written as before, held only by the contact rate. Without
// a Graph the lists live in memory and listed stays false: there is no
// store to write to, and in a cluster the other node still hears of the
// Remove, as its side may outlive a's lists. In a cluster a user b not
// on this node may have made a request the store does not have yet (on
// its node's write queue when a's lists were read) that its node showed
// a, so a Remove of a user of another node is always carried. The caller
// holds so.mu.
func (so *Social) mayBeTiedLocked(a, b string) bool {
	p := so.users[a]
	if p == nil || !p.listed || so.remoteLocked(b) {
		return true
	}
	if has(p.friends, b) || has(p.requested, b) || has(p.incoming, b) {
		return true
	}
	if bp := so.users[b]; bp != nil && (has(bp.friends, a) || has(bp.requested, a) || has(bp.incoming, a)) {
		return true
	}
	return has(so.requestsTo[a], b) || has(so.watchers[a], b)
}

// unfriendLocalLocked ends any friendship or request between a and b
// as this node knows them. The caller holds so.mu.
func (so *Social) unfriendLocalLocked(a, b string) {
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		if p := so.users[from]; p != nil {
			so.noteEndedLocked(so.unfriended, p, to, &p.unfriendedLost)
			delete(p.friends, to)
			if n, ok := p.remote[to]; ok {
				// Not a friend: NodesLive has nothing to tell of it.
				delete(p.remote, to)
				so.unnoteNodeLocked(n.node)
			}
			delete(p.requested, to)
			delete(p.incoming, to)
		}
		unlink(so.watchers, to, from)
		unlink(so.requestsTo, to, from)
	}
}

// blockedLocked reports whether a blocked b or b blocked a. The caller
// holds so.mu.
func (so *Social) blockedLocked(a, b string) bool {
	return has(so.blockedBy[a], b) || has(so.blockedBy[b], a)
}

// requestMessage is a FriendRequest from uid.
func (so *Social) requestMessage(uid, name string, sentAtMs int64) *tickroomv1.ServerMessage {
	return &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_FriendRequest{
		FriendRequest: &tickroomv1.FriendRequest{FromUserId: uid, FromName: name, SentAtMs: sentAtMs},
	}}
}

// pendingRequestsLocked sends m the friend requests standing for its user.
// The caller holds so.mu.
func (so *Social) pendingRequestsLocked(m *Member) {
	if p := so.users[m.user]; p != nil {
		for _, r := range p.incoming {
			so.host.Reply(m.conn, so.requestMessage(r.From, r.Name, r.AtMs))
		}
	}
}

// errRequestsFull refuses a friend request to a user with MaxListSize
// requests standing.
func errRequestsFull() *protocol.Error {
	return protocol.NewError(protocol.ErrorListFull, "that user has too many friend requests waiting")
}

func presenceMessage(pr *tickroomv1.Presence) *tickroomv1.ServerMessage {
	return &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Presence{Presence: pr}}
}

// memberConns returns the connections of p's members.
func memberConns(p *profile) []*server.Conn {
	conns := make([]*server.Conn, 0, len(p.members))
	for _, m := range p.members {
		conns = append(conns, m.conn)
	}
	return conns
}

// otherConns returns the connections of p's members other than m.
func otherConns(p *profile, m *Member) []*server.Conn {
	conns := make([]*server.Conn, 0, len(p.members))
	for _, o := range p.members {
		if o != m {
			conns = append(conns, o.conn)
		}
	}
	return conns
}

// has reports whether set holds k.
func has[V any](set map[string]V, k string) bool {
	_, ok := set[k]
	return ok
}

// QueryPresence answers the status of up to MaxPresenceQuery users, in the
// order asked: in full for friends, online or offline for anyone else, and
// offline for a user blocked either way. The users named count against
// the connection's presence rate (PresenceRate, PresenceBurst), and those
// of other nodes against the answers it may await (MaxPresenceAwaiting);
// a query past either is refused whole with ERROR_CODE_RATE_LIMITED and a
// retry hint. It runs on the member's loop.
func (so *Social) QueryPresence(m *Member, id uint32, q *tickroomv1.QueryPresence) error {
	if id == 0 {
		return nil // the answer is all a query does, and none is wanted
	}
	ids := q.UserIds
	if len(ids) > so.cfg.MaxPresenceQuery {
		ids = ids[:so.cfg.MaxPresenceQuery]
	}
	if err := so.allowPresence(m, len(ids)); err != nil {
		so.stats.PresenceRefused.Add(1)
		return err
	}
	out := &tickroomv1.PresenceList{Users: make([]*tickroomv1.Presence, 0, len(ids))}
	var remote []int // indexes of users to ask other nodes about
	so.mu.Lock()
	me := so.users[m.user]
	for _, u := range ids {
		pr := so.presenceLocked(u, so.users[u])
		if u != m.user && so.remoteLocked(u) && !has(so.blockedBy[u], m.user) {
			remote = append(remote, len(out.Users))
			out.Users = append(out.Users, pr)
			continue
		}
		switch {
		case u == m.user || (me != nil && has(me.friends, u)):
		case so.blockedLocked(m.user, u):
			pr = &tickroomv1.Presence{UserId: u, Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE}
		default:
			// Not a friend: online or offline, nothing more.
			pr = publicPresence(pr)
		}
		out.Users = append(out.Users, pr)
	}
	so.mu.Unlock()
	if len(remote) > 0 {
		return so.queryRemote(m, id, out, remote)
	}
	so.host.Reply(m.conn, &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_PresenceList{PresenceList: out}})
	return nil
}

// allowPresence takes n users named by a presence query from m's budget,
// or refuses the query with ERROR_CODE_RATE_LIMITED and when it would
// pass, taking nothing. It runs on the member's loop.
func (so *Social) allowPresence(m *Member, n int) error {
	l := so.limits.limiter(m, func(l *limiters) **rate.Limiter { return &l.presence }, rate.Limit(so.cfg.PresenceRate), so.cfg.PresenceBurst)
	// n <= MaxPresenceQuery <= PresenceBurst
	if wait := so.take(l, n); wait > 0 {
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "presence query rate limit exceeded"}
	}
	return nil
}

// take takes n tokens from l now and returns zero, or takes none and
// returns how long until they would be there (an hour when they never
// would).
func (so *Social) take(l *rate.Limiter, n int) time.Duration {
	now := so.host.Now()
	r := l.ReserveN(now, n)
	wait := r.DelayFrom(now)
	if !r.OK() {
		wait = time.Hour
	}
	if wait > 0 {
		r.CancelAt(now)
	}
	return wait
}

// allowContact applies the contact rate limits, m's user's (ContactRate,
// ContactBurst) and, unless AddressExempt exempts it, its client
// address's (ContactAddressRate, ContactAddressBurst), to one friend
// request, answer or removal, block or unblock of m, or
// refuses it with ERROR_CODE_RATE_LIMITED and when it would pass. It runs
// on the member's loop.
func (so *Social) allowContact(m *Member) error {
	if wait := so.take(so.limits.limiter(m, func(l *limiters) **rate.Limiter { return &l.contact }, rate.Limit(so.cfg.ContactRate), so.cfg.ContactBurst), 1); wait > 0 {
		so.stats.ContactRefused.Add(1)
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "friend and block requests rate limit exceeded"}
	}
	// After the user's, so that a user over its own rate takes nothing
	// from its address's.
	if addr := m.addr(); !so.exempt(m) {
		if ok, wait := so.contactAddrs.Allow(addr, so.host.Now()); !ok {
			so.stats.ContactRefused.Add(1)
			return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "friend and block requests from this address rate limit exceeded"}
		}
	}
	return nil
}

// Presence returns a user's current status. Safe from any goroutine.
func (so *Social) Presence(userID string) *tickroomv1.Presence {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.presenceLocked(userID, so.users[userID])
}

// IsFriend reports whether user, online, counts other as an accepted
// friend. Safe from any goroutine.
func (so *Social) IsFriend(user, other string) bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[user]
	return p != nil && has(p.friends, other)
}
