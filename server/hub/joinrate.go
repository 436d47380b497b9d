package hub

import (
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/clientip"
)

// joinRate bounds how fast a user becomes a new member of rooms
// (Config.JoinRate, JoinBurst). Each join and each leave is a RoomEvent
// to every other member of the room, and nothing else bounded them: a
// guest cycling JoinRoom and LeaveRoom at its message rate (120 a
// second) on a public room of 200 spectators had the server send tens
// of thousands of frames a second. The bucket is the user's, not the
// connection's, so that neither more sockets (MultipleSockets) nor a
// reconnection come with a fresh one; the buckets are kept for the users
// seen last, a bounded table (clientip.Buckets) as for session opens.
//
// A join is charged when it is asked, and given back when it is refused
// before it reached the room (a room that is full, locked, ended or
// busy, a wrong password, a user in as many rooms as it may be): such a
// join sent no event; so is a JoinRoom the game refuses at the tick
// (joined), which sent none either. A quick-match's token is kept once it
// asked a room's game, whatever the game answers.
// Never charged: a resume, or a JoinRoom, of a seat held for a closed
// connection of the user, so that a reconnecting client always gets its
// seats back; a CreateRoom, whose room has no
// other member and which the creation budget bounds (quota.go); and a
// quick-match's own tries of further rooms, which the one token of its
// QuickMatch pays for. Charged as a join: a JoinRoom or resume that
// moves the user's seat from another of its connections, still open
// (MultipleSockets), each move a PLAYER_RESUMED to every member
// (newMembership). In a cluster the node that asks its room for the
// seat charges: a join or quick-match answered with a Redirect costs
// nothing on the node that sent it (a quick-match's token is given
// back), and the node it sends the client to charges the join there; a
// refusal there gives back the seat (or the pool's turn) the sending node
// reserved for it in Redis (clusterJoinOff, dropReservation).
type joinRate struct {
	users *clientip.Buckets[string]
}

// joinKeys bounds the users whose joins are remembered, as sessionKeys
// does for session opens: a user forgotten had long refilled its bucket.
const joinKeys = sessionKeys

func newJoinRate(cfg Config) joinRate {
	return joinRate{users: clientip.NewBuckets[string](rate.Limit(cfg.JoinRate), cfg.JoinBurst, joinKeys)}
}

// chargeJoin takes a token from the bucket of s's user for a join that
// would make it a new member of a room. It returns ERROR_CODE_RATE_LIMITED
// with when to try again when the bucket is empty, taking nothing, or a
// refund that gives the token back, for a join refused before it reached
// the room.
func (s *Session) chargeJoin() (refund func(), err error) {
	uid, now := s.claims.UserID, s.h.cfg.Now()
	if ok, wait := s.h.joins.users.Allow(uid, now); !ok {
		return nil, joinsTooFast(wait)
	}
	return func() { s.h.joins.users.Refund(uid, s.h.cfg.Now()) }, nil
}

// joinRefusal is the refusal chargeJoin would give a JoinRoom of roomID
// now, taking nothing: nil when the join is not charged or the bucket
// holds a token. A node of a cluster asks it before it reserves a seat in
// Redis for a join its bucket would refuse.
func (s *Session) joinRefusal(roomID string) error {
	if !s.newMembership(roomID) {
		return nil
	}
	if wait := s.h.joins.users.Wait(s.claims.UserID, s.h.cfg.Now()); wait > 0 {
		return joinsTooFast(wait)
	}
	return nil
}

// joinsTooFast is the refusal of a join wait before the user's bucket
// holds a token.
func joinsTooFast(wait time.Duration) error {
	return &protocol.Error{Code: protocol.ErrorRateLimited, RetryAfter: wait, Message: "joining rooms too fast"}
}

// newMembership reports whether a JoinRoom of roomID is charged: unless
// the user holds a seat there for a closed connection (holds), which the
// join takes back. A room this connection is in itself counts as new:
// the join is refused (ALREADY_IN_ROOM, given back), or is one that waits
// for a leave of it (afterLeave) and joins again once the seat is given
// up. So does a seat another open connection of the user has
// (MultipleSockets): the join, or resume, moves it, and each move sends
// every member of the room a PLAYER_RESUMED, which two sockets passing
// the seat back and forth would do at their message rate. A socket whose
// network vanished has its seat held once the server closes it, and that
// resume is free again.
func (s *Session) newMembership(roomID string) bool {
	return s.inRoom(roomID) || !s.h.holds(s.claims.UserID, roomID)
}
