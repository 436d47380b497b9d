package hub

import (
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// presenceLocked is uid's current status; p is its profile, nil when the
// user is offline. The caller holds so.mu.
func (so *social) presenceLocked(uid string, p *profile) *tickroomv1.Presence {
	if p == nil {
		return &tickroomv1.Presence{UserId: uid, Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE}
	}
	pr := &tickroomv1.Presence{
		UserId: uid, Name: p.name, Status: tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE,
		SinceMs: p.since.UnixMilli(),
	}
	if len(p.rooms) > 0 {
		pr.Status = tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM
		// The most recent listed room; a private room is not named.
		for i := len(p.rooms) - 1; i >= 0; i-- {
			if r := p.rooms[i]; !r.private {
				pr.RoomId, pr.Game = r.id, r.game
				break
			}
		}
	}
	return pr
}

// announceLocked pushes uid's status to every online user who watches it.
// p is uid's profile, nil when it went offline. The caller holds so.mu.
func (so *social) announceLocked(uid string, p *profile) {
	ws := so.watchers[uid]
	if len(ws) == 0 {
		return
	}
	pr := so.presenceLocked(uid, p)
	if p == nil {
		pr.SinceMs = so.h.cfg.Now().UnixMilli()
	}
	var conns []*server.Conn
	for w := range ws {
		if wp := so.users[w]; wp != nil {
			for _, s := range wp.sessions {
				conns = append(conns, s.conn)
			}
		}
	}
	if len(conns) == 0 {
		return
	}
	if so.h.broadcast(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Presence{Presence: pr}}, conns) {
		so.h.stats.PresenceEvents.Add(uint64(len(conns)))
	}
}

// watchLocked adds target to uid's watch list unless it is full; it
// reports whether target is on the list. The caller holds so.mu.
func (so *social) watchLocked(uid string, p *profile, target string) bool {
	if _, ok := p.friends[target]; ok {
		return true
	}
	if len(p.friends) >= so.cfg.MaxListSize {
		return false
	}
	if p.friends == nil {
		p.friends = make(map[string]struct{})
	}
	p.friends[target] = struct{}{}
	link(so.watchers, target, uid)
	return true
}

// addFriend adds a user to (or removes it from) the sender's contacts. An
// added contact's current status follows the Ok, then every change.
func (s *Session) addFriend(id uint32, q *tickroomv1.AddFriend) {
	so := s.h.social
	uid := s.claims.UserID
	if q.UserId == "" || q.UserId == uid {
		s.sendError(id, protocol.ErrorUserNotFound, "")
		return
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[uid]
	if p == nil {
		s.sendError(id, protocol.ErrorInternal, "")
		return
	}
	if q.Remove {
		delete(p.friends, q.UserId)
		unlink(so.watchers, q.UserId, uid)
		s.sendOK(id)
		return
	}
	if !so.watchLocked(uid, p, q.UserId) {
		s.sendError(id, protocol.ErrorListFull, "")
		return
	}
	s.sendOK(id)
	s.send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Presence{
		Presence: so.presenceLocked(q.UserId, so.users[q.UserId]),
	}})
}

// queryPresence answers the status of up to MaxPresenceQuery users, in the
// order asked.
func (s *Session) queryPresence(id uint32, q *tickroomv1.QueryPresence) {
	so := s.h.social
	ids := q.UserIds
	if len(ids) > so.cfg.MaxPresenceQuery {
		ids = ids[:so.cfg.MaxPresenceQuery]
	}
	out := &tickroomv1.PresenceList{Users: make([]*tickroomv1.Presence, 0, len(ids))}
	so.mu.Lock()
	for _, u := range ids {
		out.Users = append(out.Users, so.presenceLocked(u, so.users[u]))
	}
	so.mu.Unlock()
	s.send(&tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_PresenceList{PresenceList: out}})
}

// Presence returns a user's current status. Safe from any goroutine.
func (h *Hub) Presence(userID string) *tickroomv1.Presence {
	so := h.social
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.presenceLocked(userID, so.users[userID])
}
