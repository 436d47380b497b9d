// Package social is tickroom's chat, presence and contact layer: room chat
// and lobby channels with a bounded history, direct messages, friends,
// blocks, presence and operator notifications. It knows connections only
// as *server.Conn values to address, and reaches the server through Host:
// the hub creates a Member for each session and calls the request methods
// from the session's event loop.
//
// Without a Graph (Config.Graph), users' lists live while the user has a
// connection, and a client that reconnects after going offline sends its
// friend requests again. With one (the store's, in package tickroom), every
// change to friendships, requests and blocks is saved without waiting, and
// a user's side is loaded on a goroutine of its own when it comes online
// (one per user at a time, however often it reconnects meanwhile);
// its connections then get each friend's Presence and the requests standing
// for it (graph.go).
//
// Requests answer success themselves (an Ok, a history, a presence list)
// and return refusals as errors carrying their wire code
// (*protocol.Error); the caller turns an error into the Error reply.
//
// Rate limits (a user's chat lines and direct messages, its signaling
// messages, the users its presence queries name, its contact requests,
// and the signaling bytes toward one user) are golang.org/x/time/rate
// Limiters. A user's own are made on its first line, signal, query or
// contact request and kept across its connections, so that reconnecting
// brings no new burst (limiters.go): most users send no line or signal,
// and then hold a nil pointer.
//
// Concurrency and lock order: Social.mu before channel.mu. Frames are
// queued on connections (which takes only transport-internal locks) under
// channel.mu so that every member sees a channel's lines in id order.
// Neither is held while calling into a room, and neither is taken while the
// caller holds a lock of its own (the hub's registry or a session's
// mutex).
package social

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
)

// Fanout delivers server messages to connections and users, each message
// encoded once however many receive it. Everything it sends is Reliable: a
// connection too slow to take it is closed by the transport. The hub's
// LocalFanout reaches the connections of one process; a cluster fan-out
// also publishes to the nodes where a user is connected. Its methods are
// safe from any goroutine and never block.
type Fanout interface {
	// Send queues m on every connection in to; it reports false when m
	// cannot be encoded. to is not kept.
	Send(m *tickroomv1.ServerMessage, to []*server.Conn) bool
	// Reply queues m on one connection.
	Reply(c *server.Conn, m *tickroomv1.ServerMessage)
	// SendToUser queues m on every live connection of userID and returns
	// how many that was.
	SendToUser(userID string, m *tickroomv1.ServerMessage) int
}

// Host is what social needs from the server it runs in: delivery and the
// clock. Its methods are called with Social's locks held and must not call
// back into Social.
type Host interface {
	Fanout
	// Now tells the time.
	Now() time.Time
}

// ErrConfig wraps a Config or Host that New refuses.
var ErrConfig = errors.New("social: invalid config")

