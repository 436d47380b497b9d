package social

import (
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
)

// Chat keys name a room's chat ("r:" + room id) or a lobby channel ("c:" +
// name) in Member.chats.
const (
	roomKeyPrefix    = "r:"
	channelKeyPrefix = "c:"
)

// channelName is what a lobby channel may be called.
var channelName = regexp.MustCompile(`^[a-z0-9][a-z0-9:_.-]{0,63}$`)

// channel is a room's chat or a lobby channel: its members and its last
// lines. A channel exists while it has members; its history goes with it.
type channel struct {
	roomID, name string       // exactly one is set
	key          string       // a room's: its chat key, which its members' chats share rather than each a copy
	opener       string       // the user who opened a lobby channel
	openerAddr   netip.Addr   // its address; invalid when exempt
	openerSite   netip.Prefix // its IPv6 /48; invalid for IPv4 or when exempt

	mu      sync.Mutex
	members []*Member
	history []*tickroomv1.Chat // ring of the last HistoryLines lines
	head    int                // index of the oldest line once the ring is full
	nextID  uint64
	// waiting are the joins answered once this node's subscription to a
	// lobby channel is in place (a cluster only) and its kept lines are
	// read; nil once they are. At most one per member (JoinChannel
	// refuses another).
	waiting []channelJoin
	ready   bool // this node's subscription is in place (or there is no cluster)
	loaded  bool // the lines kept from before are in history (or there is no ChannelStore)
	// lineRate holds a lobby channel to Config.ChannelLineRate; made on
	// its first line, guarded by Social.mu.
	lineRate *rate.Limiter
}

// channelJoin is a JoinChannel waiting for its history.
type channelJoin struct {
	m  *Member
	id uint32
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

// number gives line (its SentAtMs set) the channel's next id. A chat
// closes (a lobby channel with its last member, a room's with its room's
// last seat) and with the process while its members' pages keep the ids
// they showed (Chat.id is for de-duplication): a lobby channel opens again
// with the lines its store kept, a room's chat when the room is joined
// again, or on the node a drain moved the room to (with the lines it had,
// SeedRoom, unless that node predates them). So ids follow the lines' time, lineID, and a reopened chat's
// lines never take an id its members saw before; a kept line read back
// gets the id it had (channelLineIDs). The caller holds c.mu.
func (c *channel) number(line *tickroomv1.Chat) uint64 {
	c.nextID = max(c.nextID+1, lineID(line.SentAtMs))
	return c.nextID
}

// lineID is the smallest id of a lobby channel line sent at ms (Unix
// milliseconds): a thousand ids a millisecond, which chat's rates never
// reach, and below 2^53 (a JavaScript number) until the year 2255.
func lineID(ms int64) uint64 {
	return uint64(max(ms, 0)) * 1000
}

// channelLineIDs numbers lines kept from before a lobby channel opened,
// oldest first, as number numbered them when they were sent, and returns
// the last id given.
func channelLineIDs(lines []*tickroomv1.Chat) uint64 {
	var last uint64
	for _, l := range lines {
		last = max(last+1, lineID(l.SentAtMs))
		l.Id = last
	}
	return last
}

// historyMessage is the ChatHistory of c as m gets it: without the lines
// of users m's user blocks, as it gets none of them live. The caller holds
// so.mu and c.mu.
func (so *Social) historyMessage(c *channel, m *Member, id uint32) *tickroomv1.ServerMessage {
	lines := c.lines()
	if p := so.users[m.user]; p != nil && len(p.blocks) > 0 {
		lines = slices.DeleteFunc(lines, func(l *tickroomv1.Chat) bool { return has(p.blocks, l.FromUserId) })
	}
	return &tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_ChatHistory{
		ChatHistory: &tickroomv1.ChatHistory{RoomId: c.roomID, Channel: c.name, Lines: lines},
	}}
}

// checkText validates a chat line or direct message.
func (so *Social) checkText(text string) error {
	switch {
	case text == "":
		return protocol.NewError(protocol.ErrorBadRequest, "empty text")
	case len(text) > so.cfg.MaxTextBytes:
		return protocol.NewError(protocol.ErrorMessageTooLong, "")
	case !utf8.ValidString(text):
		return protocol.NewError(protocol.ErrorBadRequest, "text is not UTF-8")
	}
	return nil
}

