package social

import (
	"context"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Inbox keeps direct messages sent to users who are offline, and hands
// them over at the recipient's next login. Keep and Take run on
// goroutines of their own and may wait on a database.
type Inbox interface {
	// Keep checks that the recipient exists and does not block the
	// sender, then stores the message (without waiting for the write);
	// d.Written, when not nil, is called once a message it took is
	// written or given up. It returns a *protocol.Error to tell the
	// sender why not.
	Keep(ctx context.Context, d Stored) error
	// Take returns the messages kept for user, oldest first.
	Take(ctx context.Context, user string) ([]Stored, error)
	// Done removes user's messages with the IDs given, those Take
	// returned, once they were handed over: never another, as a message
	// with a lower ID may be kept after Take read (a store that takes IDs
	// before its writes commit, in a cluster).
	Done(ctx context.Context, user string, ids []int64) error
}

// Stored is a direct message kept for an offline user.
type Stored struct {
	ID             int64 // assigned by the Inbox
	From, FromName string
	To, Text       string
	At             time.Time
	// Written, when not nil, is called once, when the Inbox has written
	// the message or given it up: from any goroutine, and it must not
	// block.
	Written func()
}

// inboxTimeout bounds one Keep, Take or Done.
const inboxTimeout = 10 * time.Second

// Direct messages to users connected nowhere awaiting Inbox.Keep: at
// most maxKeepsPerMember for one connection and maxKeeps on the node, so
// that a stalled store holds a bounded number of goroutines and of reads
// waiting on it (as maxAdmitsPerMember and maxAdmits bound friend
// requests'). The first is above the default chat burst (ChatBurst, 10),
// so a burst of messages to offline users is never refused while the
// store answers.
const (
	maxKeepsPerMember = 16
	maxKeeps          = 1024
)

// startKeep counts a Keep about to start for m, or refuses it: with
// ERROR_CODE_UNAVAILABLE (the Inbox's own refusal when it cannot keep a
// message) and a retry hint when m or the node has too many waiting, with
// ERROR_CODE_RATE_LIMITED and a retry hint when m's client address is
// over its rate of kept messages (Config.OfflineAddressRate). The rate is
// charged last, only for a message that is kept, so that the retries of
// a message refused while the store is stalled take none of it. It never
// blocks. A started one is counted down by keepDirect.
func (so *Social) startKeep(m *Member) *protocol.Error {
	switch claim(&m.keeping, &so.keeping, maxKeepsPerMember, maxKeeps) {
	case memberFull:
		so.stats.DirectBusy.Add(1)
		return &protocol.Error{Code: protocol.ErrorUnavailable, RetryAfter: time.Second, Message: "direct messages of yours to offline users are still being kept; try again"}
	case nodeFull:
		so.stats.DirectBusy.Add(1)
		return &protocol.Error{Code: protocol.ErrorUnavailable, RetryAfter: time.Second, Message: "too many direct messages to offline users are being kept; try again"}
	}
	if addr := m.addr(); !so.exempt(m) {
		if ok, wait := so.offlineAddrs.Allow(addr, so.host.Now()); !ok {
			unclaim(&m.keeping, &so.keeping)
			return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "direct messages to offline users from this address rate limit exceeded"}
		}
	}
	return nil
}

// keepDirect stores a direct message for an offline recipient and answers
// the sender: Ok once it is stored, or the reason it is not. startKeep
// counted it. The sender is answered once the message is queued for the
// write, and a recipient that comes online before the write reads its
// inbox without it: once written, it is read again (rereadInbox). It
// runs on a goroutine of its own.
func (so *Social) keepDirect(m *Member, id uint32, d Stored) {
	defer unclaim(&m.keeping, &so.keeping)
	ctx, cancel := context.WithTimeout(context.Background(), inboxTimeout)
	defer cancel()
	to := d.To
	d.Written = func() {
		go so.rereadInbox(to)
		if so.peers != nil {
			// The recipient may have logged in on another node meanwhile.
			so.peers.Cast(&RemoteOp{Kind: OpReadInbox, To: to})
		}
	}
	if err := so.cfg.Inbox.Keep(ctx, d); err != nil {
		pe := asProtocolError(err)
		if pe.Code == protocol.ErrorBlocked {
			so.stats.DirectRefused.Add(1)
		}
		so.fail(m, id, pe)
		return
	}
	so.stats.DirectStored.Add(1)
	so.ok(m, id)
}

// rereadInbox hands uid, if it is online here and the read of its inbox
// has started, the direct messages kept for it since: one was written
// that the read may have missed. Safe from any goroutine.
func (so *Social) rereadInbox(uid string) {
	so.mu.Lock()
	defer so.mu.Unlock()
	if p := so.users[uid]; p != nil {
		so.rereadInboxLocked(uid, p)
	}
}

// rereadInboxLocked is rereadInbox for uid's profile p. The caller holds
// so.mu.
func (so *Social) rereadInboxLocked(uid string, p *profile) {
	if p.inboxed {
		so.oneAtATimeLocked(so.inboxes, uid, p, so.deliverInbox)
	}
}

// deliverInbox hands uid the direct messages kept while it was offline,
// if p is still the user's, and removes them from the Inbox first: a
// message is delivered at most once (lost if every connection of the user
// closes between the two). A read that fails (the store out of reach) is
// tried again, as the user's lists are (graphLoadRetry), while the user
// stays online. It runs on a goroutine of its own.
func (so *Social) deliverInbox(uid string, p *profile) {
	// Gone meanwhile: its next login takes them.
	so.whileOnline(uid, p, func() bool { return so.takeInbox(uid, p) })
}

// takeInbox is one try of deliverInbox; it reports false when the Inbox
// could not be read.
func (so *Social) takeInbox(uid string, p *profile) bool {
	ctx, cancel := context.WithTimeout(context.Background(), inboxTimeout)
	defer cancel()
	kept, err := so.cfg.Inbox.Take(ctx, uid)
	if err != nil {
		so.stats.InboxErrors.Add(1)
		return false
	}
	if len(kept) == 0 {
		return true
	}
	so.mu.Lock()
	gone := so.users[uid] != p
	so.mu.Unlock()
	if gone {
		return true // its next login takes them
	}
	// Removed before they are sent, so that none is ever delivered twice.
	ids := make([]int64, len(kept))
	for i, d := range kept {
		ids[i] = d.ID
	}
	if err := so.cfg.Inbox.Done(ctx, uid, ids); err != nil {
		so.stats.InboxErrors.Add(1)
		return false
	}
	for _, d := range kept {
		dm := &tickroomv1.DirectMessage{
			Id: so.directID(), FromUserId: d.From, FromName: d.FromName,
			ToUserId: uid, Text: d.Text, SentAtMs: d.At.UnixMilli(),
		}
		so.host.SendToUser(uid, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_DirectMessage{DirectMessage: dm}})
		so.stats.DirectMessages.Add(1)
	}
	return true
}
