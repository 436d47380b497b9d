package social

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// Peers reaches the users connected to the other nodes of a cluster. A
// request about a user with no connection here goes to the nodes where the
// user is connected, as a RemoteOp that those nodes run with Serve; a
// lobby channel's lines go through the cluster to every node with members
// in it. Its methods never block: the cluster's work runs on its own
// goroutines, and callbacks run there too. The zero Config (no Peers) is
// one node, where every user is local.
type Peers interface {
	// Call runs each op on the nodes where its To is connected (an op
	// with Elsewhere set, on those other than this one) and calls done
	// once with the answers, in order: an op whose user is connected
	// nowhere (else) is answered ERROR_CODE_USER_OFFLINE, one that could
	// not be carried (Redis down, no answer in time) has Err set.
	Call(ops []*RemoteOp, done func([]RemoteAnswer))
	// Cast sends op to the nodes other than this one where its To is
	// connected, or with an empty To to every other node, and expects no
	// answer. Those other than OpPresence reach each node in the order
	// they were made.
	Cast(op *RemoteOp)
	// JoinChannel subscribes this node to a lobby channel; ready is called
	// once every line posted after it reaches this node, or with an error
	// when that cannot be known (Redis down).
	JoinChannel(name string, ready func(error))
	// LeaveChannel unsubscribes this node from a lobby channel.
	LeaveChannel(name string)
	// PostChannel publishes a lobby channel line to every node in the
	// channel, this one included, which gets it back through
	// Social.ChannelLine; exclude is a connection of this node not to
	// deliver it to (0 for none); line.Id is the channel's last id on this
	// node, which the line's id must exceed. It returns an error, or calls
	// failed later, when the line cannot be published.
	PostChannel(name string, line *tickroomv1.Chat, exclude uint64, failed func(error)) error
}

// PresenceAsker is what Peers may also do: ask the presence of friends,
// users of other nodes, for a user who logs in (or opens one more
// connection), and call done once with the answers, in order, as Call
// does with one OpQueryPresence from the user to each friend. Unlike
// Call, it is never refused for want of room: a mass login's questions
// wait their turn. Peers without it get Call.
type PresenceAsker interface {
	AskPresence(from string, friends []string, done func([]RemoteAnswer))
}

// OpKind names what a RemoteOp asks.
type OpKind string

// The remote operations.
const (
	// OpDeliver delivers Message to To's connections unless To blocked
	// From (a direct message or a call signal); a call signal also takes
	// its data from To's signaling budget, and a direct message from a
	// user who is not To's friend (neither To's lists here nor Friend
	// say so) one from To's bucket of such messages
	// (Config.StrangerDirectRate) when DirectRate is set: each is
	// refused ERROR_CODE_RATE_LIMITED when that is spent.
	OpDeliver OpKind = "deliver"
	// OpNotice delivers Message to To's connections, or with an empty To
	// to every connection of the node.
	OpNotice OpKind = "notice"
	// OpPresence tells To of From's Presence when they are friends.
	OpPresence OpKind = "presence"
	// OpFriendOffer is From's AddFriend for To.
	OpFriendOffer OpKind = "friend-offer"
	// OpFriendAnswer is From's AnswerFriend (Accept) to To's request.
	OpFriendAnswer OpKind = "friend-answer"
	// OpUnfriend ends any friendship or request between From and To.
	OpUnfriend OpKind = "unfriend"
	// OpQueryPresence asks To's Presence as From may see it.
	OpQueryPresence OpKind = "presence-query"
	// OpOnline tells every node that From connected: a node whose users
	// have a friend request standing for From sends it to From.
	OpOnline OpKind = "online"
	// OpReadInbox tells To's node that a direct message kept for To was
	// written (or given up) after To's login there may have read its
	// inbox: the node reads it again.
	OpReadInbox OpKind = "read-inbox"
	// OpRecheck tells every other node that the sending node lost Redis
	// for a while, when presence pushes it made may not have left it: the
	// users there whose friends were last told online on it ask their
	// presence again (Social.RemoteFriends, Social.Rechecked). The
	// cluster serves it; Serve does not.
	OpRecheck OpKind = "recheck"
	// OpTie tells To's other nodes, where it may be connected too
	// (Config.SharedUsers), of a change between To and From made on the
	// sending node (a friend request, its answer, a block or unblock):
	// Tie names it (tieAsked, ...). Each applies it to To's lists there
	// only where it still holds against them (setTieLocked), and tells
	// To's connections there Message (a FriendRequest, a FriendAnswer)
	// and a new friend's presence. A node of an older version drops it:
	// To's lists there keep the old tie until To's next login there.
	OpTie OpKind = "tie-change"
)

