package cluster

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/hub"
)

// This file holds the directory's seat reservations: a join's or a
// quick-match's seat held in Redis for the node that runs the room (Reserve,
// Match, Place, each handing out a token that node Claims), their release,
// a quick-match pool's turn to make a room, and where a room lives (Locate).

// roomKeyable reports whether id, a client's text, can be a room's id in
// Redis keys: the runtime's room ids never hold ':', and one that does
// ("<id>:seats") names another key of a room, whose type Redis refuses.
func roomKeyable(id string) bool { return !strings.Contains(id, ":") }

func (d *Directory) newToken() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Reserve holds a player seat in roomID for userID: refused with
// ERROR_CODE_WRONG_PASSWORD when the room has another password, and with
// ERROR_CODE_ALREADY_IN_ROOM when userID holds MaxUserSeats untaken
// reservations already.
func (d *Directory) Reserve(ctx context.Context, roomID, userID, password string) (hub.Reservation, error) {
	if !roomKeyable(roomID) {
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomNotFound, "")
	}
	return d.reserve(ctx, roomID, userID, game.PasswordDigest(roomID, password), d.cfg.MaxUserSeats)
}

// reserve is Reserve with the room's password digest ("-" skips the
// check) and the cap of the user's untaken reservations (0 none): a
// migration re-seats its players unchecked.
func (d *Directory) reserve(ctx context.Context, roomID, userID, pwd string, limit int) (hub.Reservation, error) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	v, err := reserveScript.Run(ctx, d.rdb, []string{d.keys.Room(roomID), d.keys.Seats(roomID), d.keys.UserToken(userID, roomID), d.keys.UserSeats(userID)},
		userID, d.cfg.ReservationTTL.Milliseconds(), d.keys.NodePrefix(), d.keys.PoolPrefix(), roomID, limit, pwd,
		d.keys.ReservationPrefix(), d.newToken()).StringSlice()
	if err != nil {
		return hub.Reservation{}, d.refusal(err)
	}
	switch v[0] {
	case "ok":
		r := hub.Reservation{Token: v[3], RoomID: roomID, NodeID: v[1], URL: v[2], TTL: d.cfg.ReservationTTL}
		if err := d.reachable(ctx, r); err != nil {
			d.Release(ctx, roomID, userID)
			return hub.Reservation{}, err
		}
		return r, nil
	case "full":
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomFull, "")
	case "password":
		return hub.Reservation{}, protocol.NewError(protocol.ErrorWrongPassword, "")
	case "budget":
		return hub.Reservation{}, errUserSeats
	case "locked":
		// As the room's own node refuses it (game.ErrLocked), without
		// a redirect there first.
		return hub.Reservation{}, protocol.NewError(protocol.ErrorForbidden, game.ErrLocked.Error())
	case "closed":
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomClosing, "")
	case "lost":
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomLost, "")
	}
	// Gone: lost with its node, or no such room.
	if n, err := d.rdb.Exists(ctx, d.keys.Lost(roomID)).Result(); err == nil && n == 1 {
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomLost, "")
	}
	return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomNotFound, "")
}

// Release gives back a reservation that was not taken.
func (d *Directory) Release(ctx context.Context, roomID, userID string) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	_ = releaseScript.Run(ctx, d.rdb, []string{d.keys.Room(roomID), d.keys.Seats(roomID), d.keys.UserSeats(userID)}, userID, d.keys.PoolPrefix(), roomID).Err()
}

