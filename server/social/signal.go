package social

import (
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Signaling limits: a call's setup is an offer, an answer and a few dozen
// ICE candidates, so a user may relay SignalRate messages a second
// with a burst of SignalBurst; the size of each is capped in the .proto
// (16 KiB of data).
//
// Those caps are per sender, and a recipient on a slow link has
// a 1 MiB budget of reliable output before it is closed as slow: one
// sender's burst (60 × 16 KiB) nearly fills it, two fill it. So the bytes
// of signaling toward one user, from all senders together, also take
// from a bucket of SignalInBurst refilled at SignalInRate bytes a second
// (golang.org/x/time/rate); a signal that would overdraw it is refused
// to its sender. The bucket is kept where the recipient is connected: a
// signal from a user of another node is charged by the recipient's node
// when it arrives (Serve), and the refusal goes back to the sender as
// from this node. A whole call's setup is a few KiB.
const (
	SignalRate  = 20
	SignalBurst = 60

	SignalInRate  = 32 << 10
	SignalInBurst = 128 << 10
)

// SendSignal relays a WebRTC signaling message (offer, answer, ICE
// candidate, hang-up) to every connection of another user, without reading
// it: voice between two players is set up over the connection they already
// have. The two must be players of one room (a spectator of it is not) or
// friends, and the recipient must not have blocked the sender; the sender
// is named by the server, so no one can pose as the other party of a
// call. A recipient connected here may be connected on other nodes too
// (SharedUsers): the signal goes to them as well (deliverElsewhere), and
// the sender gets Ok once one of the nodes delivered it. It runs on the
// member's loop.
func (so *Social) SendSignal(m *Member, id uint32, q *tickroomv1.SendSignal) error {
	from := m.user
	switch {
	case q.ToUserId == "" || q.ToUserId == from:
		return protocol.NewError(protocol.ErrorUserNotFound, "no other party")
	case q.CallId == "" || q.Kind == tickroomv1.SignalKind_SIGNAL_KIND_UNSPECIFIED:
		return protocol.NewError(protocol.ErrorBadRequest, "call_id and kind are required")
	}
	if wait := so.take(so.limits.limiter(m, func(l *limiters) **rate.Limiter { return &l.signal }, SignalRate, SignalBurst), 1); wait > 0 {
		so.stats.SignalRefused.Add(1)
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "signaling rate limit exceeded"}
	}
	so.mu.Lock()
	to, me := so.users[q.ToUserId], so.users[from]
	if to == nil && me != nil && so.peers != nil {
		// Players of one room share its node: a user elsewhere must be a
		// friend; its node checks its block list.
		_, friends := me.friends[q.ToUserId]
		so.mu.Unlock()
		if !friends {
			so.stats.SignalRefused.Add(1)
			return protocol.NewError(protocol.ErrorForbidden, "calls are between players of one room or friends")
		}
		sig := &tickroomv1.Signal{FromUserId: from, FromName: m.name, CallId: q.CallId, Kind: q.Kind, Data: q.Data}
		msg := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Signal{Signal: sig}}
		so.sendRemoteDirect(m, id, q.ToUserId, msg, nil, false, func() { so.stats.Signals.Add(1) }, &so.stats.SignalRefused)
		return nil
	}
	if to == nil || me == nil {
		so.mu.Unlock()
		return protocol.NewError(protocol.ErrorUserOffline, "")
	}
	if _, blocked := to.blocks[from]; blocked {
		so.mu.Unlock()
		so.stats.SignalRefused.Add(1)
		return protocol.NewError(protocol.ErrorBlocked, "")
	}
	_, friends := me.friends[q.ToUserId]
	if !friends && !playTogether(me, to) {
		so.mu.Unlock()
		so.stats.SignalRefused.Add(1)
		return protocol.NewError(protocol.ErrorForbidden, "calls are between players of one room or friends")
	}
	wait := so.takeSignalInLocked(to, len(q.Data))
	so.mu.Unlock()
	if wait > 0 && !so.shared() {
		so.stats.SignalRefused.Add(1)
		return errSignalBudget(wait)
	}
	sig := &tickroomv1.Signal{FromUserId: from, FromName: m.name, CallId: q.CallId, Kind: q.Kind, Data: q.Data}
	msg := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Signal{Signal: sig}}
	var refusal *protocol.Error
	if wait > 0 {
		refusal = errSignalBudget(wait)
	}
	// On the recipient's other nodes, each with its own budget: the two
	// were found players of one room or friends here, and each node
	// checks its block list.
	so.relay(m, id, q.ToUserId, msg, false, refusal, func() { so.stats.Signals.Add(1) }, &so.stats.SignalRefused)
	return nil
}

// takeSignalInLocked takes n bytes of signaling toward the user of p from
// its budget and returns zero, or, when they would overdraw it, takes
// nothing and returns how long until they would not. The caller holds
// so.mu.
func (so *Social) takeSignalInLocked(p *profile, n int) time.Duration {
	return so.take(lazy(&p.signalIn, SignalInRate, SignalInBurst), n)
}

// signalInWait is how long the budget of a recipient that has none left
// takes to refill n bytes: the retry hint for a signal of n bytes that the
// recipient's node refused.
func signalInWait(n int) time.Duration {
	return time.Duration(max(n, 1)) * time.Second / SignalInRate
}

// errSignalBudget is the refusal of a signal over its recipient's budget,
// to be retried after wait.
func errSignalBudget(wait time.Duration) *protocol.Error {
	return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "the recipient's signaling budget is spent"}
}

// playTogether reports whether two users hold player seats in one room.
// A spectator's seat does not count: anyone may watch a public room, and
// watching must not let a stranger call its players. The caller holds
// so.mu.
func playTogether(a, b *profile) bool {
	for _, ma := range a.members {
		for _, id := range ma.playing {
			for _, mb := range b.members {
				if slices.Contains(mb.playing, id) {
					return true
				}
			}
		}
	}
	return false
}