// RemoteOp is a request about a user connected to another node.
type RemoteOp struct {
	Kind     OpKind `json:"k"`
	From     string `json:"f,omitempty"`
	FromName string `json:"fn,omitempty"`
	To       string `json:"t,omitempty"`
	// Accept answers a friend request (OpFriendAnswer).
	Accept bool `json:"a,omitempty"`
	// AtMs is when a friend request was made (Unix ms).
	AtMs int64 `json:"at,omitempty"`
	// Message is an encoded ServerMessage to deliver.
	Message []byte `json:"m,omitempty"`
	// Presence is From's encoded Presence.
	Presence []byte `json:"p,omitempty"`
	// Friend tells, with a direct message (OpDeliver), that From's lists
	// on the sending node name To as a friend (To's lists there, when it
	// is connected there too, are not told: each of its nodes goes by its
	// own, which may be fresher): To's node does not charge
	// it to To's bucket of messages from users who are not its friends,
	// though its own lists of To may not name From (a friendship
	// accepted on another node of a user connected to several, whose
	// OpTie has not come yet, or lists not read).
	Friend bool `json:"fr,omitempty"`
	// DirectRate tells, with a direct message (OpDeliver), that the
	// sending node takes ERROR_CODE_RATE_LIMITED for the refusal of To's
	// bucket of messages from users who are not its friends, with
	// RemoteAnswer.RetryAfterMs: To's node charges that bucket only for
	// ops that say so. A node of an older version says nothing, and took
	// any such answer for the refusal of a signal's budget (its message,
	// a retry hint of a millisecond, counted as blocked): its direct
	// messages pass uncharged, in a rolling deploy, until it is upgraded.
	DirectRate bool `json:"dr,omitempty"`
	// Tie is the change an OpTie tells: tieAsked, tieAskedBy,
	// tieFriends, tieEnded, tieBlocked or tieUnblocked.
	Tie string `json:"ti,omitempty"`
	// Elsewhere has Call run the op only on To's nodes other than this
	// one: a message this node refused, or a notice it delivered to To's
	// connections here, for those of To's other nodes
	// (Config.SharedUsers). It does not travel.
	Elsewhere bool `json:"-"`
	// Node is the node that sent the op, set by the node that serves it;
	// it does not travel.
	Node string `json:"-"`
}

// RemoteAnswer is a node's answer to a RemoteOp.
type RemoteAnswer struct {
	// Code is the refusal; zero means done.
	Code protocol.ErrorCode `json:"c,omitempty"`
	// Friends tells that a friend offer or answer made the two friends.
	Friends bool `json:"fr,omitempty"`
	// Name is the answering user's display name.
	Name string `json:"n,omitempty"`
	// Presence is the answering user's encoded Presence.
	Presence []byte `json:"p,omitempty"`
	// Delivered counts the connections a message was queued on.
	Delivered int `json:"d,omitempty"`
	// RetryAfterMs is when a message refused ERROR_CODE_RATE_LIMITED
	// would pass: a direct message over its recipient's bucket of
	// messages from users who are not its friends.
	RetryAfterMs uint32 `json:"ra,omitempty"`
	// Err is set when the op could not be carried; it is not sent.
	Err error `json:"-"`
	// Node is the node that answered, set by the node that asked; it does
	// not travel.
	Node string `json:"-"`
}

// errUnavailable is the refusal of a request that needs another node
// while the cluster cannot be reached.
func errUnavailable() *protocol.Error {
	return protocol.NewError(protocol.ErrorUnavailable, "the cluster cannot be reached; try again")
}

// answerError is the refusal an answer carries, nil when it is none.
func answerError(a RemoteAnswer) *protocol.Error {
	switch {
	case a.Err != nil:
		return errUnavailable()
	case a.Code != 0:
		return protocol.NewError(a.Code, "")
	}
	return nil
}

// fail answers request id of m with err. Safe from any goroutine.
func (so *Social) fail(m *Member, id uint32, err *protocol.Error) {
	if id == 0 {
		return
	}
	so.host.Reply(m.conn, &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Error{Error: &tickroomv1.Error{
		Code: tickroomv1.ErrorCode(err.Code), Message: err.Text(),
		// Rounded up, as the hub's replies: a wait under a millisecond is
		// still a wait.
		RetryAfterMs: limits.RetryAfterMillis(err.RetryAfter),
	}}})
}