// Reserved returns how long the seats reserved in roomID for players
// other than except, not taken yet, are held still: until the last
// lapses, on Redis's clock; 0 when none is.
func (d *Directory) Reserved(ctx context.Context, roomID, except string) (time.Duration, error) {
	if !roomKeyable(roomID) {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	ms, err := reservedScript.Run(ctx, d.rdb, []string{d.keys.Seats(roomID)}, except).Int64()
	if err != nil {
		return 0, d.refusal(err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Match reserves a seat in the fullest open room of a pool, passing over
// the rooms of refused, which its token carries to the room's node while
// every node reads them (refusedSuffix), and those of in, which it does
// not carry: rooms of the asking node that its connection is in.
func (d *Directory) Match(ctx context.Context, pool, userID string, refused, in []string) (hub.Reservation, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	args := []any{userID, d.cfg.ReservationTTL.Milliseconds(), d.keys.NodePrefix(), d.keys.RoomPrefix(), d.keys.ReservationPrefix(), MatchScan, d.cfg.MaxUserSeats,
		d.newToken(), d.keys.UserTokenPrefix(), d.refusedSuffix(refused)}
	for _, id := range refused {
		args = append(args, id)
	}
	for _, id := range in {
		args = append(args, id)
	}
	v, err := matchScript.Run(ctx, d.rdb, []string{d.keys.Pool(pool), d.keys.UserSeats(userID)}, args...).StringSlice()
	if err != nil {
		return hub.Reservation{}, false, d.refusal(err)
	}
	if v[0] == "budget" {
		return hub.Reservation{}, false, errUserSeats
	}
	if v[0] != "ok" {
		return hub.Reservation{}, false, nil
	}
	r := hub.Reservation{Token: v[4], RoomID: v[1], NodeID: v[2], URL: v[3], TTL: d.cfg.ReservationTTL, Refused: refused}
	if d.reachable(ctx, r) != nil {
		// A node that died within its TTL: make a room elsewhere.
		d.Release(ctx, r.RoomID, userID)
		return hub.Reservation{}, false, nil
	}
	return r, true, nil
}

// PoolTurnTTL bounds a quick-match pool's turn to make a room (TakeTurn):
// a creator that never ends its turn (its node died, or its room went to
// another node that was slow to list it) holds the pool's other players
// back this long at most.
const PoolTurnTTL = time.Second

// TakeTurn takes pool's turn to make a new room for userID: false while
// another user's room for the pool is on its way. A user who holds the
// turn already gets it again. A user holds one turn: taking one ends the
// turn it took last on another pool, if it still holds it (a
// quick-match sent to another node to make its room leaves the turn for
// that node to end, and a client that never followed left a key for each
// pool it asked, its options making ever new pools).
func (d *Directory) TakeTurn(ctx context.Context, pool, userID string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	holder, err := takeTurnScript.Run(ctx, d.rdb, []string{d.keys.PoolTurn(pool), d.keys.UserTurn(userID)}, userID, PoolTurnTTL.Milliseconds()).Text()
	if err != nil {
		return false, d.refusal(err)
	}
	return holder == userID, nil
}

// EndTurn ends userID's turn on pool (TakeTurn), once its room is listed
// in the pool; another user's turn is left alone.
func (d *Directory) EndTurn(ctx context.Context, pool, userID string) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	_ = endTurnScript.Run(ctx, d.rdb, []string{d.keys.PoolTurn(pool)}, userID).Err()
}

// takeTurnScript sets the turn KEYS[1] to ARGV[1] for ARGV[2] ms unless
// another holds it, and returns the holder. A turn taken ends the one
// ARGV[1] took last (KEYS[2] names it), when it still holds it.
var takeTurnScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local last = redis.call('GET', KEYS[2])
  if last and last ~= KEYS[1] and redis.call('GET', last) == ARGV[1] then redis.call('DEL', last) end
  redis.call('SET', KEYS[2], KEYS[1], 'PX', ARGV[2])
  return ARGV[1]
end
return redis.call('GET', KEYS[1]) or ARGV[1]
`)

// endTurnScript deletes the turn when ARGV[1] holds it.
var endTurnScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// Place picks the node for a new room; a placement on another node
// carries refused, the rooms its quick-match passed over, while every
// node reads them (refusedSuffix).
func (d *Directory) Place(ctx context.Context, userID string, refused []string) (hub.Reservation, error) {
	nodes, err := d.node.Nodes(ctx)
	if err != nil {
		return hub.Reservation{}, d.refusal(err)
	}
	self := d.node.ID()
	var best *NodeInfo
	for i := range nodes {
		n := &nodes[i]
		if n.Draining {
			continue
		}
		if best == nil || less(*n, *best, self) {
			best = n
		}
	}
	if best == nil || best.ID == self || d.reachable(ctx, hub.Reservation{NodeID: best.ID, URL: best.WebSocketURL}) != nil {
		return hub.Reservation{NodeID: self}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	// One placement token a user: asking again rewrites it for the node
	// chosen now.
	tok, err := placeScript.Run(ctx, d.rdb, []string{d.keys.UserToken(userID, "")},
		d.keys.ReservationPrefix(), d.newToken(), best.ID+"|"+userID+"|"+d.refusedSuffix(refused), d.cfg.ReservationTTL.Milliseconds()).Text()
	if err != nil {
		return hub.Reservation{}, d.refusal(err)
	}
	return hub.Reservation{Token: tok, NodeID: best.ID, URL: best.WebSocketURL, TTL: d.cfg.ReservationTTL, Refused: refused}, nil
}

// refusedSuffix is the end of a reservation token's value after its room
// id (none for a placement): ",<id>" for each room of refused. Room ids
// hold neither ',' nor '|' (game.Runtime makes them base32, and a
// migrated room keeps its id), so Claim can cut them apart.
//
// It is empty, the older form, unless every live node says it reads it
// (Node.RefusedPeers): a node of an older version, in a rolling deploy,
// takes all that follows "<node>|<user>|" for the room id, so it would
// not find the room a match reserved its seat in: it tries its rooms of
// the pool in turn, and that seat, unless it seats the player there,
// stays reserved until it lapses. (A
// placement's ",<id>…" it would take for a room it does not have, as
// good as none; its older form is kept all the same.) Without the
// suffix, the node the player is sent to counts the refusals there from
// none: the rooms refused are the sending node's, which it never tries,
// so it may ask quickMatchTries rooms of its own before it makes one.
func (d *Directory) refusedSuffix(refused []string) string {
	if len(refused) == 0 || !d.node.RefusedPeers() {
		return ""
	}
	return "," + strings.Join(refused, ",")
}

// less orders nodes for a new room: fewer connections, then fewer rooms,
// then this node, then by id.
func less(a, b NodeInfo, self string) bool {
	if a.Conns != b.Conns {
		return a.Conns < b.Conns
	}
	if a.Rooms != b.Rooms {
		return a.Rooms < b.Rooms
	}
	if (a.ID == self) != (b.ID == self) {
		return a.ID == self
	}
	return a.ID < b.ID
}

// Claim checks a reservation token presented to this node.
func (d *Directory) Claim(ctx context.Context, token, userID string) (hub.Reservation, bool) {
	if token == "" || len(token) > 64 {
		return hub.Reservation{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	v, err := d.rdb.Get(ctx, d.keys.Reservation(token)).Result()
	if err != nil {
		return hub.Reservation{}, false
	}
	// "<node>|<user>|<room>[,<refused room>...]": a user id may hold "|"
	// (an identity provider's subject, "auth0|…") while node and room ids
	// never do, so the value must be this node's and this user's with a
	// room after them, not split at its first bars.
	rest, ok := strings.CutPrefix(v, d.node.ID()+"|"+userID+"|")
	if !ok || strings.Contains(rest, "|") {
		return hub.Reservation{}, false
	}
	room, refused, _ := strings.Cut(rest, ",")
	r := hub.Reservation{Token: token, NodeID: d.node.ID(), RoomID: room, URL: d.node.WebSocketURL()}
	if refused != "" {
		r.Refused = strings.Split(refused, ",")
	}
	return r, true
}

// Locate returns the node a room lives on.
func (d *Directory) Locate(ctx context.Context, roomID string) (hub.Reservation, error) {
	if !roomKeyable(roomID) {
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomNotFound, "")
	}
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	node, err := d.rdb.HGet(ctx, d.keys.Room(roomID), "node").Result()
	if errors.Is(err, redis.Nil) {
		if n, err := d.rdb.Exists(ctx, d.keys.Lost(roomID)).Result(); err == nil && n == 1 {
			return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomLost, "")
		}
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomNotFound, "")
	}
	if err != nil {
		return hub.Reservation{}, d.refusal(err)
	}
	ws, err := d.rdb.HGet(ctx, d.keys.Node(node), "ws").Result()
	if errors.Is(err, redis.Nil) {
		return hub.Reservation{}, protocol.NewError(protocol.ErrorRoomLost, "")
	}
	if err != nil {
		return hub.Reservation{}, d.refusal(err)
	}
	r := hub.Reservation{RoomID: roomID, NodeID: node, URL: ws}
	return r, d.reachable(ctx, r)
}

// probeTimeout bounds the connect that checks a node before a client is
// sent there.
const probeTimeout = 500 * time.Millisecond

// reachable checks, before a client is sent to another node, that the
// node takes TCP connections at its WebSocket address: a node that
// crashed stays registered until its TTL runs out, and a client must
// never be redirected to it. A refused connection means the node is gone
// (ROOM_LOST); no answer within probeTimeout means UNAVAILABLE.
func (d *Directory) reachable(ctx context.Context, r hub.Reservation) error {
	if r.NodeID == d.node.ID() {
		return nil
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		return protocol.NewError(protocol.ErrorRoomLost, "")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"wss": "443", "https": "443"}[u.Scheme])
		if strings.HasSuffix(host, ":") {
			host += "80"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err == nil {
		conn.Close()
		return nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return protocol.NewError(protocol.ErrorRoomLost, "")
	}
	return errors.Join(fmt.Errorf("%w: node %s: %w", ErrUnavailable, r.NodeID, err), protocol.NewError(protocol.ErrorUnavailable, "the room's node does not answer; retry shortly"))
}
