package hub

import (
	"sync"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

// The reasons WatchToken's end is given: the "reason" of the end event of
// a spectator feed whose token a revocation ended.
const (
	FeedEndKicked    = "kicked"
	FeedEndBanned    = "banned"
	FeedEndSignedOut = "signed_out"
)

// tokenFeeds are the spectator feeds open with a session token
// (WatchToken), by user. Its zero value is empty; safe from any goroutine.
type tokenFeeds struct {
	mu    sync.Mutex
	users map[string]map[*tokenFeed]struct{}
}

// tokenFeed is one feed of tokenFeeds.
type tokenFeed struct {
	issued int64 // the token's issue time, in Unix seconds, as tokens carry it
	end    func(reason string)
}

// WatchToken ties a spectator feed opened with the session token of claims
// to that token: end is called, once, when a revocation closes the
// token's connections, on this node or, in a cluster, when it arrives from
// another: a kick (FeedEndKicked) or a ban (FeedEndBanned) of the user,
// or a sign-out by a new password that refuses the token
// (FeedEndSignedOut; as SignOut spares the connections of its kept
// second, it spares their feeds). end runs on the revocation's goroutine
// and must not block. stop forgets the feed; call it when the feed ends.
// The feed checks its token (Revoked) after WatchToken, so that a
// revocation made between the two is seen by one or the other. Safe from
// any goroutine.
func (h *Hub) WatchToken(claims auth.Claims, end func(reason string)) (stop func()) {
	tf := &tokenFeed{issued: claims.IssuedAt.Unix(), end: end}
	f, user := &h.tokenFeeds, claims.UserID
	f.mu.Lock()
	if f.users == nil {
		f.users = make(map[string]map[*tokenFeed]struct{})
	}
	m := f.users[user]
	if m == nil {
		m = make(map[*tokenFeed]struct{})
		f.users[user] = m
	}
	m[tf] = struct{}{}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if m := f.users[user]; m != nil {
			delete(m, tf)
			if len(m) == 0 {
				delete(f.users, user)
			}
		}
	}
}

// end ends userID's feeds whose tokens' issue times (Unix seconds) ends
// picks, with reason, and forgets them; it returns how many it ended.
func (f *tokenFeeds) end(userID, reason string, ends func(issued int64) bool) int {
	var done []*tokenFeed
	f.mu.Lock()
	for tf := range f.users[userID] {
		if ends(tf.issued) {
			done = append(done, tf)
			delete(f.users[userID], tf)
		}
	}
	if len(f.users[userID]) == 0 {
		delete(f.users, userID)
	}
	f.mu.Unlock()
	for _, tf := range done {
		tf.end(reason)
	}
	return len(done)
}

// endSignedOut ends userID's feeds of the tokens issued up to before, to
// the second, but for those of kept's second (unless kept is zero), as
// closeSignedOut closes their connections.
func (f *tokenFeeds) endSignedOut(userID string, before, kept time.Time) {
	f.end(userID, FeedEndSignedOut, func(issued int64) bool {
		return issued <= before.Unix() && (kept.IsZero() || issued != kept.Unix())
	})
}