// remote reports whether userID is on another node as far as this one can
// tell: a cluster runs and the user has no connection here. The caller
// holds so.mu.
func (so *Social) remoteLocked(userID string) bool {
	return so.peers != nil && so.users[userID] == nil
}

func encodeMessage(m *tickroomv1.ServerMessage) []byte {
	b, _ := m.MarshalVT()
	return b
}

func encodePresence(pr *tickroomv1.Presence) []byte {
	b, _ := pr.MarshalVT()
	return b
}

func decodePresence(b []byte) *tickroomv1.Presence {
	pr := new(tickroomv1.Presence)
	if pr.UnmarshalVT(b) != nil {
		return nil
	}
	return pr
}

// call runs one op on its user's nodes.
func (so *Social) call(op *RemoteOp, done func(RemoteAnswer)) {
	so.peers.Call([]*RemoteOp{op}, func(a []RemoteAnswer) { done(a[0]) })
}

// sendRemoteDirect carries a direct message or call signal to a user of
// another node: the recipient's node checks its block list, and a
// signal's budget or a direct message's bucket for non-friends, which
// friend (the sender's lists here name the recipient) spares. The sender
// is answered when the recipient's node has; refused counts the refusals
// of the recipient's node. It runs on the member's loop.
func (so *Social) sendRemoteDirect(m *Member, id uint32, to string, msg *tickroomv1.ServerMessage, keep *Stored, friend bool, delivered func(), refused *atomic.Uint64) {
	op := &RemoteOp{Kind: OpDeliver, From: m.user, To: to, Message: encodeMessage(msg), Friend: friend, DirectRate: msg.GetDirectMessage() != nil}
	so.call(op, func(a RemoteAnswer) {
		if a.Err == nil && a.Code == protocol.ErrorUserOffline && so.cfg.Inbox != nil && keep != nil {
			// Connected nowhere.
			if err := so.startKeep(m); err != nil {
				so.fail(m, id, err)
				return
			}
			go so.keepDirect(m, id, *keep)
			return
		}
		if err := answerError(a); err != nil {
			switch {
			case a.Err != nil:
			case a.Code == protocol.ErrorBlocked:
				refused.Add(1)
			case a.Code == protocol.ErrorRateLimited && msg.GetSignal() != nil:
				refused.Add(1)
				err = errSignalBudget(signalInWait(len(msg.GetSignal().GetData())))
			case a.Code == protocol.ErrorRateLimited:
				// A direct message over its recipient's bucket, which
				// that node counted.
				err = errStrangerDirect(max(time.Duration(a.RetryAfterMs)*time.Millisecond, time.Millisecond))
			}
			so.fail(m, id, err)
			return
		}
		so.ok(m, id)
		delivered()
	})
}

// relay sends msg, the direct message or call signal of m's request id,
// to the user to: to its connections here, the sender answered Ok and
// delivered counting it, unless refusal is this node's refusal of it;
// and, with users shared across nodes, to its other nodes, where each
// delivers or refuses on its own (deliverElsewhere). It runs on the
// member's loop.
func (so *Social) relay(m *Member, id uint32, to string, msg *tickroomv1.ServerMessage, friend bool, refusal *protocol.Error, delivered func(), refused *atomic.Uint64) {
	if refusal == nil {
		so.ok(m, id)
		so.host.SendToUser(to, msg)
		delivered()
	}
	if so.shared() {
		so.deliverElsewhere(m, id, to, msg, friend, refusal, delivered, refused)
	}
}

