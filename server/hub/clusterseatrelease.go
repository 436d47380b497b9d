package hub

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tickroom/tickroom/protocol"
)

// The seats a node of a cluster gives back to the directory: a join's
// reservation the room refused, a seat given up before the node's sync
// wrote it as seated, and their order against the reserves of the same
// seat on this node (seatReleases), with the joins on their way into a
// room (Hub.onWay) whose seat a give-back leaves to them.

// releaseUnlessPlaying gives back the seat of roomID the directory
// reserved for a quick-match or a JoinRoom that the room refused, unless
// the user plays in the room through this connection or another of its
// connections here (MultipleSockets; joined, or joining since the match
// passed over the rooms it is in), or has a join of it on its way here
// (Hub.onWay), which then owes the give-back: the user's one seat there
// is that player's, which the refusal must not hand back, though the
// directory may not have written it as taken yet. It returns once Redis
// answered, or ctx ended (at once when less than minGiveBack of ctx was
// left: the release then runs on its own); a reserve of the seat on this
// node that sets out meanwhile waits for it (giveBack).
func (s *Session) releaseUnlessPlaying(ctx context.Context, roomID string) {
	s.h.giveBack(ctx, roomID, s.claims.UserID, func() bool { return s.sessionsPlayIn(roomID) })
}

// sessionsPlayIn reports whether the session's user is in roomID as a
// player, joined or joining, through s or another of its sessions on
// this node.
func (s *Session) sessionsPlayIn(roomID string) bool {
	if s.playsIn(roomID) {
		return true
	}
	for _, o := range s.h.reg.Sessions(s.claims.UserID) {
		if o != s && o.playsIn(roomID) {
			return true
		}
	}
	return false
}

// unkickedPlayIn reports whether another session of the user, not kicked,
// plays in roomID or is joining it: a login since a kick, whose seat the
// kicked session's close must not give back (a kick refuses no new login,
// and a kicked session closes once its queue drained).
func (s *Session) unkickedPlayIn(roomID string) bool {
	for _, o := range s.h.reg.Sessions(s.claims.UserID) {
		if o != s && !o.kicked.Load() && o.playsIn(roomID) {
			return true
		}
	}
	return false
}

// releaseSeat gives back, off the caller's goroutine, the seat of roomID
// the directory reserved for userID's join, which the room refused at the
// tick, or which the user gave up before the node's sync wrote it as
// seated (gaveUpSeat): kept until the reservation lapsed, the seat would
// count as taken cluster-wide (a room of two looked full) and against
// the user's reservations. A seat the directory holds as seated is not
// touched (the sync drops it), nor is one it never reserved.
//
// A later Reserve of the seat on this node waits for it (reserve): run
// in no fixed order, a release that reached Redis second took the seat a
// JoinRoom sent just after the leave had reserved again.
//
// The seat stays while a join of the user's with the seat reserved is on
// its way here (onWay), which then owes the give-back, or keep (nil:
// never) reports that a join of the user's here plays in the room; both
// are asked together with the release's start, so that a join that sets
// out after them waits for the release before it reserves.
func (h *Hub) releaseSeat(roomID, userID string, keep func() bool) {
	if done, ok := h.startRelease(roomID, userID, keep); ok {
		go h.releaseAlone(done, roomID, userID)
	}
}

// startRelease starts a release of userID's seat in roomID unless keep
// or a join on its way keeps it, or Redis is known not to answer (the
// reservation then lapses by itself); done ends it.
func (h *Hub) startRelease(roomID, userID string, keep func() bool) (done func(), ok bool) {
	if h.cluster.Unreachable() {
		return nil, false
	}
	return h.releases.start(roomID, userID, keep)
}

// releaseAlone gives the seat back on a goroutine of its own, with a
// deadline of its own, then calls done.
func (h *Hub) releaseAlone(done func(), roomID, userID string) {
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	h.cluster.Release(ctx, roomID, userID)
}

// releaseTimeout bounds a give-back that has no request's time to run
// in. A request's time nearly spent (less than minGiveBack left: a
// reserve that waited on a slow Redis, or behind a release in flight)
// leaves its give-back to a goroutine with this time: asked in what was
// left, the release failed at once, and the seat stayed counted for the
// reservation's minute with nobody in it.
const (
	releaseTimeout = 5 * time.Second
	minGiveBack    = time.Second
)

// giveBack is releaseSeat on the caller's goroutine, under ctx: it
// returns once Redis answered the release (or ctx ended), which a later
// reserve of the seat on this node waits for as for releaseSeat's; with
// less than minGiveBack of ctx left it returns at once, the release on a
// goroutine of its own (releaseAlone). Asked
// apart from the release's start, a keep that found nobody in the room
// let a JoinRoom reserve the seat before the release came: given back
// after that reserve, the seat the user sat in counted as free.
func (h *Hub) giveBack(ctx context.Context, roomID, userID string, keep func() bool) {
	done, ok := h.startRelease(roomID, userID, keep)
	if !ok {
		return
	}
	if dl, ok := ctx.Deadline(); ctx.Err() != nil || ok && time.Until(dl) < minGiveBack {
		go h.releaseAlone(done, roomID, userID)
		return
	}
	// done waits for the releases of the seat begun before: not the
	// caller's to wait for.
	defer func() { go done() }()
	h.cluster.Release(ctx, roomID, userID)
}

