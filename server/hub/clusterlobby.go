package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// The lobby of a node of a cluster (Config.Cluster set). Listings,
// joins, creations and quick-matches need the cluster directory, which is
// a network call: they run off the event loop, one goroutine per request,
// under clusterTimeout, and answer from there (Session.send is safe from
// any goroutine). A session may have maxSessionInFlight of them running,
// the hub maxClusterInFlight; past either the request gets
// ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT.
//
// While the node knows Redis does not answer (Cluster.Unreachable: its
// last heartbeat failed), the calls whose failure a request does without
// are not made, so that a silent Redis (a partition that answers nothing)
// does not hold each request for their timeouts:
//
//   - the seat reservation of a join, or of a quick-match served here,
//     for a room this node runs: the room's own seat count and password
//     decide, as when the call fails (directoryBehind), and the sync
//     writes its players once Redis answers;
//   - the check of a reservation token (Claim): a join then asks for the
//     room's seat as for any room of another node, a quick-match is
//     served here as when its check fails;
//   - the cluster-wide match of a quick-match that carries a reservation,
//     which is honoured here whatever the match answers when it fails;
//   - giving back a seat not taken (Release) and ending a pool's turn
//     (EndTurn): both lapse by themselves (the reservation's TTL,
//     PoolTurnTTL), as when the call fails.
//
// Whatever must agree across the nodes, or whose failure refuses the
// request, is asked still: a seat in a room of another node (Reserve,
// Locate), a quick-match without a reservation (Match), a room's listing
// (Publish: a room that cannot be listed is refused, and the creator's
// reservation after it, which just reached Redis), a listing (List) and
// a placement (Place). The heartbeat may find Redis back up to a
// heartbeat after it answers again; a request meanwhile is served as one
// whose calls failed.

const (
	maxSessionInFlight = 2
	maxClusterInFlight = 4096
	// clusterTimeout bounds one request's cluster calls together.
	clusterTimeout = 5 * time.Second
)

var errInFlight = protocol.NewError(protocol.ErrorTooManyRequestsInFlight, "too many lobby requests in flight")

// offLoopDo runs fn off the event loop; an error it returns is the
// request's Error reply. The request holds one of the session's
// maxSessionInFlight slots (and one of the hub's) until it is answered:
// fn calls settle(ctx) just before an answer it sends itself, so a client
// that waits for each answer before its next request is never refused.
func (s *Session) offLoopDo(id uint32, fn func(ctx context.Context) error) error {
	if s.offLoop.Add(1) > maxSessionInFlight {
		s.offLoop.Add(-1)
		return errInFlight
	}
	select {
	case s.h.offLoop <- struct{}{}:
	default:
		s.offLoop.Add(-1)
		return errInFlight
	}
	s.h.offWG.Add(1)
	go func() {
		var released atomic.Bool
		release := func() {
			if released.CompareAndSwap(false, true) {
				<-s.h.offLoop
				s.offLoop.Add(-1)
			}
		}
		defer func() {
			release()
			s.h.offWG.Done()
		}()
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), settleKey{}, release), clusterTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			release()
			s.fail(id, err)
		}
	}()
	return nil
}

type settleKey struct{}

// settle gives back the in-flight slot of the request offLoopDo runs with
// ctx; call it just before sending that request's answer.
func settle(ctx context.Context) {
	if f, ok := ctx.Value(settleKey{}).(func()); ok {
		f()
	}
}

// redirect answers request id with a Redirect to the node r names. A
// closed connection gets none, and the seat r reserved is given back.
func (s *Session) redirect(ctx context.Context, id uint32, r Reservation) {
	if s.closed.Load() && r.RoomID != "" {
		// Nobody will follow it: the room's seat is given back rather
		// than held for the reservation's life, keeping others out.
		if !s.h.cluster.Unreachable() {
			s.h.cluster.Release(ctx, r.RoomID, s.claims.UserID)
		}
		return
	}
	s.h.stats.Redirects.Add(1)
	settle(ctx)
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Redirect{Redirect: &tickroomv1.Redirect{
		Url: r.URL, Reservation: r.Token, RoomId: r.RoomID, NodeId: r.NodeID,
		ExpiresInMs: uint32(r.TTL / time.Millisecond),
	}}})
}

