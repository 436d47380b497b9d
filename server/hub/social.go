package hub

import (
	"regexp"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// SocialConfig limits chat, direct messages, friend and block lists and
// presence queries.
type SocialConfig struct {
	// MaxTextBytes caps a chat line or direct message in bytes; longer text
	// is refused with ERROR_CODE_MESSAGE_TOO_LONG. Zero value means 500.
	MaxTextBytes int
	// HistoryLines is how many recent lines a room or lobby channel keeps
	// for members who join. Zero value means 50.
	HistoryLines int
	// ChatRate is the chat lines and direct messages a connection may send
	// per second, with a burst of ChatBurst; the excess is refused with
	// ERROR_CODE_RATE_LIMITED. Zero value means 2.
	ChatRate float64
	// ChatBurst is the chat limiter's burst. Zero value means 10.
	ChatBurst int
	// MaxChannels caps the lobby channels that exist at once; joining a new
	// one past it is refused with ERROR_CODE_CHANNEL_NOT_FOUND. Zero value
	// means 1,000.
	MaxChannels int
	// MaxChannelsPerUser caps the lobby channels one connection joins.
	// Zero value means 8.
	MaxChannelsPerUser int
	// MaxListSize caps a user's friend list and block list each; the excess
	// is refused with ERROR_CODE_LIST_FULL. Zero value means 500.
	MaxListSize int
	// MaxPresenceQuery caps the users one QueryPresence asks about; the
	// rest are ignored. Zero value means 100.
	MaxPresenceQuery int
}

func (c SocialConfig) withDefaults() SocialConfig {
	if c.MaxTextBytes <= 0 {
		c.MaxTextBytes = 500
	}
	if c.HistoryLines <= 0 {
		c.HistoryLines = 50
	}
	if c.ChatRate <= 0 {
		c.ChatRate = 2
	}
	if c.ChatBurst <= 0 {
		c.ChatBurst = 10
	}
	if c.MaxChannels <= 0 {
		c.MaxChannels = 1000
	}
	if c.MaxChannelsPerUser <= 0 {
		c.MaxChannelsPerUser = 8
	}
	if c.MaxListSize <= 0 {
		c.MaxListSize = 500
	}
	if c.MaxPresenceQuery <= 0 {
		c.MaxPresenceQuery = 100
	}
	return c
}

// channelName is what a lobby channel may be called.
var channelName = regexp.MustCompile(`^[a-z0-9][a-z0-9:_.-]{0,63}$`)

// social is the hub's chat, presence and contact state. Users' lists and
// presence live while the user has a connection: the server keeps no
// account store, so a client that reconnects after going offline sends its
// friend and block lists again.
//
// Lock order: social.mu before channel.mu; frames are queued on
// connections (which takes only transport-internal locks) under
// channel.mu so that every member sees a channel's lines in id order.
// Neither is held while calling into a Room, and neither is taken while
// Hub.mu or a Session.mu is held by the same goroutine.
type social struct {
	h   *Hub
	cfg SocialConfig

	mu        sync.Mutex
	users     map[string]*profile            // users with a live session
	watchers  map[string]map[string]struct{} // user → users who watch its presence
	blockedBy map[string]map[string]struct{} // user → users who blocked it
	rooms     map[string]*channel            // room id → room chat
	channels  map[string]*channel            // lobby channel name → channel
}

// profile is an online user's social state. Guarded by social.mu.
type profile struct {
	name     string
	sessions []*Session
	friends  map[string]struct{} // users whose presence this user watches
	blocks   map[string]struct{}
	rooms    []roomPresence // rooms the user is in, oldest first
	since    time.Time      // when the current status began
}

// roomPresence is a room a user is in, as presence shows it.
type roomPresence struct {
	id, game string
	private  bool
}

func newSocial(h *Hub, cfg SocialConfig) *social {
	return &social{
		h: h, cfg: cfg.withDefaults(),
		users:     make(map[string]*profile),
		watchers:  make(map[string]map[string]struct{}),
		blockedBy: make(map[string]map[string]struct{}),
		rooms:     make(map[string]*channel),
		channels:  make(map[string]*channel),
	}
}

// connected records a new session; a user's first one makes it online.
// It runs on the session's loop, after Accept registered the session.
func (so *social) connected(s *Session) {
	now := so.h.cfg.Now()
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[s.claims.UserID]
	if p != nil {
		p.sessions = append(p.sessions, s)
		return
	}
	p = &profile{name: s.claims.Name, sessions: []*Session{s}, since: now}
	so.users[s.claims.UserID] = p
	so.announceLocked(s.claims.UserID, p)
}

// disconnected forgets a closed session: it leaves its rooms' chat and its
// channels; a user's last session makes it offline and drops its lists.
// It runs on the session's loop after Session.gone.
func (so *social) disconnected(s *Session) {
	uid := s.claims.UserID
	so.mu.Lock()
	defer so.mu.Unlock()
	chats := s.chats
	s.chats = nil
	for _, key := range chats {
		so.leaveLocked(s, key)
	}
	p := so.users[uid]
	if p == nil {
		return
	}
	p.sessions = deleteItem(p.sessions, s)
	if len(p.sessions) > 0 {
		// Another connection stays: the user is still in the rooms it is
		// in, and no longer in those only this one was in.
		changed := false
		p.rooms = slices.DeleteFunc(p.rooms, func(r roomPresence) bool {
			key := roomKeyPrefix + r.id
			if !slices.Contains(chats, key) || slices.ContainsFunc(p.sessions, func(o *Session) bool { return o.inChat(key) }) {
				return false
			}
			changed = true
			return true
		})
		if changed {
			p.since = so.h.cfg.Now()
			so.announceLocked(uid, p)
		}
		return
	}
	delete(so.users, uid)
	for f := range p.friends {
		unlink(so.watchers, f, uid)
	}
	for b := range p.blocks {
		unlink(so.blockedBy, b, uid)
	}
	so.announceLocked(uid, nil)
}

// deleteItem removes the first x from list.
func deleteItem[T comparable](list []T, x T) []T {
	if i := slices.Index(list, x); i >= 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}

// link adds v to m[k].
func link(m map[string]map[string]struct{}, k, v string) {
	set := m[k]
	if set == nil {
		set = make(map[string]struct{})
		m[k] = set
	}
	set[v] = struct{}{}
}

// unlink removes v from m[k].
func unlink(m map[string]map[string]struct{}, k, v string) {
	if set := m[k]; set != nil {
		delete(set, v)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// checkText validates a chat line or direct message.
func (so *social) checkText(text string) (protocol.ErrorCode, string) {
	switch {
	case text == "":
		return protocol.ErrorBadRequest, "empty text"
	case len(text) > so.cfg.MaxTextBytes:
		return protocol.ErrorMessageTooLong, ""
	case !utf8.ValidString(text):
		return protocol.ErrorBadRequest, "text is not UTF-8"
	}
	return 0, ""
}

// admitText checks a chat line or direct message and applies the chat
// rate limit; it answers a refusal itself. It runs on the session's loop.
func (s *Session) admitText(id uint32, text string) bool {
	if code, msg := s.h.social.checkText(text); code != 0 {
		s.sendError(id, code, msg)
		return false
	}
	if !s.allowChat() {
		s.h.stats.ChatRefused.Add(1)
		s.sendError(id, protocol.ErrorRateLimited, "chat rate limit exceeded")
		return false
	}
	return true
}

// allowChat applies the chat rate limit. It runs on the session's loop.
func (s *Session) allowChat() bool {
	cfg := &s.h.social.cfg
	now := s.h.cfg.Now()
	if s.chatLast.IsZero() {
		s.chatTokens = float64(cfg.ChatBurst)
	} else {
		dt := now.Sub(s.chatLast).Seconds()
		s.chatTokens = min(s.chatTokens+dt*cfg.ChatRate, float64(cfg.ChatBurst))
	}
	s.chatLast = now
	if s.chatTokens >= 1 {
		s.chatTokens--
		return true
	}
	return false
}

// broadcast encodes m once and queues it Reliable on conns; it reports
// false when m cannot be encoded. Safe from any goroutine.
func (h *Hub) broadcast(m *tickroomv1.ServerMessage, conns []*server.Conn) bool {
	f := encode(m)
	if f == nil {
		return false
	}
	h.srv.Broadcast(f, conns, server.Reliable)
	f.Release()
	return true
}

// sendOK answers request id with Ok.
func (s *Session) sendOK(id uint32) {
	if id == 0 {
		return
	}
	s.send(&tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Ok{Ok: &tickroomv1.Ok{}}})
}
