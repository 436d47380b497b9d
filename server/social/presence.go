package social

import (
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
		SinceMs: p.since.UnixMilli(),
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
	ws := so.watchers[uid]
	if len(ws) == 0 {
		return
	}
	pr := so.presenceLocked(uid, p)
	if p == nil {
		pr.SinceMs = so.host.Now().UnixMilli()
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

// AddFriend adds a user to (or removes it from) the member's contacts. An
// added contact's current status follows the Ok, then every change. It
// runs on the member's loop.
func (so *Social) AddFriend(m *Member, id uint32, q *tickroomv1.AddFriend) error {
	so.mu.Lock()
	defer so.mu.Unlock()
	p, err := so.contactLocked(m, q.UserId)
	if err != nil {
		return err
	}
	if err := so.editListLocked(&p.friends, so.watchers, m.user, q.UserId, q.Remove); err != nil {
		return err
	}
	so.ok(m, id)
	if !q.Remove {
		so.host.Reply(m.conn, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Presence{
			Presence: so.presenceLocked(q.UserId, so.users[q.UserId]),
		}})
	}
	return nil
}

// QueryPresence answers the status of up to MaxPresenceQuery users, in the
// order asked. It runs on the member's loop.
func (so *Social) QueryPresence(m *Member, id uint32, q *tickroomv1.QueryPresence) error {
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
	so.host.Reply(m.conn, &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_PresenceList{PresenceList: out}})
	return nil
}

// Presence returns a user's current status. Safe from any goroutine.
func (so *Social) Presence(userID string) *tickroomv1.Presence {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.presenceLocked(userID, so.users[userID])
}