// clusterList answers ListRooms from the cluster directory. Refused in
// flight it calls giveBack (takeRoomList); one the directory fails keeps
// its room list: it was a call to Redis, which may have walked its rooms
// there before it failed or timed out.
func (s *Session) clusterList(id uint32, q *tickroomv1.ListRooms, giveBack func()) {
	limit := s.h.cfg.ListLimit
	if q.Limit > 0 && int(q.Limit) < limit {
		limit = int(q.Limit)
	}
	err := s.offLoopDo(id, func(ctx context.Context) error {
		rooms, next, err := s.h.cluster.List(ctx, RoomQuery{
			Game: q.Game, Metadata: q.Metadata, Joinable: q.FreeSeatsOnly, Limit: limit, After: q.PageToken,
		})
		if err != nil {
			return err
		}
		infos := make([]game.RoomInfo, 0, len(rooms))
		for _, r := range rooms {
			infos = append(infos, r.RoomInfo)
		}
		out := &tickroomv1.RoomList{}
		fillRoomList(out, infos, next)
		settle(ctx)
		s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomList{RoomList: out}})
		return nil
	})
	if err != nil {
		giveBack()
		s.fail(id, err)
	}
}

// clusterJoin joins a room of this node, or redirects to the node that
// runs it with a seat reserved there.
//
// A player join counts against the user's room budget here (as on a
// single node), and the reservation against its cluster-wide cap of
// untaken reservations; a room with a password checks it before any
// seat is held. A join the bound on wrong passwords holds (guessed) is
// refused while the session's wrong passwords, counted on every node
// (passwordGuesses), are spent, before anything looks at its password; a
// wrong one is counted there before its refusal is answered.
func (s *Session) clusterJoin(id uint32, q *tickroomv1.JoinRoom, guessed bool) error {
	if !q.Spectate && q.ResumeTick == 0 && !s.hasRoomFor(q.RoomId) {
		return errRoomsPerUser
	}
	return s.offLoopDo(id, func(ctx context.Context) error {
		if !guessed {
			return s.clusterJoinOff(ctx, id, q)
		}
		if err := s.h.guesses.sharedRefusal(ctx, s); err != nil {
			return err
		}
		err := s.clusterJoinOff(ctx, id, q)
		if err != nil && wireError(err).Code == tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
			s.h.guesses.takeShared(ctx, s.h.guesses.of(s))
		}
		return err
	})
}

// clusterJoinOff is clusterJoin's work off the event loop.
func (s *Session) clusterJoinOff(ctx context.Context, id uint32, q *tickroomv1.JoinRoom) error {
	uid, c := s.claims.UserID, s.h.cluster
	if room, ok := s.h.rt.Room(q.RoomId); ok {
		if q.ResumeTick == 0 {
			// A join the user's bucket would refuse (joinLocal) asks
			// Redis for no seat first; one sent here by another node
			// with a seat reserved gives that seat back, as the room's
			// refusals below do, rather than hold it for the
			// reservation's life against the room's other players.
			if err := s.joinRefusal(q.RoomId); err != nil {
				if !q.Spectate && q.Reservation != "" && !c.Unreachable() {
					s.releaseUnlessPlaying(ctx, q.RoomId)
				}
				return err
			}
		}
		// The seat is counted cluster-wide before it is taken, so that
		// reservations other nodes hand out never overfill the room. A
		// directory out of reach, or behind this node's memory, does
		// not stop a join here: the room's own seat count decides; one
		// known not to answer is not asked (Cluster.Unreachable). From
		// its reserve until it is a membership, the join is on its way
		// (Hub.onWay): the user's seat is its, and so is a give-back of
		// it left to the join meanwhile (owed), done once the join sits
		// nowhere.
		reserved := false
		var arrived func()
		owed := func() bool { return false }
		if !q.Spectate && !c.Unreachable() {
			arrived, owed = s.h.onWay(q.RoomId, uid)
			defer arrived()
			_, err := s.h.reserve(ctx, q.RoomId, uid, q.Password)
			switch {
			case err == nil:
				reserved = true
			case !directoryBehind(err):
				arrived()
				if owed() {
					s.releaseUnlessPlaying(ctx, q.RoomId)
				}
				return err
			}
		}
		err := s.joinLocal(id, room, q, arrived)
		if arrived != nil {
			arrived()
		}
		if err != nil && (reserved || owed()) {
			// A JoinRoom sent again for a room this connection plays in
			// is refused ALREADY_IN_ROOM: its seat there is the user's
			// one, not given back.
			s.releaseUnlessPlaying(ctx, q.RoomId)
		}
		return err
	}
	if q.Reservation != "" && !c.Unreachable() {
		if _, ok := c.Claim(ctx, q.Reservation, uid); ok {
			// Sent here for a room that has ended since: never bounce
			// the client on.
			return protocol.NewError(protocol.ErrorRoomNotFound, "")
		}
	}
	var r Reservation
	var err error
	if q.Spectate {
		r, err = c.Locate(ctx, q.RoomId)
	} else {
		r, err = s.h.reserve(ctx, q.RoomId, uid, q.Password)
	}
	if err != nil {
		return err
	}
	if r.NodeID == c.NodeID() {
		return protocol.NewError(protocol.ErrorRoomNotFound, "") // listed here, but ended
	}
	s.redirect(ctx, id, r)
	return nil
}