// Social holds the chat, presence and contact state of one server. Its
// request methods run on the member's event loop; the others are safe from
// any goroutine.
type Social struct {
	host  Host
	cfg   Config
	stats *Stats
	peers Peers // nil on a single node

	nextDirect   atomic.Uint64
	openUsers    *clientip.Buckets[string] // lobby channel opens per user
	openAddrs    *clientip.Limiter         // lobby channel opens per client address
	contactAddrs *clientip.Limiter         // contact requests per client address
	offlineAddrs *clientip.Limiter         // direct messages kept for offline users, per client address
	strangerDMs  *clientip.Buckets[string] // direct messages to online users from non-friends, per recipient (allowDirectLocked)
	limits       userLimiters              // users' rate limiters (limiters.go)
	admitting    atomic.Int64              // friend requests and blocks awaiting Graph.Admit (maxAdmits)
	keeping      atomic.Int64              // direct messages awaiting Inbox.Keep (maxKeeps)
	holds        requestHolds              // friend requests per recipient and address not yet stored (requesthold.go)

	mu         sync.Mutex
	users      map[string]*profile            // users with a live member
	watchers   map[string]map[string]struct{} // user → friends who watch its presence
	requestsTo map[string]map[string]struct{} // user → users whose friend request to it stands
	blockedBy  map[string]map[string]struct{} // user → users who blocked it
	rooms      map[string]*channel            // room id → room chat
	channels   map[string]*channel            // lobby channel name → channel
	opened     map[string]int                 // user → lobby channels it opened that exist
	openedAt   map[netip.Addr]int             // address → the same
	openedSite map[netip.Prefix]int           // IPv6 /48 → the same
	pending    map[pendingKey]uint64          // friend requests and blocks awaiting Graph.Admit → their generation
	loads      map[string]*profile            // users whose lists are being read (graph.go, oneAtATime) → the profile to read them for next
	inboxes    map[string]*profile            // users whose inbox is being read → the same
	pendingGen uint64
	remoteAt   map[string]int       // node → profiles' remote entries naming it (NodesLive)
	nodeMissed map[string]int       // node named by remote entries → polls in a row it was not live
	nodeStart  map[string]int64     // node named by remote entries → its start as last polled (Unix ns)
	asking     map[*profile]*asking // profiles whose presence questions await other nodes (askRemotePresenceLocked)

	// unblocked holds, for a profile whose lists the Graph's load has not
	// merged yet (profile.merged), the users its user unblocked
	// meanwhile: the load may have read the store before the Unblock was
	// written, and leaves them out. unfriended holds the same for the
	// friendships and friend requests either way that ended meanwhile
	// (removed, withdrawn, declined, or ended by a block). Each holds at
	// most MaxListSize users a profile (noteEndedLocked; past them,
	// profile.unblockedLost and unfriendedLost).
	unblocked  map[*profile]map[string]struct{}
	unfriended map[*profile]map[string]struct{}
}

// Member is one connection of a user as social knows it, from Connect to
// Disconnect.
type Member struct {
	user, name string
	conn       *server.Conn
	closed     atomic.Bool  // Disconnect ran
	admits     atomic.Int32 // its friend requests and blocks awaiting Graph.Admit
	moved      atomic.Bool  // a login on another node replaced it (Moved)
	guest      bool         // its session is a guest's (ConnectAs)
	awaiting   atomic.Int32 // users of other nodes its presence queries await answers about
	keeping    atomic.Int32 // its direct messages awaiting Inbox.Keep

	chats   []string // chat keys (see chat.go); guarded by Social.mu
	playing []string // ids of the rooms this connection holds a player seat in (not a spectator's); guarded by Social.mu

	// Loop-only state: its user's rate limiters (limiters.go), taken up
	// on the member's first line, signal, presence query or contact
	// request (most connections send none of some).
	lim *limiters
}

// UserID returns the member's user id.
func (m *Member) UserID() string { return m.user }

// addr is the member's client address as per-address shares count it: an
// IPv4 address, or an IPv6 address's /64 (clientip.Group). It is read from
// the connection rather than kept, so that a Member fits 128 B. A member
// made without a connection, as the package's own tests make them, has
// the zero address.
func (m *Member) addr() netip.Addr {
	if m.conn == nil {
		return netip.Addr{}
	}
	return clientip.Key(m.conn.ClientIP())
}

// exempt reports whether m's client address has no per-address share
// (Config.AddressExempt). It asks about the address itself, as the hub
// does, not about addr's /64: the /64 of ::1 is ::, which is not
// loopback, so a proxy on the same host over ::1 would have all its users
// counted as one address. A member made without a connection asks about
// the zero address.
func (so *Social) exempt(m *Member) bool {
	if m.conn == nil {
		return so.cfg.AddressExempt(netip.Addr{})
	}
	return so.cfg.AddressExempt(m.conn.ClientIP())
}

