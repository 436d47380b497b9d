package social

import (
	"container/list"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// A member's rate limiters (its chat lines and direct messages, signals,
// the users its presence queries name, its contact requests, its joins of
// lobby channels it is in already, its pages read from the store) are its
// user's on this node, not its connection's: every connection of the user
// shares them, and one it opens later takes them up as they were left.
// Held by the connection, a guest that closed its connection and opened
// another, a thousand times a second from one address with one token,
// had a new burst each time: its offline direct messages (each a row of
// the store) and contact requests (each a write on the queue every user
// shares) went at the burst times its reconnects, not at the rate.
//
// The users whose limiters are kept are bounded (maxRateUsers): past it
// the one that used them the longest ago is forgotten, one per new user,
// and only its next connection starts afresh (its connections open now
// keep theirs). A user that reconnects to go faster is never that one.

// maxRateUsers bounds the users whose limiters a node keeps: more than a
// node's default connection cap (server.Config.MaxConns, 10,000), so that
// a user forgotten is one whose buckets had long refilled.
const maxRateUsers = 16384

// limiters are a user's rate limiters, each made on its first use; they
// are held apart from the Member, which fits 128 B so (see
// size_internal_test.go). Guarded by userLimiters.mu.
type limiters struct {
	chat     *rate.Limiter // chat lines and direct messages
	signal   *rate.Limiter // signaling messages
	presence *rate.Limiter // users named by presence queries
	contact  *rate.Limiter // friend requests, answers and removals, blocks and unblocks
	rejoin   *rate.Limiter // joins of lobby channels joined already
	read     *rate.Limiter // pages read from the store (TakeStoreRead)
	left     *leftChannels // lobby channels left lately
}

// Lobby channels a user left lately, whose joins again take from
// ChannelRejoinRate (JoinChannel): each is answered with the channel's
// whole history, as a repeat join of a channel the connection is in is,
// so a client leaving and joining a channel that another member keeps
// open had its history sent at its message rate.
const (
	// leftFor is how long a leave counts.
	leftFor = time.Minute
	// leftKept bounds the channels remembered a user: MaxChannelsPerUser's
	// default, so a client that leaves every channel it holds and joins
	// them back is within it.
	leftKept = 8
)

// leftSeed hashes the names of channels left: a user's are kept as hashes,
// 16 B each, and two names that share one only charge a join that need not
// be.
var leftSeed = maphash.MakeSeed()

// leftChannels are the lobby channels a user left within leftFor, at
// most leftKept; past them every join within leftFor of all is charged,
// so that leaving more channels than are kept frees none. The times are
// the wall clock's: a leave ahead of now (the clock stepped back) counts
// for nothing (leftWithin).
type leftChannels struct {
	names [leftKept]uint64 // maphash of the name
	at    [leftKept]int64  // when left, Unix ns; 0 for none
	all   int64            // Unix ns of the last leave forgotten while it counted; 0 for none
}

// leftWithin reports whether a leave at at (Unix ns; 0 for none) was
// within leftFor before ns, and not after it.
func leftWithin(ns, at int64) bool {
	return at != 0 && ns >= at && ns-at < int64(leftFor)
}

// noteLeft records that m's user left lobby channel name at now. It runs
// on m's loop.
func (t *userLimiters) noteLeft(m *Member, name string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lim := t.ofLocked(m)
	if lim.left == nil {
		lim.left = new(leftChannels)
	}
	l, h, ns := lim.left, maphash.String(leftSeed, name), now.UnixNano()
	i := slices.IndexFunc(l.names[:], func(n uint64) bool { return n == h })
	if i < 0 || l.at[i] == 0 {
		// A free place, else the one left the longest ago: if that
		// still counts, every join counts until it would have ended.
		i = 0
		for j := range l.at {
			if l.at[j] < l.at[i] {
				i = j
			}
		}
		if leftWithin(ns, l.at[i]) {
			l.all = max(l.all, l.at[i])
		}
	}
	l.names[i], l.at[i] = h, ns
}

// leftLately reports whether m's user left lobby channel name within
// leftFor of now (or so many channels that it is not known). It runs on
// m's loop.
func (t *userLimiters) leftLately(m *Member, name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	lim := m.lim
	if e, ok := t.keys[m.user]; ok {
		lim = e.Value.(*userLimits).lim
	}
	if lim == nil || lim.left == nil {
		return false
	}
	l, h, ns := lim.left, maphash.String(leftSeed, name), now.UnixNano()
	if leftWithin(ns, l.all) {
		return true
	}
	for j := range l.names {
		if l.names[j] == h && leftWithin(ns, l.at[j]) {
			return true
		}
	}
	return false
}

// userLimiters holds the limiters of the users that used one, at most
// maxRateUsers, least recently used first out. Safe from any goroutine.
type userLimiters struct {
	mu   sync.Mutex
	keys map[string]*list.Element // values are *userLimits
	lru  list.List                // most recently used at the front
}

type userLimits struct {
	user string
	lim  *limiters
}

// limiter returns the limiter pick chooses among m's user's, made with r
// and b on its first use, and marks the user most recently used. It runs
// on m's loop.
func (t *userLimiters) limiter(m *Member, pick func(*limiters) **rate.Limiter, r rate.Limit, b int) *rate.Limiter {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lazy(pick(t.ofLocked(m)), r, b)
}

// ofLocked returns m's user's limiters, made on their first use, and marks
// the user most recently used. The caller holds t.mu; it runs on m's loop.
func (t *userLimiters) ofLocked(m *Member) *limiters {
	if e, ok := t.keys[m.user]; ok {
		t.lru.MoveToFront(e)
		m.lim = e.Value.(*userLimits).lim
	} else {
		if t.keys == nil {
			t.keys = make(map[string]*list.Element)
		}
		if len(t.keys) >= maxRateUsers {
			old := t.lru.Back()
			delete(t.keys, old.Value.(*userLimits).user)
			t.lru.Remove(old)
		}
		if m.lim == nil {
			m.lim = new(limiters)
		}
		// A member whose user was forgotten while it stayed connected
		// brings its limiters back.
		t.keys[m.user] = t.lru.PushFront(&userLimits{user: m.user, lim: m.lim})
	}
	return m.lim
}

// lazy returns *l, made with r and b on its first use.
func lazy(l **rate.Limiter, r rate.Limit, b int) *rate.Limiter {
	if *l == nil {
		*l = rate.NewLimiter(r, b)
	}
	return *l
}