// admitText checks a chat line or direct message and applies the chat
// rate limit. It runs on the member's loop.
func (so *Social) admitText(m *Member, text string) error {
	if err := so.checkText(text); err != nil {
		return err
	}
	if wait := so.take(so.limits.limiter(m, func(l *limiters) **rate.Limiter { return &l.chat }, rate.Limit(so.cfg.ChatRate), so.cfg.ChatBurst), 1); wait > 0 {
		so.stats.ChatRefused.Add(1)
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "chat rate limit exceeded"}
	}
	return nil
}

// EnterRoom adds m to a room's chat and presence after its join was
// confirmed, and sends the room's history. joined, when not nil, is queued
// to m first, in the same step: the member gets it before the history and
// before any line posted once it is a member. Safe from any goroutine; the
// hub calls it on the room's tick worker.
func (so *Social) EnterRoom(m *Member, rp RoomPresence, joined *tickroomv1.ServerMessage) {
	so.mu.Lock()
	defer so.mu.Unlock()
	if joined != nil {
		so.host.Reply(m.conn, joined)
	}
	if m.closed.Load() {
		return // Disconnect ran: nothing would undo this
	}
	if !rp.Spectator && !slices.Contains(m.playing, rp.ID) {
		m.playing = append(m.playing, rp.ID)
	}
	c := so.rooms[rp.ID]
	if c == nil {
		c = &channel{roomID: rp.ID, key: roomKeyPrefix + rp.ID}
		so.rooms[rp.ID] = c
	}
	key := c.key
	if !m.inChat(key) {
		m.chats = append(m.chats, key)
		c.mu.Lock()
		c.members = append(c.members, m)
		so.host.Reply(m.conn, so.historyMessage(c, m, 0))
		c.mu.Unlock()
	}
	if p := so.users[m.user]; p != nil {
		if slices.ContainsFunc(p.rooms, func(r RoomPresence) bool { return r.ID == rp.ID }) {
			return
		}
		p.rooms = append(p.rooms, rp)
		p.since = so.host.Now().UnixNano()
		so.announceLocked(m.user, p)
	}
}

// ExitRoom removes m from a room's chat and presence after it left or was
// removed. Safe from any goroutine.
func (so *Social) ExitRoom(m *Member, roomID string) {
	so.mu.Lock()
	defer so.mu.Unlock()
	key := roomKeyPrefix + roomID
	if !m.inChat(key) {
		return
	}
	so.leaveLocked(m, key)
	p := so.users[m.user]
	if p == nil {
		return
	}
	if slices.ContainsFunc(p.members, func(o *Member) bool { return o.inChat(key) }) {
		return // another connection of the user is still in the room
	}
	if i := slices.IndexFunc(p.rooms, func(r RoomPresence) bool { return r.ID == roomID }); i >= 0 {
		p.rooms = slices.Delete(p.rooms, i, i+1)
		p.since = so.host.Now().UnixNano()
		so.announceLocked(m.user, p)
	}
}

// EndRoom drops the chat of a room that ended: its last seat was
// released, it closed, or it moved to another node. Until then the chat
// keeps its lines while no member is connected (all dropped, their seats
// held for a resume). Safe from any goroutine.
func (so *Social) EndRoom(roomID string) {
	so.mu.Lock()
	defer so.mu.Unlock()
	delete(so.rooms, roomID)
}

// RoomHistory returns a copy of a room chat's lines, oldest first, for a
// room that moves to another node (SeedRoom there); nil when it has none.
// Safe from any goroutine.
func (so *Social) RoomHistory(roomID string) []*tickroomv1.Chat {
	so.mu.Lock()
	defer so.mu.Unlock()
	c := so.rooms[roomID]
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := c.lines()
	for i, l := range lines {
		lines[i] = l.CloneVT()
	}
	return lines
}

// SeedRoom opens the chat of a room restored here from another node with
// the lines it had there (RoomHistory), oldest first and their ids kept;
// only the newest HistoryLines are kept. A room whose chat is open already,
// or with no lines, is left alone. Safe from any goroutine.
func (so *Social) SeedRoom(roomID string, lines []*tickroomv1.Chat) {
	if len(lines) == 0 {
		return
	}
	lines = lines[max(len(lines)-so.cfg.HistoryLines, 0):]
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.rooms[roomID] != nil {
		return
	}
	c := &channel{roomID: roomID, key: roomKeyPrefix + roomID}
	for _, l := range lines {
		l = l.CloneVT()
		l.RoomId, l.Channel = roomID, ""
		c.nextID = max(c.nextID, l.Id)
		c.remember(l, so.cfg.HistoryLines)
	}
	so.rooms[roomID] = c
}

