package hub

import (
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// sendDirect delivers a private message to every connection of an online
// user, Reliable, unless the recipient blocked the sender. Direct messages
// are not stored. The sender then watches the recipient's presence, as it
// would a friend's, while there is room on its list.
func (s *Session) sendDirect(id uint32, q *tickroomv1.SendDirect) {
	so := s.h.social
	from := s.claims.UserID
	switch {
	case q.ToUserId == "":
		s.sendError(id, protocol.ErrorUserNotFound, "no recipient")
		return
	case q.ToUserId == from:
		s.sendError(id, protocol.ErrorBadRequest, "cannot message yourself")
		return
	}
	if !s.admitText(id, q.Text) {
		return
	}
	l := getConnList()
	defer l.release()
	so.mu.Lock()
	to := so.users[q.ToUserId]
	if to == nil {
		so.mu.Unlock()
		s.sendError(id, protocol.ErrorUserOffline, "")
		return
	}
	if _, blocked := to.blocks[from]; blocked {
		so.mu.Unlock()
		s.h.stats.DirectRefused.Add(1)
		s.sendError(id, protocol.ErrorBlocked, "")
		return
	}
	for _, r := range to.sessions {
		l.conns = append(l.conns, r.conn)
	}
	if me := so.users[from]; me != nil {
		so.watchLocked(from, me, q.ToUserId)
	}
	so.mu.Unlock()
	dm := &tickroomv1.DirectMessage{
		Id: s.h.nextDirect.Add(1), FromUserId: from, FromName: s.claims.Name,
		ToUserId: q.ToUserId, Text: q.Text, SentAtMs: s.h.cfg.Now().UnixMilli(),
	}
	s.sendOK(id)
	s.h.broadcast(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_DirectMessage{DirectMessage: dm}}, l.conns)
	s.h.stats.DirectMessages.Add(1)
}

// blockUser adds a user to (or removes it from) the sender's block list:
// the blocked user's direct messages are refused with ERROR_CODE_BLOCKED
// and its chat lines are not delivered to the sender.
func (s *Session) blockUser(id uint32, q *tickroomv1.BlockUser) {
	so := s.h.social
	uid := s.claims.UserID
	if q.UserId == "" || q.UserId == uid {
		s.sendError(id, protocol.ErrorUserNotFound, "")
		return
	}
	so.mu.Lock()
	p := so.users[uid]
	if p == nil {
		so.mu.Unlock()
		s.sendError(id, protocol.ErrorInternal, "")
		return
	}
	if q.Unblock {
		delete(p.blocks, q.UserId)
		unlink(so.blockedBy, q.UserId, uid)
		so.mu.Unlock()
		s.sendOK(id)
		return
	}
	if _, ok := p.blocks[q.UserId]; !ok && len(p.blocks) >= so.cfg.MaxListSize {
		so.mu.Unlock()
		s.sendError(id, protocol.ErrorListFull, "")
		return
	}
	if p.blocks == nil {
		p.blocks = make(map[string]struct{})
	}
	p.blocks[q.UserId] = struct{}{}
	link(so.blockedBy, q.UserId, uid)
	so.mu.Unlock()
	s.sendOK(id)
}