// onWay counts a join of userID's of roomID as on its way, from before
// it reserves its seat in the directory until it is a membership of its
// session (or ended before): arrived, which the caller calls then (once
// or more). While it is on its way, the user's seat there is its: a
// refusal or a give-up of another join of the user's here does not give
// it back (releaseUnlessPlaying, releaseSeat), though no session shows
// the join yet, and owed reports true from then on. A join that owes a
// give-back and ends with no membership (refused before it asked the
// room, or at once by it) gives the seat back itself
// (releaseUnlessPlaying), with the reservation of its own if any: kept,
// the seat counted as taken for the reservation's life, nobody in it. A
// membership gives it back as any other does when it is refused or
// given up.
func (h *Hub) onWay(roomID, userID string) (arrived func(), owed func() bool) {
	return h.releases.setOut(roomID, userID)
}

// reserve is Cluster.Reserve of a seat of roomID for userID once the
// releases of that seat this node began before have returned, or ctx
// ended.
func (h *Hub) reserve(ctx context.Context, roomID, userID, password string) (Reservation, error) {
	if err := h.releases.wait(ctx, roomID, userID); err != nil {
		return Reservation{}, protocol.NewError(protocol.ErrorUnavailable, "")
	}
	return h.cluster.Reserve(ctx, roomID, userID, password)
}

// seatReleases are the releases of seats in flight on this node (a
// channel closed once the last one begun of each seat has returned), so
// that a reserve of the same seat comes after them, and the joins on
// their way (Hub.onWay), whose seats are not released.
type seatReleases struct {
	mu       sync.Mutex
	inFlight map[seatKey]chan struct{}
	onWay    map[seatKey][]*wayJoin
}

type seatKey struct{ roomID, userID string }

// wayJoin is a join on its way; owed, under seatReleases.mu, is set once
// a give-back of its seat was left to it.
type wayJoin struct{ owed bool }

// setOut counts a join of the seat as on its way until arrived; owed
// reports whether a give-back of the seat was left to it meanwhile.
func (r *seatReleases) setOut(roomID, userID string) (arrived func(), owed func() bool) {
	k, j := seatKey{roomID, userID}, &wayJoin{}
	r.mu.Lock()
	if r.onWay == nil {
		r.onWay = make(map[seatKey][]*wayJoin)
	}
	r.onWay[k] = append(r.onWay[k], j)
	r.mu.Unlock()
	arrived = sync.OnceFunc(func() {
		r.mu.Lock()
		if r.onWay[k] = slices.DeleteFunc(r.onWay[k], func(o *wayJoin) bool { return o == j }); len(r.onWay[k]) == 0 {
			delete(r.onWay, k)
		}
		r.mu.Unlock()
	})
	owed = func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return j.owed
	}
	return arrived, owed
}

// keptLocked reports, with r.mu held, whether a give-back of the seat is
// not to be done: a join of the seat is on its way, and owes it from
// then on, or keep (nil: never; called with r.mu held) reports that the
// seat is kept.
func (r *seatReleases) keptLocked(k seatKey, keep func() bool) bool {
	if ws := r.onWay[k]; len(ws) > 0 {
		for _, j := range ws {
			j.owed = true
		}
		return true
	}
	return keep != nil && keep()
}

// start records a release of the seat, which runs after the ones of it
// still in flight, and returns the func that marks it returned; ok is
// false, and nothing recorded, when the seat is kept (keptLocked).
func (r *seatReleases) start(roomID, userID string, keep func() bool) (done func(), ok bool) {
	k, ch := seatKey{roomID, userID}, make(chan struct{})
	r.mu.Lock()
	if r.keptLocked(k, keep) {
		r.mu.Unlock()
		return nil, false
	}
	if r.inFlight == nil {
		r.inFlight = make(map[seatKey]chan struct{})
	}
	prev := r.inFlight[k]
	r.inFlight[k] = ch
	r.mu.Unlock()
	return func() {
		if prev != nil {
			<-prev // one waiting chain: the last channel marks them all
		}
		r.mu.Lock()
		if r.inFlight[k] == ch {
			delete(r.inFlight, k)
		}
		r.mu.Unlock()
		close(ch)
	}, true
}

// wait returns once the releases of the seat begun so far have
// returned, or with ctx's error.
func (r *seatReleases) wait(ctx context.Context, roomID, userID string) error {
	r.mu.Lock()
	ch := r.inFlight[seatKey{roomID, userID}]
	r.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
