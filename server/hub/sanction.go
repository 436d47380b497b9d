package hub

import (
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/auth"
)

// Kick closes every connection of userID with CLOSE_CODE_KICKED, ends its
// spectator feeds opened with a session token (WatchToken), and gives up
// its seats at once, those held from dropped connections included (no
// resume window). The user's tokens issued so far are refused for
// Config.KickDuration (a new login is not). It returns ErrNoSession when
// the user has neither a connection, a held seat nor a spectator feed
// opened with its token here, nor (in a cluster) a connection on another
// node; its tokens are refused all the
// same, so that a kick of a user who has just dropped keeps it from
// coming back with them. Safe from any goroutine.
func (h *Hub) Kick(userID, reason string) error { return h.KickFor(userID, reason, 0) }

// KickFor is Kick with the time the user's tokens are refused: d, or
// Config.KickDuration when d is zero or less. Safe from any goroutine.
func (h *Hub) KickFor(userID, reason string, d time.Duration) error {
	if d <= 0 {
		d = h.cfg.KickDuration
	}
	now := h.cfg.Now()
	r := Revocation{UserID: userID, IssuedBefore: now, Until: now.Add(d), Reason: reason}
	// In a cluster, look for the user's other nodes before the kick goes
	// out: once it has, the user's node may already have closed the
	// session and dropped its record.
	away := h.elsewhere(userID)
	if !h.expel(r, protocol.CloseKicked) && !away {
		return ErrNoSession
	}
	return nil
}

// Elsewhere is what a cluster Registry adds: whether a user has a session
// on another node. It waits on the cluster and is never called from an
// event loop.
type Elsewhere interface {
	Elsewhere(userID string) bool
}

// elsewhere reports whether userID has a session on another node.
func (h *Hub) elsewhere(userID string) bool {
	e, ok := h.reg.(Elsewhere)
	return ok && e.Elsewhere(userID)
}

// Expel closes every connection of userID with CLOSE_CODE_BANNED (ban)
// or CLOSE_CODE_KICKED, ends its spectator feeds opened with a session
// token, and frees its seats at once, held ones included,
// without recording a revocation: in a cluster, the node that kicked or
// banned the user recorded it and tells the others. It reports whether
// there was a connection, a seat or a feed. Safe from any goroutine.
func (h *Hub) Expel(userID string, ban bool, reason string) bool {
	code := protocol.CloseKicked
	if ban {
		code = protocol.CloseBanned
	}
	h.mu.Lock()
	ss := h.reg.Sessions(userID)
	held := h.takeHeldLocked(userID)
	h.mu.Unlock()
	return h.closeExpelled(userID, code, reason, ss, held)
}

// Ban refuses every session token of userID, new logins included, for d
// (zero: Config.BanDuration, and when that is zero until Unban), and
// closes its connections with CLOSE_CODE_BANNED, giving up its seats like
// Kick. It reports whether the user had a connection, a held seat or a
// spectator feed opened with its token here, or (in a cluster) a
// connection on another node; the ban holds either
// way. Safe from any goroutine.
func (h *Hub) Ban(userID, reason string, d time.Duration) bool {
	r := Revocation{UserID: userID, Ban: true, Reason: reason}
	if d == 0 {
		d = h.cfg.BanDuration
	}
	if d > 0 {
		r.Until = h.cfg.Now().Add(d)
	}
	// Looked for before the ban goes out, as in KickFor.
	away := h.elsewhere(userID)
	return h.expel(r, protocol.CloseBanned) || away
}

// Unban lifts userID's bans and kicks; it reports whether there were any.
// Safe from any goroutine.
func (h *Hub) Unban(userID string) bool { return h.revoked.Lift(userID) }

// expel records r, closes every connection of its user with code, ends its
// feeds and frees its seats at once, held ones included; it reports
// whether there was any.
// The revocation is recorded under Hub.mu, where Accept checks it before
// registering a session, so no connection slips between the two.
func (h *Hub) expel(r Revocation, code protocol.CloseCode) bool {
	userID, reason := r.UserID, r.Reason
	h.mu.Lock()
	h.revoked.Revoke(r)
	ss := h.reg.Sessions(userID)
	held := h.takeHeldLocked(userID)
	h.mu.Unlock()
	return h.closeExpelled(userID, code, reason, ss, held)
}