// deliverElsewhere carries a direct message or call signal to its
// recipient's connections on the other nodes of the cluster, where a user
// connected here may be connected too (Config.SharedUsers): this node
// delivered it to the recipient's connections here, or refused it with
// refusal (the recipient's bucket or budget here spent). Each other node
// checks its block list, and its budget or bucket, as for a message from
// another node (Serve); friend (the sender's lists here name the
// recipient; the recipient's lists here are not told, as each node goes
// by its own) spares the bucket. When this node
// delivered, the sender was answered Ok already, and the copies go as a
// cast (Peers.Cast): the cluster's queue of casts keeps them in the order
// sent and refuses none, where the lookup queue, shared with the users'
// own requests, refused those requests once chat filled it and ran the
// copies on racing workers, so that a call's candidate could overtake its
// offer. When it refused, the copies go as a call, whose answer decides
// the sender's: Ok once another node delivers, counted by delivered,
// refusal otherwise (the recipient connected on no other node, refused
// there too, or the cluster out of reach), counted in refused: a message
// counts as refused here only when its sender is. It runs on the member's
// loop.
func (so *Social) deliverElsewhere(m *Member, id uint32, to string, msg *tickroomv1.ServerMessage, friend bool, refusal *protocol.Error, delivered func(), refused *atomic.Uint64) {
	op := &RemoteOp{Kind: OpDeliver, From: m.user, To: to, Message: encodeMessage(msg), Friend: friend,
		DirectRate: msg.GetDirectMessage() != nil}
	if refusal == nil {
		so.peers.Cast(op)
		return
	}
	op.Elsewhere = true
	so.call(op, func(a RemoteAnswer) {
		if a.Err == nil && a.Code == 0 {
			delivered()
			so.ok(m, id)
			return
		}
		refused.Add(1)
		so.fail(m, id, refusal)
	})
}

// shared reports whether a user connected here may be connected on
// other nodes of a cluster too (Config.SharedUsers).
func (so *Social) shared() bool {
	return so.peers != nil && so.cfg.SharedUsers
}

// announceRemoteLocked tells uid's friends on other nodes of its status pr.
// The caller holds so.mu.
func (so *Social) announceRemoteLocked(uid string, pr *tickroomv1.Presence, friends map[string]struct{}) {
	for _, op := range so.remoteAnnouncementsLocked(nil, uid, pr, friends) {
		so.peers.Cast(op)
	}
}

// remoteAnnouncementsLocked appends to ops those that tell uid's friends
// on other nodes of its status pr: those with no connection here and,
// with users shared across nodes (Config.SharedUsers), those with one
// too, for their connections on other nodes, which the cast reaches (it
// goes to the nodes other than this one): a friend's connections here are
// told by announceLocked, and its other nodes were not told at all. The
// caller holds so.mu.
func (so *Social) remoteAnnouncementsLocked(ops []*RemoteOp, uid string, pr *tickroomv1.Presence, friends map[string]struct{}) []*RemoteOp {
	if so.peers == nil {
		return ops
	}
	var enc []byte
	for f := range friends {
		if so.users[f] != nil && !so.cfg.SharedUsers {
			continue
		}
		if enc == nil {
			enc = encodeMessage(presenceMessage(pr))
		}
		ops = append(ops, &RemoteOp{Kind: OpPresence, From: uid, To: f, Message: enc})
	}
	return ops
}

// remoteOfferLocked serves AddFriend for a user of another node: that
// node answers whether the two are now friends or the request stands. The
// caller holds so.mu.
func (so *Social) remoteOfferLocked(m *Member, id uint32, p *profile, uid, x string, h *requestHold) error {
	if !has(p.friends, x) && !has(p.requested, x) && len(p.friends)+len(p.requested) >= so.cfg.MaxListSize {
		return protocol.NewError(protocol.ErrorListFull, "")
	}
	now := so.host.Now().UnixMilli()
	op := &RemoteOp{Kind: OpFriendOffer, From: uid, FromName: p.name, To: x, AtMs: now,
		Presence: encodePresence(so.presenceLocked(uid, p))}
	// The hold is the answer's now: it releases it, or saves the request
	// under it.
	if h != nil {
		h.handed = true
	}
	so.call(op, func(a RemoteAnswer) {
		saved := false // under h, which its Done releases
		defer func() {
			if !saved {
				h.release()
			}
		}()
		if a.Err != nil || (a.Code != 0 && a.Code != protocol.ErrorUserOffline) {
			so.fail(m, id, answerError(a))
			return
		}
		so.mu.Lock()
		defer so.mu.Unlock()
		p := so.users[uid]
		if p == nil {
			return // gone meanwhile
		}
		if a.Code == protocol.ErrorUserOffline && has(p.incoming, x) {
			// x asked while uid was away (the Graph kept it), and is
			// offline: both agree.
			if err := so.befriendLocked(m, id, p, x, nil); err != nil {
				so.fail(m, id, asProtocolError(err))
			}
			return
		}
		if a.Friends {
			so.save(ChangeFriends, x, uid)
			delete(p.incoming, x)
			so.addFriendSideLocked(uid, p, x)
			so.tieElsewhereLocked(uid, x, tieFriends, nil)
			so.ok(m, id)
			if pr := decodePresence(a.Presence); pr != nil {
				so.noteRemoteLocked(p, x, pr, a.Node)
				so.host.Reply(m.conn, presenceMessage(pr))
			}
			return
		}
		if has(p.friends, x) {
			// x is offline: its list went with it. Stay friends here.
			so.ok(m, id)
			so.host.Reply(m.conn, presenceMessage(so.presenceLocked(x, nil)))
			return
		}
		// The request stands (x is told now, or was offline).
		if _, ok := p.requested[x]; !ok {
			if p.requested == nil {
				p.requested = make(map[string]int64)
			}
			p.requested[x] = now
			link(so.requestsTo, x, uid)
			so.tieElsewhereLocked(uid, x, tieAsked, nil)
			saved = true
			if a.Code == protocol.ErrorUserOffline {
				so.okOnceSaved(m, id, func(done func()) { so.saveRequest(h, uid, x, done) })
				return
			}
			so.saveRequest(h, uid, x, nil)
		}
		so.ok(m, id)
	})
	return nil
}

