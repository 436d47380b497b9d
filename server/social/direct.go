package social

import (
	"strings"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// SendDirect delivers a private message to every connection of an online
// user, Reliable, unless the recipient blocked the sender. Text holding a
// NUL is refused with ERROR_CODE_BAD_REQUEST wherever the recipient is,
// as no Inbox keeps it. With an Inbox,
// a message to a user connected nowhere is kept and delivered at its next
// login, and the sender gets Ok once it is kept; without one the sender
// gets ERROR_CODE_USER_OFFLINE; while too many messages of the member
// or of the node await the Inbox (startKeep), ERROR_CODE_UNAVAILABLE,
// and past the rate of messages kept for the member's client address
// (Config.OfflineAddressRate), ERROR_CODE_RATE_LIMITED, each with a
// retry hint. A message to a user online here, or on another node,
// from a user who is not its friend takes from the recipient's bucket of
// such messages there (allowDirectLocked), and past it is refused with
// ERROR_CODE_RATE_LIMITED and a retry hint, not delivered. A recipient
// connected here may be connected on other nodes too (SharedUsers): the
// message goes to them as well (deliverElsewhere), each checking it on
// its own, and the sender gets Ok once one of the nodes delivered it.
// Direct messages give no presence (only friends see it). It runs on the
// member's loop.
func (so *Social) SendDirect(m *Member, id uint32, q *tickroomv1.SendDirect) error {
	from := m.user
	switch {
	case q.ToUserId == "":
		return protocol.NewError(protocol.ErrorUserNotFound, "no recipient")
	case q.ToUserId == from:
		return protocol.NewError(protocol.ErrorBadRequest, "cannot message yourself")
	}
	// No store keeps a NUL, so a message to a user connected nowhere
	// could not hold one; refused here, before the recipient is looked
	// at, it is refused alike wherever the recipient is, and the answer
	// tells the sender nothing of where that is.
	if strings.IndexByte(q.Text, 0) >= 0 {
		return protocol.NewError(protocol.ErrorBadRequest, "direct message text cannot hold a NUL character")
	}
	if err := so.admitText(m, q.Text); err != nil {
		return err
	}
	so.mu.Lock()
	to := so.users[q.ToUserId]
	// A friendship is both's: the sender's lists here may name it where
	// the recipient's do not (accepted on another node of a user
	// connected to several, or the recipient's lists not read).
	friend := false
	if fp := so.users[from]; fp != nil {
		friend = has(fp.friends, q.ToUserId)
	}
	if to == nil {
		so.mu.Unlock()
		if so.peers == nil {
			if so.cfg.Inbox == nil {
				return protocol.NewError(protocol.ErrorUserOffline, "")
			}
			if err := so.startKeep(m); err != nil {
				return err
			}
			go so.keepDirect(m, id, so.stored(m, q))
			return nil
		}
		dm := &tickroomv1.DirectMessage{
			Id: so.directID(), FromUserId: from, FromName: m.name,
			ToUserId: q.ToUserId, Text: q.Text, SentAtMs: so.host.Now().UnixMilli(),
		}
		msg := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_DirectMessage{DirectMessage: dm}}
		keep := so.stored(m, q)
		so.sendRemoteDirect(m, id, q.ToUserId, msg, &keep, friend, func() { so.stats.DirectMessages.Add(1) }, &so.stats.DirectRefused)
		return nil
	}
	if _, blocked := to.blocks[from]; blocked {
		so.mu.Unlock()
		so.stats.DirectRefused.Add(1)
		return protocol.NewError(protocol.ErrorBlocked, "")
	}
	// friend stays the sender's lists alone for the recipient's other
	// nodes: each goes by its own lists of the recipient, which may be
	// fresher than these (a friendship it ended there that this node has
	// not heard of yet).
	wait := so.allowDirectLocked(q.ToUserId, to, from, friend)
	so.mu.Unlock()
	if wait > 0 && !so.shared() {
		so.stats.ChatRefused.Add(1)
		return errStrangerDirect(wait)
	}
	dm := &tickroomv1.DirectMessage{
		Id: so.directID(), FromUserId: from, FromName: m.name,
		ToUserId: q.ToUserId, Text: q.Text, SentAtMs: so.host.Now().UnixMilli(),
	}
	msg := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_DirectMessage{DirectMessage: dm}}
	var refusal *protocol.Error
	if wait > 0 {
		refusal = errStrangerDirect(wait)
	}
	so.relay(m, id, q.ToUserId, msg, friend, refusal, func() { so.stats.DirectMessages.Add(1) }, &so.stats.ChatRefused)
	return nil
}

// Block adds a user to (or removes it from) the member's block list: the
// blocked user's direct messages are refused with ERROR_CODE_BLOCKED and
// its chat lines are not delivered to the member. With a Graph, blocking a
// user id that names no user is refused with ERROR_CODE_USER_NOT_FOUND,
// and a block past the maker's stored blocks with ERROR_CODE_LIST_FULL
// (Graph.Admit checks both first, unless the user is online here and the
// maker's blocks are loaded whole, profile.blocked, whatever its other
// lists); a block of a user online here that Admit could not check, the
// store out of reach, is made from memory all the same (admitThen). Blocking
// a user already blocked, and unblocking one not blocked while the user's
// lists are loaded whole (profile.listed), are answered Ok and write
// nothing, but for a block already listed of a user whose connections may
// be on other nodes too (SharedUsers): it is written and told to them
// again, as an unblock made there may be on its way. Every Block counts against the contact rate (allowContact). It
// runs on the member's loop.
func (so *Social) Block(m *Member, id uint32, q *tickroomv1.BlockUser) error {
	if err := so.allowContact(m); err != nil {
		return err
	}
	return so.withContact(m, q.UserId, func(p *profile, uid, x string) error {
		if q.Unblock {
			so.dropPendingLocked(ChangeBlock, uid, x)
		}
		// A user online here exists, and once the blocks are loaded
		// whole (profile.blocked; the friend lists may not be, as for a
		// user with more requests standing than a login reads) the block
		// list in memory is the store's: such a block needs no Admit.
		// Until then the store may hold blocks the list lacks (it is
		// empty again on each new login), and only Admit's count of them
		// bounds the list.
		if q.Unblock || so.cfg.Graph == nil || has(p.blocks, x) || (so.users[x] != nil && p.blocked) {
			return so.blockLocked(m, id, p, uid, x, q.Unblock)
		}
		return so.admitLocked(m, id, ChangeBlock, uid, x, func(p *profile, uid, x string, _ *requestHold) error {
			return so.blockLocked(m, id, p, uid, x, false)
		})
	})
}

