package social

import "github.com/tickroom/tickroom/protocol/tickroomv1"

// The changes an OpTie tells (RemoteOp.Tie), each of To's with From. An
// OpTie carries what changed, never where To's lists on the sending node
// stand: those may be older than the receiver's (a node To just joined,
// a change made since on another node, which reaches the receiver through
// another queue, or through a call), and the receiver applies the change
// only where it still holds against its own lists (setTieLocked).
const (
	tieAsked     = "asked"     // To asked From for friendship
	tieAskedBy   = "asked-by"  // From asked To
	tieFriends   = "friends"   // a request between them was accepted
	tieEnded     = "ended"     // a request between them was declined
	tieBlocked   = "blocked"   // To blocked From
	tieUnblocked = "unblocked" // To unblocked From
)

// tieElsewhereLocked tells uid's other nodes, with users shared across
// nodes (Config.SharedUsers), of change, one of the OpTie changes, made
// here between uid and x (OpTie), through the cluster's queue of casts,
// which keeps this node's in the order made: its lists there kept the
// old tie until its next login there, its friend requests, friendships
// and blocks made or answered here unknown to its connections there. A
// block or unblock is told only for the user who made it. msg, when not
// nil, is what uid's connections there are told of the change, as its
// connections here were. The caller holds so.mu.
func (so *Social) tieElsewhereLocked(uid, x, change string, msg *tickroomv1.ServerMessage) {
	p := so.users[uid]
	if !so.shared() || p == nil {
		return
	}
	op := &RemoteOp{Kind: OpTie, From: x, To: uid, Tie: change}
	switch change {
	case tieAsked:
		op.AtMs = p.requested[x]
	case tieAskedBy:
		r := p.incoming[x]
		op.FromName, op.AtMs = r.Name, r.AtMs
	}
	if msg != nil {
		op.Message = encodeMessage(msg)
	}
	so.peers.Cast(op)
}

// setTieLocked applies to the lists here of x (profile xp) the change
// with op.From an OpTie tells, where it still holds against them, which
// may be fresher than those it was made against:
//
//   - a request (tieAsked, tieAskedBy) is listed only when x's lists here
//     hold no tie with op.From (a friendship, a request either way) and
//     neither blocks the other as far as this node knows (x's blocks;
//     op.From's only when connected here): a newer change made here, or
//     told first, stands;
//   - a friendship (tieFriends) is made only from a request listed here
//     between them, or, while x's lists are loading (notLoadedLocked),
//     when no tie between them ended here meanwhile (the load may have
//     read the store before the request was made or answered, and keeps
//     the friendship over what it read); and not when either blocks the
//     other: one ended since (a block, made on a third node, told first)
//     stays ended;
//   - a declined request (tieEnded) ends a request listed here, never a
//     friendship; one told while x's lists load (notLoadedLocked), with
//     no tie between them listed, is noted (Social.unfriended), so that
//     the load, which may have read the request before its decline was
//     written, leaves it out;
//   - only a block or unblock, told for the user who made it, changes x's
//     block; a block ends any friendship or request between them listed
//     here, even when the block was already listed; an unblock told while
//     x's lists load (notLoadedLocked) is noted (Social.unblocked), so
//     that the load, which may have read the block before the unblock was
//     written, leaves it out. An unblock told after a block made again
//     since on another node (the two told through different queues)
//     lifts that block, here or, noted, in the load: a race of the user's
//     own, listed in docs/cluster.md.
//
// Nothing listed past MaxListSize. When the lists changed, x's
// connections here are told op.Message, and a new friend's presence: this
// node's when the friend is connected here, else as its nodes answer
// (askRemotePresenceLocked). The caller holds so.mu.
func (so *Social) setTieLocked(x string, xp *profile, op *RemoteOp) {
	from := op.From
	tied := has(xp.friends, from) || has(xp.requested, from) || has(xp.incoming, from)
	switch op.Tie {
	case tieBlocked:
		if !has(xp.blocks, from) && so.editListLocked(&xp.blocks, so.blockedBy, x, from, false) != nil {
			return
		}
		unlink(so.unblocked, xp, from)
		// A block ends any tie between them, as on its node, even when
		// already listed here (read by the load after a friendship told
		// meanwhile was kept).
		so.unfriendLocalLocked(x, from)
		return
	case tieUnblocked:
		if !has(xp.blocks, from) {
			// While x's lists load, the load may yet read the block,
			// written before the unblock: noted, it is left out.
			so.noteEndedLocked(so.unblocked, xp, from, &xp.unblockedLost)
			return
		}
		delete(xp.blocks, from)
		unlink(so.blockedBy, from, x)
		so.noteEndedLocked(so.unblocked, xp, from, &xp.unblockedLost)
		return
	case tieAsked:
		if tied || so.blockedLocked(x, from) || len(xp.friends)+len(xp.requested) >= so.cfg.MaxListSize {
			return
		}
		if xp.requested == nil {
			xp.requested = make(map[string]int64)
		}
		// Not linked in requestsTo: the node it was made on sends it to
		// from when from comes online (OpOnline), once.
		xp.requested[from] = op.AtMs
	case tieAskedBy:
		if tied || so.blockedLocked(x, from) || len(xp.incoming) >= so.cfg.MaxListSize {
			return
		}
		xp.addIncoming(Request{From: from, Name: op.FromName, AtMs: op.AtMs})
	case tieFriends:
		asked := has(xp.requested, from)
		if has(xp.friends, from) || so.blockedLocked(x, from) {
			return
		}
		if !asked && !has(xp.incoming, from) && !so.loadingUnendedLocked(xp, from) {
			return
		}
		if !asked && len(xp.friends)+len(xp.requested) >= so.cfg.MaxListSize {
			return
		}
		delete(xp.incoming, from)
		so.addFriendSideLocked(x, xp, from)
	case tieEnded:
		if !has(xp.requested, from) && !has(xp.incoming, from) {
			if !tied {
				// While x's lists load, the load may yet read the
				// request, written before its decline: noted, it is
				// left out.
				so.noteEndedLocked(so.unfriended, xp, from, &xp.unfriendedLost)
			}
			return
		}
		delete(xp.requested, from)
		delete(xp.incoming, from)
		unlink(so.requestsTo, from, x)
		so.noteEndedLocked(so.unfriended, xp, from, &xp.unfriendedLost)
	default:
		return
	}
	conns := memberConns(xp)
	if len(op.Message) > 0 {
		so.deliverLocked(op.Message, conns)
	}
	if op.Tie != tieFriends {
		return
	}
	if fp := so.users[from]; fp != nil {
		so.host.Send(presenceMessage(so.presenceLocked(from, fp)), conns)
		return
	}
	so.askRemotePresenceLocked(x, xp, []string{from}, func(m *tickroomv1.ServerMessage) { so.host.Send(m, memberConns(xp)) })
}

// loadingUnendedLocked reports whether xp's lists are loading
// (notLoadedLocked) and no tie of its user with x ended meanwhile, as far
// as its notes tell (Social.unfriended, profile.unfriendedLost). The
// caller holds so.mu.
func (so *Social) loadingUnendedLocked(xp *profile, x string) bool {
	return so.notLoadedLocked(xp) && !xp.unfriendedLost && !has(so.unfriended[xp], x)
}