// addFriendSideLocked records x as uid's friend: uid watches x. The
// caller holds so.mu.
func (so *Social) addFriendSideLocked(uid string, p *profile, x string) {
	delete(p.requested, x)
	unlink(so.requestsTo, x, uid)
	if p.friends == nil {
		p.friends = make(map[string]struct{})
	}
	p.friends[x] = struct{}{}
	link(so.watchers, x, uid)
}

// remoteAnswerLocked serves AnswerFriend to a request from a user of
// another node. The caller holds so.mu.
func (so *Social) remoteAnswerLocked(m *Member, id uint32, p *profile, uid, x string, accept bool) error {
	if accept && !has(p.friends, x) && len(p.friends)+len(p.requested) >= so.cfg.MaxListSize {
		return protocol.NewError(protocol.ErrorListFull, "")
	}
	op := &RemoteOp{Kind: OpFriendAnswer, From: uid, FromName: p.name, To: x, Accept: accept,
		Presence: encodePresence(so.presenceLocked(uid, p))}
	so.call(op, func(a RemoteAnswer) {
		if a.Code == protocol.ErrorUserOffline && so.answerOfflineRequest(m, id, uid, x, accept) {
			return
		}
		if err := answerError(a); err != nil {
			if a.Code == protocol.ErrorUserOffline {
				err = protocol.NewError(protocol.ErrorUserNotFound, "no friend request from that user")
			}
			so.fail(m, id, err)
			return
		}
		so.mu.Lock()
		defer so.mu.Unlock()
		p := so.users[uid]
		if p == nil {
			return
		}
		delete(p.incoming, x)
		if a.Friends {
			so.save(ChangeFriends, x, uid)
			so.addFriendSideLocked(uid, p, x)
		} else if !accept {
			so.save(ChangeUnfriend, x, uid)
		}
		change := tieEnded
		if a.Friends {
			change = tieFriends
		}
		so.tieElsewhereLocked(uid, x, change, nil)
		so.ok(m, id)
		if pr := decodePresence(a.Presence); a.Friends && pr != nil {
			so.noteRemoteLocked(p, x, pr, a.Node)
			so.host.Reply(m.conn, presenceMessage(pr))
		}
	})
	return nil
}

// queryRemote answers a QueryPresence whose users include some of other
// nodes: out holds the local answers, remote the indexes still to ask.
// It runs on the member's loop; the reply goes once every node answered
// (a node that does not answer in time counts its users offline). It
// refuses the query with ERROR_CODE_RATE_LIMITED when m's queries already
// await answers about users of other nodes and these would take them past
// MaxPresenceAwaiting.
func (so *Social) queryRemote(m *Member, id uint32, out *tickroomv1.PresenceList, remote []int) error {
	n := int32(len(remote))
	if was := m.awaiting.Add(n) - n; was > 0 && int(was)+int(n) > so.cfg.MaxPresenceAwaiting {
		m.awaiting.Add(-n)
		so.stats.PresenceRefused.Add(1)
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: time.Second, Message: "presence queries of yours still await other nodes"}
	}
	ops := make([]*RemoteOp, len(remote))
	for i, k := range remote {
		ops[i] = &RemoteOp{Kind: OpQueryPresence, From: m.user, To: out.Users[k].UserId}
	}
	so.peers.Call(ops, func(as []RemoteAnswer) {
		m.awaiting.Add(-n)
		for i, a := range as {
			if pr := decodePresence(a.Presence); a.Err == nil && a.Code == 0 && pr != nil {
				out.Users[remote[i]] = pr
			}
		}
		so.host.Reply(m.conn, &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_PresenceList{PresenceList: out}})
	})
	return nil
}