// RoomChats returns how many rooms' chats this node holds: at most one
// per room alive here. Safe from any goroutine.
func (so *Social) RoomChats() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return len(so.rooms)
}

// inChat reports whether m is in the chat named key. The caller holds
// Social.mu.
func (m *Member) inChat(key string) bool { return slices.Contains(m.chats, key) }

// channelCount is the number of lobby channels m joined. The caller holds
// Social.mu.
func (m *Member) channelCount() int {
	n := 0
	for _, k := range m.chats {
		if strings.HasPrefix(k, channelKeyPrefix) {
			n++
		}
	}
	return n
}

// leaveLocked removes m from the chat named key, and key from m.chats; a
// lobby channel goes once it is empty, a room's chat when the room ends
// (EndRoom), so that members who all dropped at once find its lines when
// they resume. The caller holds so.mu.
func (so *Social) leaveLocked(m *Member, key string) {
	m.chats = deleteItem(m.chats, key)
	chats, name := so.channels, strings.TrimPrefix(key, channelKeyPrefix)
	if id, ok := strings.CutPrefix(key, roomKeyPrefix); ok {
		chats, name = so.rooms, id
		m.playing = deleteItem(m.playing, id)
	}
	c := chats[name]
	if c == nil {
		return
	}
	c.mu.Lock()
	c.members = deleteItem(c.members, m)
	so.endWaitingLocked(c, m)
	empty := len(c.members) == 0
	c.mu.Unlock()
	if empty && c.roomID == "" {
		delete(chats, name)
		so.closedLocked(c)
		if c.name != "" && so.peers != nil {
			so.peers.LeaveChannel(c.name)
		}
	}
}

// endWaitingLocked ends m's join of c that waits for c's history, m
// having left c: it is answered ERROR_CODE_CHANNEL_NOT_FOUND now (m is no
// member to send the history to), and m may join again. Kept, it was
// answered with the history once c loaded, and until then refused m's
// next join as one waiting. The caller holds so.mu and c.mu.
func (so *Social) endWaitingLocked(c *channel, m *Member) {
	i := slices.IndexFunc(c.waiting, func(w channelJoin) bool { return w.m == m })
	if i < 0 {
		return
	}
	id := c.waiting[i].id
	c.waiting = slices.Delete(c.waiting, i, i+1)
	if !m.closed.Load() {
		so.fail(m, id, protocol.NewError(protocol.ErrorChannelNotFound, "you left the channel before its history came"))
	}
}

// InChannel reports whether m joined the lobby channel name. It runs on
// the member's loop.
func (so *Social) InChannel(m *Member, name string) bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	return m.inChat(channelKeyPrefix + name)
}

// Blocks returns a copy of the users m's user blocks, nil when none, for
// a reader of kept lines to leave theirs out. Safe from any goroutine.
func (so *Social) Blocks(m *Member) map[string]struct{} {
	so.mu.Lock()
	defer so.mu.Unlock()
	if p := so.users[m.user]; p != nil && len(p.blocks) > 0 {
		return maps.Clone(p.blocks)
	}
	return nil
}

