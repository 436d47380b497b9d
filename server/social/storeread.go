package social

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol"
)

// TakeStoreRead takes one of m's user's store reads (Config.StoreReadRate,
// the hub's GetChannelHistory, GetMatchHistory and GetLeaderboard
// together), or refuses with ERROR_CODE_RATE_LIMITED and when one would
// pass. giveBack returns the read taken, for a request refused before it
// reads the store; it must be called on m's loop, before m's next
// request, or not at all. It runs on the member's loop.
func (so *Social) TakeStoreRead(m *Member) (giveBack func(), err error) {
	l := so.limits.limiter(m, func(l *limiters) **rate.Limiter { return &l.read }, rate.Limit(so.cfg.StoreReadRate), so.cfg.StoreReadBurst)
	now := so.host.Now()
	r := l.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if !r.OK() {
		wait = time.Hour
	}
	if wait > 0 {
		r.CancelAt(now)
		return nil, &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait,
			Message: "history and leaderboard pages asked too fast"}
	}
	return func() { r.CancelAt(now) }, nil
}
