package hub

import (
	"slices"
	"strings"
	"sync"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Chat keys name a room's chat ("r:" + room id) or a lobby channel ("c:" +
// name) in Session.chats.
const (
	roomKeyPrefix    = "r:"
	channelKeyPrefix = "c:"
)

// channel is a room's chat or a lobby channel: its members and its last
// lines. A channel exists while it has members; its history goes with it.
type channel struct {
	roomID, name string // exactly one is set

	mu      sync.Mutex
	members []*Session
	history []*tickroomv1.Chat // ring of the last HistoryLines lines
	head    int                // index of the oldest line once the ring is full
	nextID  uint64
}

// lines returns the history, oldest first. The caller holds c.mu.
func (c *channel) lines() []*tickroomv1.Chat {
	out := make([]*tickroomv1.Chat, 0, len(c.history))
	out = append(out, c.history[c.head:]...)
	return append(out, c.history[:c.head]...)
}

// remember adds a line to the ring. The caller holds c.mu.
func (c *channel) remember(line *tickroomv1.Chat, max int) {
	if len(c.history) < max {
		c.history = append(c.history, line)
		return
	}
	c.history[c.head] = line
	c.head = (c.head + 1) % max
}

// historyMessage is the ChatHistory of c. The caller holds c.mu.
func (c *channel) historyMessage(id uint32) *tickroomv1.ServerMessage {
	return &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_ChatHistory{
		ChatHistory: &tickroomv1.ChatHistory{RoomId: c.roomID, Channel: c.name, Lines: c.lines()},
	}}
}

// enterRoom adds s to a room's chat and presence after its join was
// confirmed, and sends the room's history. It runs on the room's tick
// worker, after Joined was queued.
func (so *social) enterRoom(s *Session, rp roomPresence) {
	so.mu.Lock()
	defer so.mu.Unlock()
	if s.closed.Load() {
		return // disconnected already ran, or will find nothing to undo
	}
	key := roomKeyPrefix + rp.id
	c := so.rooms[rp.id]
	if c == nil {
		c = &channel{roomID: rp.id}
		so.rooms[rp.id] = c
	}
	if !s.inChat(key) {
		s.chats = append(s.chats, key)
		c.mu.Lock()
		c.members = append(c.members, s)
		s.send(c.historyMessage(0))
		c.mu.Unlock()
	}
	if p := so.users[s.claims.UserID]; p != nil {
		if slices.ContainsFunc(p.rooms, func(r roomPresence) bool { return r.id == rp.id }) {
			return
		}
		p.rooms = append(p.rooms, rp)
		p.since = so.h.cfg.Now()
		so.announceLocked(s.claims.UserID, p)
	}
}

// exitRoom removes s from a room's chat and presence after it left or was
// removed. Safe from any goroutine.
func (so *social) exitRoom(s *Session, roomID string) {
	so.mu.Lock()
	defer so.mu.Unlock()
	key := roomKeyPrefix + roomID
	if !s.inChat(key) {
		return
	}
	so.leaveLocked(s, key)
	p := so.users[s.claims.UserID]
	if p == nil {
		return
	}
	if slices.ContainsFunc(p.sessions, func(o *Session) bool { return o.inChat(key) }) {
		return // another connection of the user is still in the room
	}
	if i := slices.IndexFunc(p.rooms, func(r roomPresence) bool { return r.id == roomID }); i >= 0 {
		p.rooms = slices.Delete(p.rooms, i, i+1)
		p.since = so.h.cfg.Now()
		so.announceLocked(s.claims.UserID, p)
	}
}

// inChat reports whether s is in the chat named key. The caller holds
// social.mu.
func (s *Session) inChat(key string) bool { return slices.Contains(s.chats, key) }

// channelCount is the number of lobby channels s joined. The caller holds
// social.mu.
func (s *Session) channelCount() int {
	n := 0
	for _, k := range s.chats {
		if strings.HasPrefix(k, channelKeyPrefix) {
			n++
		}
	}
	return n
}

// leaveLocked removes s from the chat named key, and the chat once it is
// empty, and key from s.chats. The caller holds so.mu.
func (so *social) leaveLocked(s *Session, key string) {
	s.chats = deleteItem(s.chats, key)
	m, name := so.channels, strings.TrimPrefix(key, channelKeyPrefix)
	if id, ok := strings.CutPrefix(key, roomKeyPrefix); ok {
		m, name = so.rooms, id
	}
	c := m[name]
	if c == nil {
		return
	}
	c.mu.Lock()
	c.members = deleteItem(c.members, s)
	empty := len(c.members) == 0
	c.mu.Unlock()
	if empty {
		delete(m, name)
	}
}