// JoinChannel subscribes m to a lobby channel and answers its history. A
// join of a channel m is in already answers the history again, within
// ChannelRejoinRate (allowRejoin), and so does a join of a channel this
// node holds that m's user left within leftFor. It runs on the member's
// loop.
func (so *Social) JoinChannel(m *Member, id uint32, name string) error {
	if !channelName.MatchString(name) {
		return protocol.NewError(protocol.ErrorChannelNotFound, "channel names are 1-64 of a-z 0-9 : _ . -")
	}
	key := channelKeyPrefix + name
	so.mu.Lock()
	defer so.mu.Unlock()
	c := so.channels[name]
	opened := c == nil
	if c != nil {
		// One join of a member waits for a channel's history at a time:
		// each would be answered with the whole history, and a client
		// repeating its join while the lines are read (up to
		// channelLoadTimeout) or the subscription is made grew the list
		// at its message rate.
		c.mu.Lock()
		waits := slices.ContainsFunc(c.waiting, func(w channelJoin) bool { return w.m == m })
		c.mu.Unlock()
		if waits {
			return protocol.NewError(protocol.ErrorTooManyRequestsInFlight, "your join of this channel still waits for its history")
		}
	}
	switch {
	case m.inChat(key):
		if err := so.allowRejoin(m, id, "you are in this channel already: joining it again replays its history, which is limited"); err != nil {
			return err
		}
		c.mu.Lock()
		so.replyHistoryLocked(c, m, id)
		c.mu.Unlock()
		return nil
	case m.channelCount() >= so.cfg.MaxChannelsPerUser:
		return protocol.NewError(protocol.ErrorListFull, "too many channels joined")
	case c == nil && len(so.channels) >= so.cfg.MaxChannels:
		return protocol.NewError(protocol.ErrorChannelNotFound, "no more channels can be opened")
	case c == nil:
		// Opening it again is held to ChannelOpenRate.
		var err error
		if c, err = so.openLocked(m, name); err != nil {
			return err
		}
	case so.limits.leftLately(m, name, so.host.Now()):
		// Another member kept it open: leaving it and joining it again
		// replays its history as a repeat join does.
		if err := so.allowRejoin(m, id, "you left this channel a moment ago: joining it again replays its history, which is limited"); err != nil {
			return err
		}
	}
	m.chats = append(m.chats, key)
	c.mu.Lock()
	c.members = append(c.members, m)
	so.replyHistoryLocked(c, m, id)
	c.mu.Unlock()
	if opened && so.peers != nil {
		// Lines from other nodes reach this one once it is subscribed:
		// the joins are answered then, so that a member that has its
		// history gets every line posted after it.
		so.peers.JoinChannel(name, func(error) { so.channelReady(name, c) })
	}
	return nil
}

// allowRejoin applies ChannelRejoinRate to a join of a lobby channel m is
// in already or its user left lately, which answers request id with the
// channel's whole history again; one that wants no reply (id 0) costs
// nothing. msg is the refusal's message. The caller holds so.mu.
func (so *Social) allowRejoin(m *Member, id uint32, msg string) error {
	if id == 0 {
		return nil
	}
	l := so.limits.limiter(m, func(l *limiters) **rate.Limiter { return &l.rejoin }, rate.Limit(so.cfg.ChannelRejoinRate), so.cfg.ChannelRejoinBurst)
	if wait := so.take(l, 1); wait > 0 {
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: msg}
	}
	return nil
}

// replyHistoryLocked answers a join with the channel's history, or, in a
// cluster, holds the answer until this node's subscription is in place.
// The caller holds so.mu and c.mu.
func (so *Social) replyHistoryLocked(c *channel, m *Member, id uint32) {
	if id == 0 {
		return // no reply wanted (ClientMessage.request_id's contract)
	}
	if c.name != "" && (!c.ready || !c.loaded) {
		c.waiting = append(c.waiting, channelJoin{m, id})
		return
	}
	so.host.Reply(m.conn, so.historyMessage(c, m, id))
}

// channelReady answers the joins that waited for this node's subscription
// to lobby channel c (a cluster only). A failed subscription (Redis
// down) answers them too: the channel works on this node alone until the
// cluster's client subscribes again. Safe from any goroutine.
func (so *Social) channelReady(name string, c *channel) {
	so.mu.Lock()
	defer so.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready = true
	so.answerWaitingLocked(c)
}

// answerWaitingLocked answers the joins of c that waited, once c is ready
// and loaded. The caller holds so.mu and c.mu.
func (so *Social) answerWaitingLocked(c *channel) {
	if !c.ready || !c.loaded {
		return
	}
	for _, w := range c.waiting {
		if !w.m.closed.Load() {
			so.host.Reply(w.m.conn, so.historyMessage(c, w.m, w.id))
		}
	}
	c.waiting = nil
}