// clusterCreate creates a room on this node and lists it cluster-wide
// before its creator joins.
func (s *Session) clusterCreate(id uint32, q *tickroomv1.CreateRoom) error {
	return s.offLoopDo(id, func(ctx context.Context) error {
		room, ch, err := s.newOwnedRoom(game.RoomOptions{
			Game: q.Game, Options: q.Options, Metadata: q.Metadata, Password: q.Password,
			MaxPlayers: int(q.MaxPlayers), Private: q.Private, TickRate: int(q.TickRate),
		})
		if err != nil {
			return err
		}
		pool := ""
		if !q.Private && q.Password == "" {
			pool = s.h.matchKey(q.Game, int(q.MaxPlayers), q.Options)
		}
		return s.publishAndJoin(ctx, id, room, ch, pool, q.Spectate, q.Password)
	})
}

// publishAndJoin lists a new room, reserves its creator's seat and joins
// it; a room that cannot be listed or joined is closed at once. A room of
// a quick-match pool enters the pool only once its creator's seat is
// held: listed there first, its free seats could be taken by other
// nodes' quick-matches before its creator's, leaving the creator a full
// room.
func (s *Session) publishAndJoin(ctx context.Context, id uint32, room *game.Room, ch *charge, pool string, spectate bool, password string) error {
	c := s.h.cluster
	first := pool
	if !spectate {
		first = ""
	}
	// A room the directory could not take goes back to its creator's
	// budgets; one its creator could not join does not (newOwnedRoom).
	fail := func(why string, err error) error {
		room.Close(why)
		if !isCode(err, protocol.ErrorUnavailable) {
			return err
		}
		ch.refund()
		return err
	}
	if err := c.Publish(ctx, room, first); err != nil {
		return fail("could not be listed", err)
	}
	if !spectate {
		// Listed, the room is the directory's to count; one that cannot
		// speak for it yet (Redis just came back empty, and this node is
		// not registered again) leaves the count to the room, as for any
		// join here (directoryBehind).
		if _, err := s.h.reserve(ctx, room.ID(), s.claims.UserID, password); err != nil && !directoryBehind(err) {
			return fail("creator could not join", err)
		}
		if pool != "" {
			if err := c.Publish(ctx, room, pool); err != nil {
				return fail("could not be listed", err)
			}
		}
	}
	settle(ctx) // the Joined answer may go out before this goroutine ends
	if err := s.tryJoin(id, room, joinReq{spectator: spectate, password: password, creator: true}); err != nil {
		return fail("creator could not join", err)
	}
	return nil
}

