package hub

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/auth"
)

// Watch passes (GetWatchPass): a member of a room gets a short-lived
// token that opens the room's spectator feed and nothing else, to share
// as a watch link in place of its session token. The pass is signed by
// the Authority under its own tag (auth.IssueWatchPass), so it never
// passes for a session token, nor a session token for it.

// Errors CheckWatchPass returns.
var (
	// ErrWatchPassInvalid: the pass is missing, forged or malformed, or
	// is not a watch pass (a session token).
	ErrWatchPassInvalid = errors.New("hub: invalid watch pass")
	// ErrWatchPassExpired: the pass's expiry has passed.
	ErrWatchPassExpired = errors.New("hub: watch pass expired")
	// ErrWatchPassOtherRoom: the pass opens another room.
	ErrWatchPassOtherRoom = errors.New("hub: watch pass for another room")
	// ErrWatchPassRevoked: the member who asked for it is kicked (the
	// pass was issued before the kick) or banned, or its account has a
	// new password since (Hub.SignOut).
	ErrWatchPassRevoked = errors.New("hub: watch pass of a kicked or banned user")
)

// connLimits holds a token bucket per connection: the GetWatchPass
// buckets (Config.WatchPassRate, WatchPassBurst), the WatchRooms ones
// (RoomWatchRate, RoomWatchBurst) and the ListRooms ones (ListRoomsRate,
// ListRoomsBurst). A bucket is made on its connection's
// first request and dropped with the connection (a Session has no room
// for it).
type connLimits struct {
	mu  sync.Mutex
	all map[*Session]*rate.Limiter
}

// take takes one token from s's bucket at now, or returns how long until
// one would be there; a new bucket holds burst tokens and gains perSec a
// second.
func (p *connLimits) take(s *Session, now time.Time, perSec float64, burst int) time.Duration {
	wait, _ := p.reserve(s, now, perSec, burst)
	return wait
}

// reserve is take, which also returns, when it took a token, undo, which
// gives it back (for a request another bound refuses after this one).
func (p *connLimits) reserve(s *Session, now time.Time, perSec float64, burst int) (wait time.Duration, undo func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.closed.Load() {
		return 0, func() {} // the connection is gone: its reply goes nowhere
	}
	l := p.all[s]
	if l == nil {
		if p.all == nil {
			p.all = make(map[*Session]*rate.Limiter)
		}
		l = rate.NewLimiter(rate.Limit(perSec), burst)
		p.all[s] = l
	}
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return time.Hour, nil
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, nil
	}
	// Cancelled at the time it was taken, it gives its token back (see
	// roomQuota's refund).
	return 0, func() { r.CancelAt(now) }
}

// drop forgets s's bucket; OnClose calls it after gone.
func (p *connLimits) drop(s *Session) {
	p.mu.Lock()
	delete(p.all, s)
	p.mu.Unlock()
}

// watchPass answers GetWatchPass: a pass for a room the session has a
// confirmed seat in, player or spectator, and has not left (a LeaveRoom
// waiting for the seat's Joined). It runs on the loop.
func (s *Session) watchPass(id uint32, req *tickroomv1.GetWatchPass) error {
	if req.RoomId == "" {
		return protocol.NewError(protocol.ErrorBadRequest, "room_id is required")
	}
	s.mu.Lock()
	m := s.find([]byte(req.RoomId))
	member := m != nil && m.seat != 0 && !m.leaving
	s.mu.Unlock()
	if !member {
		return protocol.NewError(protocol.ErrorNotInRoom, "")
	}
	now := s.h.cfg.Now()
	if wait := s.h.passes.take(s, now, s.h.cfg.WatchPassRate, s.h.cfg.WatchPassBurst); wait > 0 {
		return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "watch pass rate limit exceeded"}
	}
	// A pass carries its issue time to the second, as a token does: one
	// asked for within a password change's second (by the claimer's own
	// session, or one of the claim's new token) is issued in the second
	// after the sign-out, as a login is (SignedOut), so that its feed does
	// not refuse it with the sessions the change ended.
	issued := now
	if t, ok := s.h.SignedOut(s.claims.UserID, now); ok {
		issued = t.Truncate(time.Second).Add(time.Second)
	}
	p := auth.WatchPass{RoomID: req.RoomId, UserID: s.claims.UserID, IssuedAt: issued, ExpiresAt: issued.Add(s.h.cfg.WatchPassTTL)}
	pass, err := s.h.cfg.Auth.IssueWatchPass(p)
	if err != nil {
		return protocol.NewError(protocol.ErrorInternal, "")
	}
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_WatchPass{WatchPass: &tickroomv1.WatchPass{
		RoomId: req.RoomId, Pass: pass, ExpiresAtMs: time.Unix(p.ExpiresAt.Unix(), 0).UnixMilli(),
	}}})
	return nil
}

// CheckWatchPass reports whether pass opens roomID's spectator feed now
// (Config.Now): a watch pass this server's keys signed for that room, not
// expired, whose member is not kicked (while the kick lasts) or banned.
// It returns nil or one of the ErrWatchPass errors. Safe from any
// goroutine; spectate.Config.Passes calls it.
func (h *Hub) CheckWatchPass(pass, roomID string) error {
	now := h.cfg.Now()
	p, err := h.cfg.Auth.VerifyWatchPass(pass, now)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return ErrWatchPassExpired
	case err != nil:
		return ErrWatchPassInvalid
	case p.RoomID != roomID:
		return ErrWatchPassOtherRoom
	}
	if _, revoked := h.revoked.Check(p.UserID, p.IssuedAt, now); revoked {
		return ErrWatchPassRevoked
	}
	return nil
}