// openLocked opens lobby channel name for m within its user's and its
// address's shares of the server's channels and their open rates (see
// allowOpen). The caller holds so.mu.
func (so *Social) openLocked(m *Member, name string) (*channel, error) {
	if so.opened[m.user] >= so.cfg.MaxChannelsPerUser {
		return nil, protocol.NewError(protocol.ErrorListFull, "channels you opened still exist; join one of them or an existing channel")
	}
	c := &channel{name: name, opener: m.user, ready: so.peers == nil, loaded: so.cfg.Channels == nil}
	addr := m.addr()
	if !so.exempt(m) {
		if so.openedAt[addr] >= so.cfg.MaxChannelsPerAddress {
			return nil, protocol.NewError(protocol.ErrorListFull, "channels opened from your address still exist")
		}
		// The /64s of one IPv6 /48 (one site) share V6SiteFactor times
		// an address's share.
		if _, site := clientip.Group(addr); site.IsValid() && so.openedSite[site] >= so.cfg.MaxChannelsPerAddress*clientip.V6SiteFactor {
			return nil, protocol.NewError(protocol.ErrorListFull, "channels opened from your network still exist")
		}
	}
	if err := so.allowOpen(m); err != nil {
		return nil, err
	}
	if !so.exempt(m) {
		if _, site := clientip.Group(addr); site.IsValid() {
			c.openerSite = site
			so.openedSite[site]++
		}
		c.openerAddr = addr
		so.openedAt[addr]++
	}
	if !c.loaded {
		go so.loadChannel(name, c)
	}
	so.opened[m.user]++
	so.channels[name] = c
	return c, nil
}

// allowOpen applies the open rate limits, per user and (unless exempt)
// per client address, to a channel m opens within its shares. The user's
// bucket goes first, so that a user over its own rate takes nothing from
// its address's. The caller holds so.mu.
func (so *Social) allowOpen(m *Member) error {
	now := so.host.Now()
	ok, wait := so.openUsers.Allow(m.user, now)
	if addr := m.addr(); ok && !so.exempt(m) {
		ok, wait = so.openAddrs.Allow(addr, now)
	}
	if ok {
		return nil
	}
	so.stats.ChannelOpensRefused.Add(1)
	return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait,
		Message: "opening new channels too fast; existing channels can still be joined"}
}

// allowLine applies a lobby channel's line rate to a line posted into it.
// The caller holds so.mu.
func (so *Social) allowLine(c *channel) error {
	now := so.host.Now()
	r := lazy(&c.lineRate, rate.Limit(so.cfg.ChannelLineRate), so.cfg.ChannelLineBurst).ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if r.OK() && wait == 0 {
		return nil
	}
	r.CancelAt(now)
	if !r.OK() {
		wait = time.Second
	}
	so.stats.ChatRefused.Add(1)
	return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait,
		Message: "channel busy: it takes " + strconv.FormatFloat(so.cfg.ChannelLineRate, 'g', -1, 64) + " lines a second from all its members"}
}

// closedLocked gives a lobby channel that is gone back to its opener's
// shares. The caller holds so.mu.
func (so *Social) closedLocked(c *channel) {
	if c.opener == "" {
		return
	}
	if so.opened[c.opener]--; so.opened[c.opener] <= 0 {
		delete(so.opened, c.opener)
	}
	if c.openerAddr.IsValid() {
		if so.openedAt[c.openerAddr]--; so.openedAt[c.openerAddr] <= 0 {
			delete(so.openedAt, c.openerAddr)
		}
	}
	if c.openerSite.IsValid() {
		if so.openedSite[c.openerSite]--; so.openedSite[c.openerSite] <= 0 {
			delete(so.openedSite, c.openerSite)
		}
	}
}

// LeaveChannel unsubscribes m from a lobby channel, and notes that its
// user left it (see JoinChannel). It runs on the member's loop.
func (so *Social) LeaveChannel(m *Member, id uint32, name string) error {
	key := channelKeyPrefix + name
	so.mu.Lock()
	joined := m.inChat(key)
	if joined {
		so.leaveLocked(m, key)
	}
	so.mu.Unlock()
	if !joined {
		return protocol.NewError(protocol.ErrorChannelNotFound, "channel not joined")
	}
	so.limits.noteLeft(m, name, so.host.Now())
	so.ok(m, id)
	return nil
}