// clusterQuickMatch fills the fullest open room of the pool on any node,
// else makes a room on the least-loaded node: here, or there through a
// Redirect. A request that carries this node's reservation is served
// here, never redirected again.
func (s *Session) clusterQuickMatch(id uint32, q *tickroomv1.QuickMatch) error {
	uid, c := s.claims.UserID, s.h.cluster
	cm := &clusterMatch{q: q, pool: s.h.matchKey(q.Game, int(q.MaxPlayers), q.Options)}
	if _, ok := s.h.cfg.Games.Lookup(q.Game); !ok {
		return protocol.NewError(protocol.ErrorUnknownGame, "no game named "+q.Game)
	}
	refund, err := s.chargeJoin()
	if err != nil {
		if q.Reservation == "" {
			return err
		}
		// Sent here by another node with a seat reserved, or a turn of
		// the pool taken to make its room here: both are given back, as
		// they would be had this node served it.
		return s.offLoopDo(id, func(ctx context.Context) error {
			s.dropReservation(ctx, cm.pool, q.Reservation)
			return err
		})
	}
	// The token is given back for a quick-match refused, and for one
	// answered with a Redirect, by the request or a retry of it: the node
	// it sends the player to charges the quick-match it serves there
	// (joinrate.go).
	cm.refund = sync.OnceFunc(refund)
	serve := func(ctx context.Context) error {
		if q.Reservation != "" {
			if c.Unreachable() {
				// Neither its check nor the match would answer: a
				// reservation is honoured here, as when they fail.
				return s.quickMatchHere(ctx, id, cm, "")
			}
			if r, ok := c.Claim(ctx, q.Reservation, uid); ok {
				// The rooms that refused the quick-match on the node
				// that sent it here count here too.
				cm.refused = r.Refused[:min(len(r.Refused), quickMatchTries)]
				return s.quickMatchHere(ctx, id, cm, r.RoomID)
			}
		}
		return s.matchCluster(ctx, id, cm)
	}
	err = s.offLoopDo(id, func(ctx context.Context) error {
		err := serve(ctx)
		if err != nil {
			cm.refund()
		}
		return err
	})
	if err != nil {
		cm.refund()
	}
	return err
}

// dropReservation gives back what the quick-match reservation token
// holds for the session's user, a quick-match refused before it was
// served here: the seat it reserved in a room, or, for a room to make
// here (a placement), the user's turn on pool.
func (s *Session) dropReservation(ctx context.Context, pool, token string) {
	c := s.h.cluster
	if c.Unreachable() {
		return // the seat lapses by itself, and the turn
	}
	r, ok := c.Claim(ctx, token, s.claims.UserID)
	switch {
	case !ok:
	case r.RoomID != "":
		s.releaseUnlessPlaying(ctx, r.RoomID)
	default:
		s.endTurn(ctx, pool)
	}
}

// clusterMatch is a cluster quick-match under way: its request and pool,
// and the rooms whose game refused the player at the tick, which it
// passes over (quickMatchTries at most; then it makes a room).
type clusterMatch struct {
	q       *tickroomv1.QuickMatch
	pool    string
	refused []string
	// refund gives the quick-match's join token back, once: when it is
	// refused at once, or answered with a Redirect, by the request or a
	// retry of it after a refusal at the tick (redirectMatch).
	refund func()
}

// tries reports whether the quick-match may still ask rooms of the pool
// for a seat, rather than make one.
func (cm *clusterMatch) tries() bool { return len(cm.refused) < quickMatchTries }

// goOn is the retry of a join the quick-match asked of a room of this
// node: when the room's game refuses the player at the tick, it gives the
// room's seat in the directory back, then serves the request again
// without the room (from serve), as a single node's quick-match does
// (matchLocal). It runs on a goroutine of its own, under clusterTimeout.
func (s *Session) goOn(cm *clusterMatch, serve func(ctx context.Context) error) func(roomID string) error {
	return func(roomID string) error {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		if !s.h.cluster.Unreachable() {
			// Given back before the next seat is reserved, so that the
			// refusals never hold several of the user's reservations
			// (joined left it to this retry), and by a closed connection
			// too, which goes no further: nobody would play. The user's
			// one seat there stays while another of its connections
			// here plays in the room or is joining it.
			s.releaseUnlessPlaying(ctx, roomID)
		}
		if s.closed.Load() {
			return errSessionClosed
		}
		cm.refused = append(cm.refused, roomID)
		if !s.hasRoomFor("") {
			return errRoomsPerUser
		}
		return serve(ctx)
	}
}