// profile is an online user's social state. Guarded by Social.mu.
type profile struct {
	name      string
	members   []*Member
	friends   map[string]struct{} // friends, whose presence this user watches
	requested map[string]int64    // friend requests this user made → when (Unix ms)
	incoming  map[string]Request  // friend requests standing for this user, by sender
	loaded    bool                // the Graph's load was started
	listed    bool                // the Graph's load ended with all of the user's ties: what the lists lack, the store has not (mayBeTiedLocked)
	blocked   bool                // the Graph's load ended with all of the user's blocks: what the block list lacks, the store has not (Block); listed or not
	friended  bool                // the Graph's load ended with all of the user's friendships and own requests: what friends and requested lack, the store has not (acceptNeedsAdmitLocked); listed or not
	inboxed   bool                // the Inbox's delivery was started
	merged    bool                // the Graph's load ended, merged into the lists (Social.unblocked)

	// More users were unblocked (ties ended) before the load merged than
	// Social.unblocked (unfriended) notes: the load keeps none of the
	// blocks (friendships and requests) it read (noteEndedLocked).
	unblockedLost, unfriendedLost bool

	blocks   map[string]struct{}
	rooms    []RoomPresence        // rooms the user is in, oldest first
	since    int64                 // when the current status began (Unix ns)
	signalIn *rate.Limiter         // signaling bytes toward this user, from everyone; made on first use
	remote   map[string]remoteNote // friends on other nodes this user was last told are online → their node, and when (noteRemoteLocked)
}

// RoomPresence is a room a user is in, as presence shows it.
type RoomPresence struct {
	// ID and Game name the room and its game.
	ID, Game string
	// Private rooms are not named in presence.
	Private bool
	// Spectator is set when the user only watches the room. Anyone may
	// watch a public room, so a spectator cannot signal its players (see
	// SendSignal).
	Spectator bool
}