// SendChat posts a line to a room's chat or a lobby channel. The line is
// encoded once and queued Reliable on every member but those who blocked
// the sender (and the sender itself when it asked so): chat is never
// dropped for a slow member, which the transport closes instead. Text
// holding a NUL is refused with ERROR_CODE_BAD_REQUEST, as a direct
// message's is: no store keeps it, and a line the members saw would be
// missing from the history they read later. It runs on the member's
// loop.
func (so *Social) SendChat(m *Member, id uint32, q *tickroomv1.SendChat) error {
	if (q.RoomId == "") == (q.Channel == "") {
		return protocol.NewError(protocol.ErrorBadRequest, "set exactly one of room_id and channel")
	}
	if strings.IndexByte(q.Text, 0) >= 0 {
		return protocol.NewError(protocol.ErrorBadRequest, "chat text cannot hold a NUL character")
	}
	if err := so.admitText(m, q.Text); err != nil {
		return err
	}
	key, miss := roomKeyPrefix+q.RoomId, protocol.ErrorNotInRoom
	if q.Channel != "" {
		key, miss = channelKeyPrefix+q.Channel, protocol.ErrorChannelNotFound
	}
	line := &tickroomv1.Chat{
		RoomId: q.RoomId, Channel: q.Channel, FromUserId: m.user, FromName: m.name,
		Text: q.Text, SentAtMs: so.host.Now().UnixMilli(),
	}
	l := server.GetRecipients()
	defer l.Release()
	so.mu.Lock()
	var c *channel
	if m.inChat(key) {
		if q.Channel != "" {
			c = so.channels[q.Channel]
		} else {
			c = so.rooms[q.RoomId]
		}
	}
	if c == nil {
		so.mu.Unlock()
		return protocol.NewError(miss, "")
	}
	if q.Channel != "" {
		if err := so.allowLine(c); err != nil {
			so.mu.Unlock()
			return err
		}
	}
	// Ok goes first so that the sender sees its reply before its echo.
	so.ok(m, id)
	if q.Channel != "" && so.peers != nil {
		so.mu.Unlock()
		so.stats.ChannelChats.Add(1)
		var exclude uint64
		if q.ExcludeSender {
			exclude = m.conn.ID()
		}
		// Every node in the channel, this one included, delivers the line
		// as Redis numbers it, above the last id here; when it cannot be
		// published, this node's members still get it.
		c.mu.Lock()
		line.Id = c.nextID
		c.mu.Unlock()
		so.keepLine(line)
		local := func(error) { so.ChannelLine(q.Channel, line, 0, exclude) }
		if err := so.peers.PostChannel(q.Channel, line, exclude, local); err != nil {
			local(err)
		}
		return nil
	}
	blockers := so.blockedBy[m.user]
	c.mu.Lock()
	line.Id = c.number(line)
	c.remember(line, so.cfg.HistoryLines)
	if q.Channel != "" {
		so.keepLine(line)
	}
	for _, r := range c.members {
		if r == m && q.ExcludeSender {
			continue
		}
		if _, blocked := blockers[r.user]; blocked {
			continue
		}
		l.Conns = append(l.Conns, r.conn)
	}
	so.mu.Unlock()
	so.host.Send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Chat{Chat: line}}, l.Conns)
	c.mu.Unlock()
	if q.Channel != "" {
		so.stats.ChannelChats.Add(1)
	} else {
		so.stats.RoomChats.Add(1)
	}
	so.stats.ChatDeliveries.Add(uint64(len(l.Conns)))
	return nil
}

// ChannelLine delivers a lobby channel line to this node's members of the
// channel (a cluster only): seq is the number Redis gave it, zero for a
// line that could not go through Redis (numbered here); exclude is a
// connection not to deliver it to (0 for none). Members who blocked the
// sender do not get it. Safe from any goroutine.
func (so *Social) ChannelLine(name string, line *tickroomv1.Chat, seq int64, exclude uint64) {
	l := server.GetRecipients()
	defer l.Release()
	so.mu.Lock()
	c := so.channels[name]
	if c == nil {
		so.mu.Unlock()
		return
	}
	blockers := so.blockedBy[line.FromUserId]
	c.mu.Lock()
	if seq > 0 {
		line.Id = uint64(seq)
		c.nextID = max(c.nextID, line.Id)
	} else {
		line.Id = c.number(line)
	}
	c.remember(line, so.cfg.HistoryLines)
	for _, r := range c.members {
		if exclude != 0 && r.conn.ID() == exclude {
			continue
		}
		if _, blocked := blockers[r.user]; blocked {
			continue
		}
		l.Conns = append(l.Conns, r.conn)
	}
	so.mu.Unlock()
	so.host.Send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Chat{Chat: line}}, l.Conns)
	c.mu.Unlock()
	so.stats.ChatDeliveries.Add(uint64(len(l.Conns)))
}