// blockLocked serves Block. The caller holds so.mu.
func (so *Social) blockLocked(m *Member, id uint32, p *profile, uid, x string, unblock bool) error {
	if has(p.blocks, x) != unblock && (!unblock || p.listed) {
		// Blocked already (written when it was made), or not blocked
		// and the lists hold every block the store has: nothing to
		// write. Before the lists are loaded whole an Unblock is
		// written, as the store may hold the block. With the user's
		// connections on several nodes, an unblock made on another may
		// be on its way here: a block listed already is written and told
		// again, so that the one made last stands on the other nodes,
		// not the unblock.
		if !unblock && so.shared() {
			so.save(ChangeBlock, uid, x)
			so.tieElsewhereLocked(uid, x, tieBlocked, nil)
		}
		so.ok(m, id)
		return nil
	}
	if err := so.editListLocked(&p.blocks, so.blockedBy, uid, x, unblock); err != nil {
		return err
	}
	// The load under way may have read the store before this change is
	// written: an Unblock stands over the block it read.
	if unblock {
		so.noteEndedLocked(so.unblocked, p, x, &p.unblockedLost)
	} else {
		unlink(so.unblocked, p, x)
	}
	if unblock {
		so.save(ChangeUnblock, uid, x)
	} else {
		so.save(ChangeBlock, uid, x)
		so.unfriendLocked(uid, x) // presence stops both ways
	}
	change := tieBlocked
	if unblock {
		change = tieUnblocked
	}
	so.tieElsewhereLocked(uid, x, change, nil)
	so.ok(m, id)
	return nil
}

// withContact runs fn under so.mu with m's profile, m's user and target,
// once target is checked to be a user m may list.
func (so *Social) withContact(m *Member, target string, fn func(p *profile, uid, x string) error) error {
	so.mu.Lock()
	defer so.mu.Unlock()
	p, err := so.contactLocked(m, target)
	if err != nil {
		return err
	}
	return fn(p, m.user, target)
}

// contactLocked checks that target may go on m's lists and returns m's
// profile. The caller holds so.mu.
func (so *Social) contactLocked(m *Member, target string) (*profile, error) {
	if target == "" || target == m.user {
		return nil, protocol.NewError(protocol.ErrorUserNotFound, "")
	}
	p := so.users[m.user]
	if p == nil {
		return nil, protocol.NewError(protocol.ErrorInternal, "")
	}
	return p, nil
}

// editListLocked adds target to (or, with remove, removes it from) one of
// uid's lists and the reverse index index (target → users whose list holds
// it). An addition to a full list is refused with ERROR_CODE_LIST_FULL. The
// caller holds so.mu.
func (so *Social) editListLocked(list *map[string]struct{}, index map[string]map[string]struct{}, uid, target string, remove bool) error {
	if remove {
		delete(*list, target)
		unlink(index, target, uid)
		return nil
	}
	if _, ok := (*list)[target]; ok {
		return nil
	}
	if len(*list) >= so.cfg.MaxListSize {
		return protocol.NewError(protocol.ErrorListFull, "")
	}
	if *list == nil {
		*list = make(map[string]struct{})
	}
	(*list)[target] = struct{}{}
	link(index, target, uid)
	return nil
}

// stored is m's direct message q as an Inbox keeps it.
func (so *Social) stored(m *Member, q *tickroomv1.SendDirect) Stored {
	return Stored{From: m.user, FromName: m.name, To: q.ToUserId, Text: q.Text, At: so.host.Now()}
}

// allowDirectLocked takes a direct message from the user from toward the
// user to, connected here with profile p, from to's bucket of messages
// from users who are not its friends (Config.StrangerDirectRate), and
// returns zero; when the bucket is spent it takes nothing and returns how
// long until the message would pass (the caller counts the refusal, in
// ChatRefused, once the sender is refused). A friend's
// message (an accepted friendship; a request standing makes none) takes
// nothing: one that p's lists name, or that the sender's lists name
// (friend, told by the sender's node), as a friendship is both's and one
// side's lists on a node may lack it (accepted on another node of a user
// connected to several, or its lists not read). The bucket is the
// recipient's node's: a message from a user of another node takes from it
// when it arrives (Serve). The caller holds so.mu.
func (so *Social) allowDirectLocked(to string, p *profile, from string, friend bool) time.Duration {
	if friend || has(p.friends, from) {
		return 0
	}
	if ok, wait := so.strangerDMs.Allow(to, so.host.Now()); !ok {
		return max(wait, time.Millisecond)
	}
	return 0
}

// errStrangerDirect is the refusal of a direct message over its
// recipient's bucket of messages from users who are not its friends, to
// be retried after wait.
func errStrangerDirect(wait time.Duration) *protocol.Error {
	return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait,
		Message: "that user is being sent too many direct messages by users who are not its friends; try again later"}
}