// closeExpelled closes an expelled user's sessions ss with code, and its
// spectator feeds opened with a token (WatchToken), and frees its held
// seats at once; it reports whether there was a session, a feed or a
// seat.
func (h *Hub) closeExpelled(userID string, code protocol.CloseCode, reason string, ss []*Session, held []heldSeat) bool {
	feedEnd := FeedEndKicked
	if code == protocol.CloseBanned {
		feedEnd = FeedEndBanned
	}
	feeds := h.tokenFeeds.end(userID, feedEnd, func(int64) bool { return true })
	for _, s := range ss {
		s.kicked.Store(true)
		s.close(code, reason)
	}
	for _, hs := range held {
		if room, ok := h.rt.Room(hs.roomID); ok {
			_ = room.LeaveAs(hs.seat, userID, nil)
			h.leftRoom(userID, hs.roomID)
		}
		if h.cluster != nil && !hs.spectator {
			h.releaseSeat(hs.roomID, userID, nil)
		}
	}
	return len(ss) > 0 || len(held) > 0 || feeds > 0
}

// SignOut ends userID's sessions of the tokens issued up to now (to the
// second, as tokens carry it): the account behind them has a new
// password. Those tokens are refused from now on, at the upgrade (HTTP
// 401), by Revoked, and so are the watch passes issued up to then, until
// the last of them has expired (plus the token TTL and
// auth.MaxClockSkew); the user's connections that carry one are closed
// with CLOSE_CODE_UNAUTHORIZED, and its spectator feeds opened with one
// end (WatchToken), but for those of the tokens issued in
// kept's second (to the second, as tokens carry it): kept is the issue
// time of the token the password change was made with, so the claimer's
// own connection (and any other of that second) stays open and keeps its
// seats; the app hands it the claim's new token for its next upgrade.
// Zero kept closes them all. The closed sessions' seats are held for the resume
// window, as after a drop, for a session of a newer token to take back.
// It returns the time up to which tokens are refused: now, or later when
// an earlier sign-out of the same second had tokens issued in the next
// (SignedOut). The caller issues its new token in the second after it.
// In a cluster, the other nodes close their connections when the
// revocation reaches them. Safe from any goroutine.
func (h *Hub) SignOut(userID string, now, kept time.Time) time.Time {
	// Recorded under Hub.mu, as in expel.
	h.mu.Lock()
	before := now
	if t, ok := h.SignedOut(userID, now); ok {
		// The tokens issued after that sign-out are in the next second.
		before = t.Truncate(time.Second).Add(time.Second)
	}
	h.revoked.Revoke(Revocation{UserID: userID, SignOut: true, IssuedBefore: before, Until: before.Add(h.cfg.Auth.TTL() + auth.MaxClockSkew), Kept: kept})
	ss := h.reg.Sessions(userID)
	h.mu.Unlock()
	closeSignedOut(before, kept, ss)
	h.tokenFeeds.endSignedOut(userID, before, kept)
	return before
}

// CloseSignedOut closes, as SignOut does, userID's connections whose
// tokens were issued up to before, and ends their spectator feeds, but
// for those of kept's second, without recording a revocation: in a
// cluster, the node that signed the user out recorded it and tells the
// others. Safe from any goroutine.
func (h *Hub) CloseSignedOut(userID string, before, kept time.Time) int {
	h.mu.Lock()
	ss := h.reg.Sessions(userID)
	h.mu.Unlock()
	h.tokenFeeds.endSignedOut(userID, before, kept)
	return closeSignedOut(before, kept, ss)
}

// closeSignedOut closes the sessions of ss whose tokens were issued up to
// before, to the second, but for those of kept's second (unless kept is
// zero), and returns how many.
func closeSignedOut(before, kept time.Time, ss []*Session) int {
	n := 0
	for _, s := range ss {
		if int64(s.issued) <= before.Unix() && (kept.IsZero() || int64(s.issued) != kept.Unix()) {
			s.close(protocol.CloseUnauthorized, signedOut)
			n++
		}
	}
	return n
}

// SignedOut reports whether userID's sign-outs (SignOut) refuse a token
// issued at now, and the time up to which they refuse them: a login then
// issues its token in the second after it (auth.Config.SignedOut). Safe
// from any goroutine.
func (h *Hub) SignedOut(userID string, now time.Time) (time.Time, bool) {
	// A token carries its issue time to the second. A sign-out of the
	// second after the one refusing it may refuse the next one too. The
	// sign-outs alone are asked: a kick of the same second refuses the
	// token too, and would hide the sign-out behind it.
	at := now.Truncate(time.Second)
	var last time.Time
	for {
		r, ok := h.revoked.CheckSignOut(userID, at, now)
		if !ok {
			break
		}
		last = r.IssuedBefore
		at = last.Truncate(time.Second).Add(time.Second)
	}
	return last, !last.IsZero()
}