// matchCluster serves a quick-match from the cluster's pool: the first
// open room the directory matches, passing over the rooms that refused
// it, else a new room. A room of this node that refuses the player at
// the tick makes it go on (goOn) with matchCluster again.
func (s *Session) matchCluster(ctx context.Context, id uint32, cm *clusterMatch) error {
	uid, c, q, pool := s.claims.UserID, s.h.cluster, cm.q, cm.pool
	// match fills an open room of the pool: served reports that the
	// request was answered (joined, or redirected to the room's node).
	// The rooms of this node that refused the join at once (passed) are
	// not matched again; unlike the refusals at the tick they do not
	// count against quickMatchTries.
	var passed []string
	match := func() (served bool, err error) {
		for attempt := 0; attempt < 3 && cm.tries(); attempt++ {
			// The rooms this connection is in (watching one, or seated
			// there by an earlier quick-match) would refuse it as
			// ALREADY_IN_ROOM: the match passes over them, as a single
			// node's does (matchLocal).
			r, ok, err := c.Match(ctx, pool, uid, cm.refused, append(s.roomsIn(), passed...))
			if err != nil {
				if q.Reservation != "" && isCode(err, protocol.ErrorUnavailable) {
					// Sent here with a reservation that could not be
					// checked, Redis being out of reach: honour it
					// with a room of the pool here, whose own seat
					// count decides, as a JoinRoom here would be.
					return true, s.quickMatchHere(ctx, id, cm, "")
				}
				return true, err
			}
			if !ok {
				return false, nil
			}
			if r.NodeID != c.NodeID() {
				s.redirectMatch(ctx, id, cm, r)
				return true, nil
			}
			room, ok := s.h.rt.Room(r.RoomID)
			if !ok {
				continue // ended meanwhile; the sync unlists it
			}
			retry := s.goOn(cm, func(ctx context.Context) error { return s.matchCluster(ctx, id, cm) })
			switch err := s.tryJoin(id, room, joinReq{retry: retry}); {
			case err == nil:
				return true, nil
			case passOver(err):
				// Filled, ended or busy meanwhile: the directory's next
				// match passes over it, as a single node's loop goes on
				// to the next room (matchLocal).
				s.releaseUnlessPlaying(ctx, r.RoomID)
				passed = append(passed, r.RoomID)
			default:
				s.releaseUnlessPlaying(ctx, r.RoomID)
				return true, err
			}
		}
		return false, nil
	}
	if served, err := match(); served {
		return err
	}
	// No open room: make one, unless another player's new room of the
	// pool is on its way (players who found the pool empty at once would
	// each make a room and wait in it alone); then match it once it is
	// listed, or make one after turnWait all the same. A quick-match past
	// its tries makes its own at once.
	for waited := time.Duration(0); cm.tries(); waited += turnPoll {
		turn, err := c.TakeTurn(ctx, pool, uid)
		if err != nil || turn || waited >= turnWait {
			break
		}
		select {
		case <-ctx.Done():
			return protocol.NewError(protocol.ErrorUnavailable, "quick-match timed out")
		case <-time.After(turnPoll):
		}
		if served, err := match(); served {
			return err
		}
	}
	p, err := c.Place(ctx, uid, cm.refused)
	if err != nil {
		s.endTurn(ctx, pool)
		return err
	}
	if p.NodeID != c.NodeID() {
		s.redirectMatch(ctx, id, cm, p) // that node ends the turn once its room is listed
		return nil
	}
	return s.createForMatch(ctx, id, q, pool)
}

// redirectMatch answers the quick-match with a Redirect to the node r
// names, which charges the quick-match it serves there: this node gives
// its token back.
func (s *Session) redirectMatch(ctx context.Context, id uint32, cm *clusterMatch, r Reservation) {
	cm.refund()
	s.redirect(ctx, id, r)
}