// New returns an empty Social that reaches the server through host and
// counts into stats (nil means counters of its own).
func New(cfg Config, host Host, stats *Stats) (*Social, error) {
	if host == nil {
		return nil, errors.Join(ErrConfig, errors.New("social: Host is required"))
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if stats == nil {
		stats = new(Stats)
	}
	cfg = cfg.withDefaults()
	so := &Social{
		host: host, cfg: cfg, stats: stats, peers: cfg.Peers,
		openUsers:    clientip.NewBuckets[string](rate.Limit(cfg.ChannelOpenRate), cfg.ChannelOpenBurst, cfg.ChannelOpenKeys),
		openAddrs:    clientip.NewLimiter(rate.Limit(cfg.ChannelOpenAddressRate), cfg.ChannelOpenAddressBurst, cfg.ChannelOpenKeys),
		contactAddrs: clientip.NewLimiter(rate.Limit(cfg.ContactAddressRate), cfg.ContactAddressBurst, maxRateUsers),
		offlineAddrs: clientip.NewLimiter(rate.Limit(cfg.OfflineAddressRate), cfg.OfflineAddressBurst, maxRateUsers),
		strangerDMs:  clientip.NewBuckets[string](rate.Limit(cfg.StrangerDirectRate), cfg.StrangerDirectBurst, maxRateUsers),
		users:        make(map[string]*profile),
		watchers:     make(map[string]map[string]struct{}),
		requestsTo:   make(map[string]map[string]struct{}),
		blockedBy:    make(map[string]map[string]struct{}),
		rooms:        make(map[string]*channel),
		channels:     make(map[string]*channel),
		opened:       make(map[string]int),
		openedAt:     make(map[netip.Addr]int),
		openedSite:   make(map[netip.Prefix]int),
		pending:      make(map[pendingKey]uint64),
		loads:        make(map[string]*profile),
		unblocked:    make(map[*profile]map[string]struct{}),
		unfriended:   make(map[*profile]map[string]struct{}),
		inboxes:      make(map[string]*profile),
	}
	return so, nil
}

// directID numbers a direct message. DirectMessage.id is unique per
// sender, and a client skips one it showed: ids follow the time they are
// given, as a lobby channel's lines do (lineID, or one more than the
// last), so that a sender's messages after a restart, or from another
// node of a cluster (started in the same millisecond, or earlier), never
// take the ids of its messages before.
func (so *Social) directID() uint64 {
	for {
		last := so.nextDirect.Load()
		id := max(last+1, lineID(so.host.Now().UnixMilli()))
		if so.nextDirect.CompareAndSwap(last, id) {
			return id
		}
	}
}

// Stats returns the counters Social adds to.
func (so *Social) Stats() *Stats { return so.stats }

// Connect records a new connection of a user (per-address shares count
// it by its client address, an IPv6 address by its /64); a user's first
// connection makes it online. Call it once the connection is registered as
// the user's, before any request of the member.
func (so *Social) Connect(userID, name string, c *server.Conn) *Member {
	return so.ConnectAs(userID, name, false, c)
}

// ConnectAs is Connect for a user whose session says whether it is a
// guest (an account with neither a claimed name nor a linked identity):
// its friend requests count against Config.MaxGuestRequests.
func (so *Social) ConnectAs(userID, name string, guest bool, c *server.Conn) *Member {
	m := &Member{user: userID, name: name, conn: c, guest: guest}
	now := so.host.Now()
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[userID]
	if p != nil {
		p.members = append(p.members, m)
		return m
	}
	p = &profile{name: name, members: []*Member{m}, since: now.UnixNano()}
	so.users[userID] = p
	for from := range so.requestsTo[userID] {
		if fp := so.users[from]; fp != nil && !has(fp.blocks, userID) && len(p.incoming) < so.cfg.MaxListSize {
			p.addIncoming(Request{From: from, Name: fp.name, AtMs: fp.requested[userID]})
		}
	}
	so.announceLocked(userID, p)
	return m
}

// Welcomed sends a new member the friend requests standing for its user.
// Call it after the connection's first message (Welcome).
// With a Graph, the user's first connection starts loading its lists;
// its friends' Presence and the requests stored for it follow when they
// are read.
func (so *Social) Welcomed(m *Member) {
	so.mu.Lock()
	defer so.mu.Unlock()
	so.pendingRequestsLocked(m)
	if p := so.users[m.user]; p != nil && (so.cfg.Graph == nil || p.loaded) {
		// The user was online already (another socket, or the login this
		// one replaces): its lists were read then, and this connection is
		// told the friends they hold as the first one was.
		so.friendListLocked(m, p)
	}
	if p := so.users[m.user]; p != nil && so.cfg.Graph != nil && !p.loaded {
		p.loaded = true
		so.oneAtATimeLocked(so.loads, m.user, p, so.load)
	}
	if p := so.users[m.user]; p != nil && so.cfg.Inbox != nil && !p.inboxed {
		p.inboxed = true
		so.oneAtATimeLocked(so.inboxes, m.user, p, so.deliverInbox)
	}
	if p := so.users[m.user]; so.peers != nil && p != nil && len(p.members) == 1 {
		// Requests made to this user by users of other nodes.
		so.peers.Cast(&RemoteOp{Kind: OpOnline, From: m.user})
	}
}

// friendListLocked sends m a Presence for each friend of its user, whose
// lists p holds already: a friend on another node as its node answers
// (offline when it does not). Friends the Graph's load adds later reach m
// with the load's own list. The caller holds so.mu.
func (so *Social) friendListLocked(m *Member, p *profile) {
	var remote []string
	for x := range p.friends {
		if so.remoteLocked(x) {
			remote = append(remote, x)
			continue
		}
		so.host.Reply(m.conn, presenceMessage(so.presenceLocked(x, so.users[x])))
	}
	if len(remote) > 0 {
		so.askRemotePresenceLocked(m.user, p, remote, func(msg *tickroomv1.ServerMessage) {
			if !m.closed.Load() {
				so.host.Reply(m.conn, msg)
			}
		})
	}
}

// Moved marks m as replaced by a login of its user on another node: its
// Disconnect tells no one that the user went offline. Safe from any
// goroutine.
func (so *Social) Moved(m *Member) { m.moved.Store(true) }

// Disconnect forgets a closed connection: it leaves its rooms' chat and its
// channels; a user's last connection makes it offline and drops its lists.
func (so *Social) Disconnect(m *Member) {
	uid := m.user
	so.mu.Lock()
	defer so.mu.Unlock()
	m.closed.Store(true)
	chats := m.chats
	m.chats = nil
	for _, key := range chats {
		so.leaveLocked(m, key)
	}
	p := so.users[uid]
	if p == nil {
		return
	}
	p.members = deleteItem(p.members, m)
	if len(p.members) > 0 {
		// Another connection stays: the user is still in the rooms it is
		// in, and no longer in those only this one was in.
		changed := false
		p.rooms = slices.DeleteFunc(p.rooms, func(r RoomPresence) bool {
			key := roomKeyPrefix + r.ID
			if !slices.Contains(chats, key) || slices.ContainsFunc(p.members, func(o *Member) bool { return o.inChat(key) }) {
				return false
			}
			changed = true
			return true
		})
		if changed {
			p.since = so.host.Now().UnixNano()
			so.announceLocked(uid, p)
		}
		return
	}
	delete(so.users, uid)
	delete(so.unblocked, p)
	delete(so.unfriended, p)
	so.forgetRemoteLocked(p)
	elsewhere := so.peers != nil && so.cfg.SharedUsers && !m.moved.Load()
	switch {
	case m.moved.Load():
		// The user is online on another node: its friends keep the status
		// they were last told.
		delete(so.watchers, uid)
	case elsewhere:
		// The user may still be connected on another node: its friends
		// are told it is offline once the other nodes say it is not.
		so.offlineUnlessElsewhere(uid, p.friends)
	default:
		so.announceRemoteLocked(uid, so.offlineLocked(uid), p.friends)
	}
	for f := range p.friends {
		unlink(so.watchers, f, uid)
	}
	for r := range p.requested {
		unlink(so.requestsTo, r, uid)
		if rp := so.users[r]; rp != nil && so.cfg.Graph == nil {
			// Kept nowhere else: the request ends with its sender.
			delete(rp.incoming, uid)
		}
	}
	for b := range p.blocks {
		unlink(so.blockedBy, b, uid)
	}
	if !m.moved.Load() && !elsewhere {
		so.announceLocked(uid, nil)
	}
}

// offlineUnlessElsewhere tells uid's friends, here and on other nodes,
// that it is offline, unless Peers finds it connected on another node
// (SharedUsers) or it connected here again meanwhile. friends is the
// friend list of its profile here, which is no longer changed. It does
// not wait.
func (so *Social) offlineUnlessElsewhere(uid string, friends map[string]struct{}) {
	so.peers.Call([]*RemoteOp{{Kind: OpQueryPresence, From: uid, To: uid}}, func(as []RemoteAnswer) {
		a := as[0]
		if a.Err == nil && a.Code == 0 {
			if pr := decodePresence(a.Presence); pr != nil && pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
				return // connected on another node
			}
		}
		so.mu.Lock()
		defer so.mu.Unlock()
		if so.users[uid] != nil {
			return // back here meanwhile: its Connect told its friends
		}
		so.announceRemoteLocked(uid, so.offlineLocked(uid), friends)
		so.announceLocked(uid, nil)
	})
}

// deleteItem removes the first x from list.
func deleteItem[T comparable](list []T, x T) []T {
	if i := slices.Index(list, x); i >= 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}

// link adds v to m[k].
func link[K comparable](m map[K]map[string]struct{}, k K, v string) {
	set := m[k]
	if set == nil {
		set = make(map[string]struct{})
		m[k] = set
	}
	set[v] = struct{}{}
}

// unlink removes v from m[k].
func unlink[K comparable](m map[K]map[string]struct{}, k K, v string) {
	if set := m[k]; set != nil {
		delete(set, v)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// reply answers request id of m with msg; a request without an id gets no
// reply (ClientMessage.request_id's contract).
func (so *Social) reply(m *Member, id uint32, msg *tickroomv1.ServerMessage) {
	if id == 0 {
		return
	}
	msg.RequestId = id
	so.host.Reply(m.conn, msg)
}

// ok answers request id of m with Ok.
func (so *Social) ok(m *Member, id uint32) {
	so.reply(m, id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Ok{Ok: &tickroomv1.Ok{}}})
}
