package hub

import (
	"context"
	"time"

	"github.com/tickroom/tickroom/game"
)

// Cluster is the hub's view of the other nodes of a cluster: the
// cluster-wide room directory and its seat reservations. The hub calls it
// off the event loops (clusterDo), under deadlines. A refusal carries its
// wire code (*protocol.Error: ROOM_FULL, ROOM_LOST, UNAVAILABLE, …).
// Package cluster implements it over Redis; without one (Config.Cluster
// nil) the hub is a single node and never calls it. Its methods are safe
// from any goroutine.
type Cluster interface {
	// NodeID names this node.
	NodeID() string
	// Publish lists a room this node has just created, at once, in the
	// quick-match pool named (none when empty); the implementation keeps
	// the listing in step with the room afterwards.
	Publish(ctx context.Context, room *game.Room, pool string) error
	// List returns a page of the rooms of every node that pass q, ordered
	// by id, and the token of the next page (empty at the end).
	List(ctx context.Context, q RoomQuery) (rooms []ClusterRoom, next string, err error)
	// Reserve holds a player seat in roomID for userID, wherever the room
	// lives; a user who holds one already keeps it. A room with a
	// password refuses another (ERROR_CODE_WRONG_PASSWORD), and a user
	// holding as many untaken reservations as it may, cluster-wide, is
	// refused (ERROR_CODE_ALREADY_IN_ROOM).
	Reserve(ctx context.Context, roomID, userID, password string) (Reservation, error)
	// Locate returns the node a room lives on (for a spectator, who takes
	// no seat), without reserving anything.
	Locate(ctx context.Context, roomID string) (Reservation, error)
	// Release gives back a seat Reserve held that was not taken.
	Release(ctx context.Context, roomID, userID string)
	// Reserved returns how long seats of roomID, a room of this node,
	// are held still for players on their way here (reservations made on
	// any node and not taken yet: neither claimed and seated, nor given
	// back), those of except aside: until the last lapses, 0 when none
	// is. The hub keeps such a room open while it is empty
	// (creatorgone.go).
	Reserved(ctx context.Context, roomID, except string) (time.Duration, error)
	// Match reserves a seat in the fullest open room of a quick-match
	// pool on any node that is not draining, passing over the rooms of
	// refused (their game refused this quick-match at the tick) and of
	// in (the rooms the asking connection is in already, which would
	// refuse it as ALREADY_IN_ROOM); ok is false when none has a free
	// seat. The reservation carries refused, not in, to the room's node
	// (Claim), unless a node of an older version, which would not read
	// them, is in the cluster.
	Match(ctx context.Context, pool, userID string, refused, in []string) (r Reservation, ok bool, err error)
	// TakeTurn takes a quick-match pool's turn to make a new room for
	// userID: false while another user's new room of the pool is on its
	// way (until EndTurn, or a second at most), so that players who find
	// the pool empty at once fill one room rather than each make their own
	// and wait in it alone.
	TakeTurn(ctx context.Context, pool, userID string) (bool, error)
	// EndTurn ends userID's turn on pool once its room is listed there.
	EndTurn(ctx context.Context, pool, userID string)
	// Place picks the node a new room should be made on (the least
	// loaded that is not draining, this one on a tie) and, when it is
	// another, a reservation of the placement for userID, which carries
	// refused (the rooms its quick-match passed over) there, as Match's
	// does.
	Place(ctx context.Context, userID string, refused []string) (Reservation, error)
	// Claim checks a reservation token userID presents to this node; ok
	// is false when it is unknown, expired, or not this node's or user's.
	Claim(ctx context.Context, token, userID string) (r Reservation, ok bool)
	// Unreachable reports whether the node knows the cluster does not
	// answer now (its last heartbeat failed). The hub then skips the
	// calls whose failure it does without, rather than wait out their
	// timeouts (clusterlobby.go: skippable), and still makes the others.
	Unreachable() bool
}

// RoomQuery filters a cluster-wide room listing.
type RoomQuery struct {
	// Game keeps rooms of that game; empty means any.
	Game string
	// Metadata keeps rooms whose metadata has every pair.
	Metadata map[string]string
	// Joinable keeps rooms with a free player seat that take joins.
	Joinable bool
	// Limit caps the page.
	Limit int
	// After continues from a page token (the last id of the page before).
	After string
}

// ClusterRoom is a room listed cluster-wide, with the node it lives on.
type ClusterRoom struct {
	game.RoomInfo
	NodeID string
}

// Reservation is a seat held (or a room placement) on some node.
type Reservation struct {
	// Token is presented to the node in JoinRoom or QuickMatch.
	Token string
	// RoomID is the room; empty for a placement.
	RoomID string
	// NodeID and URL name the node and its WebSocket URL.
	NodeID, URL string
	// TTL is how long the reservation is held.
	TTL time.Duration
	// Refused names the rooms whose game refused the quick-match that
	// made the reservation, at the tick: the node it sends the player to
	// passes them over too, and counts them against quickMatchTries. A
	// claimed reservation has none when the cluster wrote it without them
	// (Match).
	Refused []string
}

// Buckets keeps token buckets where every node of a cluster counts in
// them: the hub's bound on wrong room passwords (Config.Buckets).
// Package cluster implements it over Redis. The hub calls it off the
// event loops and tick workers only; an error means the buckets could not
// be reached, and the hub then counts in its own memory. Its methods are
// safe from any goroutine.
type Buckets interface {
	// Wait returns how long until b holds a token, 0 when it holds one
	// now, taking nothing.
	Wait(ctx context.Context, b Bucket) (time.Duration, error)
	// Take takes a token from b when it holds one.
	Take(ctx context.Context, b Bucket) error
}

// Bucket names a token bucket of Buckets and its limit.
type Bucket struct {
	// Key names the bucket among the hub's ("pw:a:203.0.113.7/32").
	Key string
	// Rate is the tokens it gains a second, Burst how many it holds.
	Rate  float64
	Burst int
}