// Serve runs an op another node sent about one of this node's users, or
// all of them (OpNotice without To), and returns the answer. Safe from
// any goroutine; it never blocks.
func (so *Social) Serve(op *RemoteOp) RemoteAnswer {
	so.mu.Lock()
	defer so.mu.Unlock()
	switch {
	case op.Kind == OpNotice && op.To == "":
		return RemoteAnswer{Delivered: so.deliverLocked(op.Message, so.allConnsLocked())}
	case op.Kind == OpOnline:
		if so.peers != nil && so.users[op.From] == nil {
			for r := range so.requestsTo[op.From] {
				if rp := so.users[r]; rp != nil {
					msg := encodeMessage(so.requestMessage(r, rp.name, rp.requested[op.From]))
					so.peers.Cast(&RemoteOp{Kind: OpNotice, To: op.From, Message: msg})
				}
			}
		}
		return RemoteAnswer{}
	}
	xp := so.users[op.To]
	if xp == nil {
		if op.Kind == OpQueryPresence {
			return RemoteAnswer{Presence: encodePresence(so.presenceLocked(op.To, nil))}
		}
		return RemoteAnswer{Code: protocol.ErrorUserOffline}
	}
	from, x := op.From, op.To
	switch op.Kind {
	case OpDeliver:
		if has(xp.blocks, from) {
			return RemoteAnswer{Code: protocol.ErrorBlocked}
		}
		msg := new(tickroomv1.ServerMessage)
		if msg.UnmarshalVT(op.Message) != nil {
			return RemoteAnswer{}
		}
		// A signal takes from the recipient's budget here, where the
		// signals of this node's users toward it take too.
		if sig := msg.GetSignal(); sig != nil && so.takeSignalInLocked(xp, len(sig.Data)) > 0 {
			return RemoteAnswer{Code: protocol.ErrorRateLimited}
		}
		// So does a direct message from a user who is not its friend,
		// unless its node is of an older version, which would take the
		// refusal for a signal's (RemoteOp.DirectRate).
		if msg.GetDirectMessage() != nil && op.DirectRate {
			if wait := so.allowDirectLocked(x, xp, from, op.Friend); wait > 0 {
				so.stats.ChatRefused.Add(1)
				return RemoteAnswer{Code: protocol.ErrorRateLimited, RetryAfterMs: limits.RetryAfterMillis(wait)}
			}
		}
		return RemoteAnswer{Delivered: so.sendLocked(msg, memberConns(xp))}
	case OpNotice:
		return RemoteAnswer{Delivered: so.deliverLocked(op.Message, memberConns(xp))}
	case OpPresence:
		if has(xp.friends, from) {
			so.castLocked(xp, from)
			if msg := new(tickroomv1.ServerMessage); msg.UnmarshalVT(op.Message) == nil {
				so.noteRemoteLocked(xp, from, msg.GetPresence(), op.Node)
			}
			if n := so.deliverLocked(op.Message, memberConns(xp)); n > 0 {
				so.stats.PresenceEvents.Add(uint64(n))
			}
		}
		return RemoteAnswer{}
	case OpUnfriend:
		so.unfriendLocalLocked(from, x)
		return RemoteAnswer{}
	case OpTie:
		so.setTieLocked(x, xp, op)
		return RemoteAnswer{}
	case OpReadInbox:
		if so.cfg.Inbox != nil {
			so.rereadInboxLocked(x, xp)
		}
		return RemoteAnswer{}
	case OpQueryPresence:
		pr := so.presenceLocked(x, xp)
		switch {
		case has(xp.friends, from):
		case has(xp.blocks, from):
			pr = &tickroomv1.Presence{UserId: x, Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE}
		default:
			pr = publicPresence(pr)
		}
		return RemoteAnswer{Presence: encodePresence(pr)}
	case OpFriendOffer:
		if has(xp.blocks, from) {
			return RemoteAnswer{Code: protocol.ErrorBlocked}
		}
		if has(xp.requested, from) || has(xp.friends, from) {
			return so.befriendRemoteLocked(op, xp)
		}
		if !has(xp.incoming, from) && len(xp.incoming) >= so.cfg.MaxListSize {
			return RemoteAnswer{Code: protocol.ErrorListFull}
		}
		xp.addIncoming(Request{From: from, Name: op.FromName, AtMs: op.AtMs})
		so.host.Send(so.requestMessage(from, op.FromName, op.AtMs), memberConns(xp))
		return RemoteAnswer{}
	case OpFriendAnswer:
		if !has(xp.requested, from) {
			return RemoteAnswer{Code: protocol.ErrorUserNotFound}
		}
		if op.Accept {
			return so.befriendRemoteLocked(op, xp)
		}
		delete(xp.requested, from)
		unlink(so.requestsTo, from, x)
		so.host.Send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_FriendAnswer{
			FriendAnswer: &tickroomv1.FriendAnswer{UserId: from, Name: op.FromName},
		}}, memberConns(xp))
		return RemoteAnswer{}
	}
	return RemoteAnswer{Code: protocol.ErrorUnsupported}
}

