package hub

import (
	"slices"
	"sync"
	"time"
)

// Revocation refuses some of a user's session tokens at the handshake.
type Revocation struct {
	// UserID is whose tokens it refuses.
	UserID string
	// Ban refuses every token of the user, those issued later included.
	// Without it, only tokens issued up to IssuedBefore are refused (a
	// kick: the user may log in again).
	Ban bool
	// SignOut marks the end of the user's sessions by a new password
	// (Hub.SignOut): the tokens issued up to IssuedBefore are refused as
	// by a kick, until the last of them has expired (Until), with a
	// message of its own; Lift (an unban) keeps it.
	SignOut bool
	// IssuedBefore is the kick's time: tokens issued at or before it (to
	// the second, as tokens carry it) are refused.
	IssuedBefore time.Time
	// Until is when the revocation lapses. Zero value means never.
	Until time.Time
	// Kept, for a sign-out, is when the token of the request that made it
	// (the password change) was issued: the open sessions of the tokens
	// issued in that second are not closed, so that the claimer keeps
	// playing (its token is still refused at the next upgrade). Zero
	// value means none is kept.
	Kept time.Time
	// Reason is told to the refused client.
	Reason string
}

// refuses reports whether r refuses a token issued at issuedAt, at now.
func (r Revocation) refuses(issuedAt, now time.Time) bool {
	if !r.Until.IsZero() && !now.Before(r.Until) {
		return false
	}
	return r.Ban || !issuedAt.After(r.IssuedBefore.Truncate(time.Second))
}

// message is what a refused upgrade is told.
func (r Revocation) message() string {
	msg := "session revoked by a kick; log in again"
	switch {
	case r.Ban:
		msg = "user banned"
	case r.SignOut:
		msg = signedOut
	}
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	return msg
}

// signedOut is what a token of a session a new password ended is told.
const signedOut = "session ended: the account's password was changed; log in again"

// status is the refused upgrade's HTTP status: 401 for a token a new
// password ended (log in again), 403 for a kick or a ban.
func (r Revocation) status() int {
	if r.SignOut {
		return 401
	}
	return 403
}

// Revocations remembers kicks and bans beyond the connections they closed,
// so that a kicked token cannot reconnect and a ban outlives reconnects.
// The default, MemoryRevocations, forgets them with the process; a store
// keeps them. Its methods are safe from any goroutine; Check runs on an
// event loop during the handshake and must answer from memory.
type Revocations interface {
	// Revoke records r.
	Revoke(r Revocation)
	// Check returns the revocation that refuses userID's token issued at
	// issuedAt, at now; false when none does.
	Check(userID string, issuedAt, now time.Time) (Revocation, bool)
	// CheckSignOut is Check for the sign-outs (Revocation.SignOut) alone:
	// it returns the one that refuses the token whatever kick or ban
	// refuses it too, and must answer from memory as Check does.
	CheckSignOut(userID string, issuedAt, now time.Time) (Revocation, bool)
	// Lift forgets userID's kicks and bans and reports whether any was
	// in force (one that has lapsed counts for none). It keeps the user's sign-outs (Revocation.SignOut): an
	// unban does not bring back the sessions a new password ended.
	Lift(userID string) bool
}

// MemoryRevocations is the in-process Revocations. Lapsed revocations are
// forgotten when the user's are next read or written, and every user's
// every revocationSweep revocations: a kicked user who never comes back
// is never read again. A user's sign-outs are held as one (Revoke).
type MemoryRevocations struct {
	mu      sync.Mutex
	users   map[string][]Revocation
	revokes int // Revoke calls, for the sweep
}

// revocationSweep is how many revocations pass between sweeps of every
// user's lapsed ones, so that at most this many lapsed users are held
// beside the live revocations.
const revocationSweep = 256

var _ Revocations = (*MemoryRevocations)(nil)

// NewMemoryRevocations returns an empty set.
func NewMemoryRevocations() *MemoryRevocations {
	return &MemoryRevocations{users: make(map[string][]Revocation)}
}

// Revoke records r.
func (m *MemoryRevocations) Revoke(r Revocation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.revokes++; m.revokes%revocationSweep == 0 {
		for uid := range m.users {
			m.pruneLocked(uid, now)
		}
	}
	list := m.pruneLocked(r.UserID, now)
	if r.SignOut {
		// A later sign-out refuses every token an earlier one does, for
		// longer: a user keeps one, with the latest cutoff and end, however
		// often its password changes (or in whatever order other nodes'
		// arrive).
		if i := slices.IndexFunc(list, func(o Revocation) bool { return o.SignOut }); i >= 0 {
			o := list[i]
			if r.IssuedBefore.Before(o.IssuedBefore) {
				r, o = o, r
			}
			if !r.Until.IsZero() && (o.Until.IsZero() || o.Until.After(r.Until)) {
				r.Until = o.Until
			}
			list[i] = r
			return
		}
	}
	m.users[r.UserID] = append(list, r)
}

// Check returns the revocation that refuses the token.
func (m *MemoryRevocations) Check(userID string, issuedAt, now time.Time) (Revocation, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := m.pruneLocked(userID, now)
	if i := slices.IndexFunc(list, func(r Revocation) bool { return r.refuses(issuedAt, now) }); i >= 0 {
		return list[i], true
	}
	return Revocation{}, false
}

// CheckSignOut returns the sign-out that refuses the token.
func (m *MemoryRevocations) CheckSignOut(userID string, issuedAt, now time.Time) (Revocation, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := m.pruneLocked(userID, now)
	if i := slices.IndexFunc(list, func(r Revocation) bool { return r.SignOut && r.refuses(issuedAt, now) }); i >= 0 {
		return list[i], true
	}
	return Revocation{}, false
}

// Lift forgets userID's kicks and bans; lapsed ones count for none.
func (m *MemoryRevocations) Lift(userID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Lapsed ones are dropped first: they are not kicks or bans in force,
	// and an unban of them answers that there were none.
	list := m.pruneLocked(userID, time.Now())
	n := len(list)
	list = slices.DeleteFunc(list, func(r Revocation) bool { return !r.SignOut })
	if len(list) == 0 {
		delete(m.users, userID)
	} else {
		m.users[userID] = list
	}
	return len(list) < n
}

// pruneLocked drops userID's lapsed revocations and returns the others.
// The caller holds m.mu.
func (m *MemoryRevocations) pruneLocked(userID string, now time.Time) []Revocation {
	list := slices.DeleteFunc(m.users[userID], func(r Revocation) bool { return !r.Until.IsZero() && !now.Before(r.Until) })
	if len(list) == 0 {
		delete(m.users, userID)
		return nil
	}
	m.users[userID] = list
	return list
}
