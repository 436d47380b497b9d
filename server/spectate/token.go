package spectate

// A stream opened with a session token: the token's checks when it opens,
// and its end when the token is revoked or expires.

import (
	"net/http"
	"strings"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

// revocation tells a stream a session token opened that the token was
// revoked: done is closed once reason is set. The stream ends at expires
// too, when the token expires, as its connections are closed then.
type revocation struct {
	done    chan struct{}
	reason  string
	stop    func()    // forgets it (Members.WatchToken)
	expires time.Time // on the monotonic clock, from the token's expiry
}

// bearer returns the session token r carries: ?token=, since
// EventSource cannot send headers, or a Bearer Authorization header; ""
// when none.
func bearer(r *http.Request) string {
	tok := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); tok == "" && strings.HasPrefix(h, "Bearer ") {
		tok = strings.TrimPrefix(h, "Bearer ")
	}
	return tok
}

// watchToken verifies the session token tok, refuses it as the upgrade
// would (Members.Revoked), and returns what tells the stream of its
// revocation from then on, with its claims; a non-zero status refuses it.
func (f *Feeds) watchToken(tok string) (*revocation, auth.Claims, int, string) {
	now := time.Now()
	claims, err := f.cfg.Auth.Verify(tok, now)
	if err != nil {
		return nil, auth.Claims{}, http.StatusUnauthorized, "session token refused"
	}
	// Watched before the check below: a revocation made meanwhile is seen
	// by one or the other.
	rev := &revocation{done: make(chan struct{}), expires: now.Add(claims.ExpiresAt.Sub(now))}
	rev.stop = f.cfg.Members.WatchToken(claims, func(reason string) {
		rev.reason = reason
		close(rev.done)
	})
	// A kick refuses the tokens issued before it, and the member may be
	// back with a new one: the old token (a leaked link) opens no feed.
	if msg, revoked := f.cfg.Members.Revoked(claims, now); revoked {
		rev.stop()
		return nil, auth.Claims{}, http.StatusForbidden, msg
	}
	return rev, claims, 0, ""
}

// memberToken admits a private room's stream by a session token of one
// of its members, and returns what tells the stream the token's
// revocation.
func (f *Feeds) memberToken(r *http.Request, roomID string) (*revocation, int, string) {
	tok := bearer(r)
	if tok == "" {
		return nil, http.StatusUnauthorized, "a private room needs a watch pass or a member's session token"
	}
	rev, claims, st, msg := f.watchToken(tok)
	if st != 0 {
		return nil, st, msg
	}
	for _, u := range f.cfg.Members.RoomMembers(roomID) {
		if u == claims.UserID {
			return rev, 0, ""
		}
	}
	rev.stop()
	return nil, http.StatusForbidden, "only the room's members may watch a private room"
}

// tokenExpired is the end event's reason of a stream whose token expired.
const tokenExpired = "token_expired"

// tokenEnded reports, without waiting, whether the token that opened the
// stream was revoked or has expired, and the reason of the stream's end.
func (st *stream) tokenEnded() (string, bool) {
	if st.revoked == nil {
		return "", false
	}
	select {
	case <-st.revoked.done:
		return st.revoked.reason, true
	default:
	}
	if !time.Now().Before(st.revoked.expires) {
		return tokenExpired, true
	}
	return "", false
}

// endToken ends a stream whose token ended: revoked (a kick, a ban or a
// new password) or expired, which closed its connections too.
func (st *stream) endToken(reason string) string {
	st.write([]byte("event: end\ndata: {\"reason\":\"" + reason + "\"}\n\n"))
	return "token ended: " + reason
}