// befriendRemoteLocked makes this node's user op.To a friend of op.From,
// who agreed on its node: op.To is told with FriendAnswer and op.From's
// presence. The caller holds so.mu.
func (so *Social) befriendRemoteLocked(op *RemoteOp, xp *profile) RemoteAnswer {
	delete(xp.incoming, op.From)
	so.addFriendSideLocked(op.To, xp, op.From)
	conns := memberConns(xp)
	so.host.Send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_FriendAnswer{
		FriendAnswer: &tickroomv1.FriendAnswer{UserId: op.From, Name: op.FromName, Accepted: true},
	}}, conns)
	if pr := decodePresence(op.Presence); pr != nil {
		so.noteRemoteLocked(xp, op.From, pr, op.Node)
		so.host.Send(presenceMessage(pr), conns)
	}
	return RemoteAnswer{Friends: true, Name: xp.name, Presence: encodePresence(so.presenceLocked(op.To, xp))}
}

// deliverLocked queues an encoded ServerMessage on conns and returns how
// many. The caller holds so.mu.
func (so *Social) deliverLocked(enc []byte, conns []*server.Conn) int {
	if len(conns) == 0 {
		return 0
	}
	msg := new(tickroomv1.ServerMessage)
	if msg.UnmarshalVT(enc) != nil {
		return 0
	}
	return so.sendLocked(msg, conns)
}

// sendLocked queues msg on conns and returns how many. The caller holds
// so.mu.
func (so *Social) sendLocked(msg *tickroomv1.ServerMessage, conns []*server.Conn) int {
	if len(conns) == 0 || !so.host.Send(msg, conns) {
		return 0
	}
	return len(conns)
}

// allConnsLocked returns every member's connection. The caller holds
// so.mu.
func (so *Social) allConnsLocked() []*server.Conn {
	var conns []*server.Conn
	for _, p := range so.users {
		conns = append(conns, memberConns(p)...)
	}
	return conns
}

// publicPresence is what a user who is not a friend sees of pr: online or
// offline.
func publicPresence(pr *tickroomv1.Presence) *tickroomv1.Presence {
	if pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM {
		pr.Status = tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE
	}
	pr.RoomId, pr.Game, pr.SinceMs = "", "", 0
	return pr
}

// answerOfflineRequest answers a request the Graph kept for uid from x,
// who is connected to no node: accepting makes the two friends (x finds
// it when it comes back), declining ends the request. It reports false
// when uid has no such request. Safe from any goroutine.
func (so *Social) answerOfflineRequest(m *Member, id uint32, uid, x string, accept bool) bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[uid]
	if p == nil || !has(p.incoming, x) {
		return false
	}
	if accept {
		if err := so.befriendLocked(m, id, p, x, nil); err != nil {
			so.fail(m, id, asProtocolError(err))
		}
		return true
	}
	delete(p.incoming, x)
	so.save(ChangeUnfriend, x, uid)
	so.tieElsewhereLocked(uid, x, tieEnded, nil)
	so.ok(m, id)
	return true
}

// asProtocolError is err as a *protocol.Error (ERROR_CODE_INTERNAL when it
// carries no code).
func asProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return protocol.NewError(protocol.ErrorInternal, "")
}