// turnWait bounds how long a quick-match waits for another player's new
// room of its pool (Cluster.TakeTurn) before it makes one all the same;
// turnPoll is how often it looks for that room meanwhile.
const (
	turnWait = 1500 * time.Millisecond
	turnPoll = 50 * time.Millisecond
)

// quickMatchHere serves a quick-match sent here with a reservation: the
// reserved room when it still takes the player, else a local room of the
// pool, else a new one here; never a redirect. A room whose game refuses
// the player at the tick makes it go on (goOn) with quickMatchHere again,
// without the room, until quickMatchTries rooms refused it.
func (s *Session) quickMatchHere(ctx context.Context, id uint32, cm *clusterMatch, roomID string) error {
	uid, c := s.claims.UserID, s.h.cluster
	retry := s.goOn(cm, func(ctx context.Context) error { return s.quickMatchHere(ctx, id, cm, "") })
	tryRoom := func(room *game.Room) bool {
		if slices.Contains(cm.refused, room.ID()) || s.inRoom(room.ID()) {
			// A room this connection is in would refuse it as
			// ALREADY_IN_ROOM: the quick-match looks on.
			return false
		}
		var arrived func()
		if !c.Unreachable() {
			var owed func() bool
			arrived, owed = s.h.onWay(room.ID(), uid)
			defer arrived()
			if _, err := s.h.reserve(ctx, room.ID(), uid, ""); err != nil && !directoryBehind(err) {
				arrived()
				if owed() {
					s.releaseUnlessPlaying(ctx, room.ID())
				}
				return false
			}
		}
		err := s.tryJoin(id, room, joinReq{retry: retry, arrived: arrived})
		if arrived != nil {
			arrived()
		}
		if err != nil {
			if !c.Unreachable() {
				s.releaseUnlessPlaying(ctx, room.ID())
			}
			return false
		}
		return true
	}
	if cm.tries() {
		if room, ok := s.h.rt.Room(roomID); ok && roomID != "" && tryRoom(room) {
			return nil
		}
		for _, info := range s.h.dir.Match(cm.pool) {
			if room, ok := s.h.rt.Room(info.ID); ok && tryRoom(room) {
				return nil
			}
		}
	}
	return s.createForMatch(ctx, id, cm.q, cm.pool)
}

// createForMatch makes a quick-match room here.
func (s *Session) createForMatch(ctx context.Context, id uint32, q *tickroomv1.QuickMatch, pool string) error {
	// Listed in the pool (or not made), the room is no longer on its
	// way: the pool's other players match it, or make their own.
	defer s.endTurn(ctx, pool)
	if s.closed.Load() {
		// Closed while the quick-match went on (a retry after a refusal
		// at the tick, on Redis's answers): nobody would play in the room,
		// and it would count against the user's creations.
		return errSessionClosed
	}
	room, ch, err := s.newOwnedRoom(game.RoomOptions{Game: q.Game, Options: q.Options, MaxPlayers: int(q.MaxPlayers)})
	if err != nil {
		return err
	}
	return s.publishAndJoin(ctx, id, room, ch, pool, false, "")
}

// endTurn ends the session's turn on pool (Cluster.EndTurn), unless the
// cluster is known not to answer: the turn then lapses by itself within
// PoolTurnTTL, as when the call fails.
func (s *Session) endTurn(ctx context.Context, pool string) {
	if !s.h.cluster.Unreachable() {
		s.h.cluster.EndTurn(ctx, pool, s.claims.UserID)
	}
}

// directoryBehind reports whether a Reserve of a room this node runs
// failed only because the directory cannot speak for it: Redis does not
// answer (UNAVAILABLE), or answers without the room (ROOM_NOT_FOUND,
// ROOM_LOST) because it lost its data, or swept the room while this node
// was cut off, and the node has not written its rooms again yet (its next
// heartbeat does). The room itself then decides the join.
func directoryBehind(err error) bool {
	return isCode(err, protocol.ErrorUnavailable) || isCode(err, protocol.ErrorRoomNotFound) || isCode(err, protocol.ErrorRoomLost)
}

// isCode reports whether err carries the wire code.
func isCode(err error, code protocol.ErrorCode) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}
