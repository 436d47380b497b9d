package social

import (
	"container/list"
	"sync"

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
	return lazy(pick(m.lim), r, b)
}

// lazy returns *l, made with r and b on its first use.
func lazy(l **rate.Limiter, r rate.Limit, b int) *rate.Limiter {
	if *l == nil {
		*l = rate.NewLimiter(r, b)
	}
	return *l
}