// joinChannel subscribes s to a lobby channel and answers its history.
func (s *Session) joinChannel(id uint32, name string) {
	so := s.h.social
	if !channelName.MatchString(name) {
		s.sendError(id, protocol.ErrorChannelNotFound, "channel names are 1-64 of a-z 0-9 : _ . -")
		return
	}
	key := channelKeyPrefix + name
	so.mu.Lock()
	defer so.mu.Unlock()
	c := so.channels[name]
	switch {
	case s.inChat(key):
		c.mu.Lock()
		s.send(c.historyMessage(id))
		c.mu.Unlock()
		return
	case s.channelCount() >= so.cfg.MaxChannelsPerUser:
		s.sendError(id, protocol.ErrorListFull, "too many channels joined")
		return
	case c == nil && len(so.channels) >= so.cfg.MaxChannels:
		s.sendError(id, protocol.ErrorChannelNotFound, "no more channels can be opened")
		return
	case c == nil:
		c = &channel{name: name}
		so.channels[name] = c
	}
	s.chats = append(s.chats, key)
	c.mu.Lock()
	c.members = append(c.members, s)
	s.send(c.historyMessage(id))
	c.mu.Unlock()
}

// leaveChannel unsubscribes s from a lobby channel.
func (s *Session) leaveChannel(id uint32, name string) {
	so := s.h.social
	key := channelKeyPrefix + name
	so.mu.Lock()
	joined := s.inChat(key)
	if joined {
		so.leaveLocked(s, key)
	}
	so.mu.Unlock()
	if !joined {
		s.sendError(id, protocol.ErrorChannelNotFound, "channel not joined")
		return
	}
	s.sendOK(id)
}

// sendChat posts a line to a room's chat or a lobby channel. The line is
// encoded once and queued Reliable on every member but those who blocked
// the sender (and the sender itself when it asked so): chat is never
// dropped for a slow member, which the transport closes instead.
func (s *Session) sendChat(id uint32, q *tickroomv1.SendChat) {
	so := s.h.social
	if (q.RoomId == "") == (q.Channel == "") {
		s.sendError(id, protocol.ErrorBadRequest, "set exactly one of room_id and channel")
		return
	}
	if !s.admitText(id, q.Text) {
		return
	}
	key, miss := roomKeyPrefix+q.RoomId, protocol.ErrorNotInRoom
	if q.Channel != "" {
		key, miss = channelKeyPrefix+q.Channel, protocol.ErrorChannelNotFound
	}
	line := &tickroomv1.Chat{
		RoomId: q.RoomId, Channel: q.Channel, FromUserId: s.claims.UserID, FromName: s.claims.Name,
		Text: q.Text, SentAtMs: s.h.cfg.Now().UnixMilli(),
	}
	l := getConnList()
	defer l.release()
	so.mu.Lock()
	var c *channel
	if s.inChat(key) {
		if q.Channel != "" {
			c = so.channels[q.Channel]
		} else {
			c = so.rooms[q.RoomId]
		}
	}
	if c == nil {
		so.mu.Unlock()
		s.sendError(id, miss, "")
		return
	}
	// Ok goes first so that the sender sees its reply before its echo.
	s.sendOK(id)
	blockers := so.blockedBy[s.claims.UserID]
	c.mu.Lock()
	c.nextID++
	line.Id = c.nextID
	c.remember(line, so.cfg.HistoryLines)
	for _, m := range c.members {
		if m == s && q.ExcludeSender {
			continue
		}
		if _, blocked := blockers[m.claims.UserID]; blocked {
			continue
		}
		l.conns = append(l.conns, m.conn)
	}
	so.mu.Unlock()
	s.h.broadcast(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Chat{Chat: line}}, l.conns)
	c.mu.Unlock()
	if q.Channel != "" {
		s.h.stats.ChannelChats.Add(1)
	} else {
		s.h.stats.RoomChats.Add(1)
	}
	s.h.stats.ChatDeliveries.Add(uint64(len(l.conns)))
}
