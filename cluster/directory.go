package cluster

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/hub"
)

// Directory defaults.
const (
	// DefaultReservationTTL is how long a reserved seat waits for its
	// player: longer than a reconnect with backoff.
	DefaultReservationTTL = 60 * time.Second
	// DefaultMaxUserSeats is the default of DirectoryConfig.MaxUserSeats:
	// the hub's default MaxRoomsPerUser.
	DefaultMaxUserSeats = 4
	// DefaultSyncInterval is how often a node writes the rooms that
	// changed.
	DefaultSyncInterval = 500 * time.Millisecond
	// DefaultRefreshEvery is, on average, how often a room with a free
	// seat is written even when unchanged, which returns seats of expired
	// reservations to the quick-match pools. Full and closed rooms are
	// written when they change only.
	DefaultRefreshEvery = 10 * time.Second
	// LostTTL is how long a room lost with its node is remembered, so
	// that its players get ROOM_LOST rather than ROOM_NOT_FOUND.
	LostTTL = 10 * time.Minute
	// ListScan caps the rooms one listing call walks in Redis.
	ListScan = 2000
	// MatchScan caps the rooms of a pool one quick-match looks at.
	MatchScan = 64
)

// DirectoryConfig configures a Directory.
type DirectoryConfig struct {
	// Node is this node's membership. Required.
	Node *Node
	// Runtime is the node's room runtime, whose rooms are listed.
	// Required.
	Runtime *game.Runtime
	// ReservationTTL is how long a reserved seat is held. Zero value
	// means DefaultReservationTTL.
	ReservationTTL time.Duration
	// MaxUserSeats caps the reservations one user holds and has not
	// taken yet, cluster-wide (its UserSeats set): past it Reserve and
	// Match refuse with ERROR_CODE_ALREADY_IN_ROOM. Zero value means
	// DefaultMaxUserSeats.
	MaxUserSeats int
	// SyncInterval is how often changed rooms are written. Zero value
	// means DefaultSyncInterval.
	SyncInterval time.Duration
	// RefreshInterval is, on average, how often a room with a free seat
	// is written although unchanged, which returns the seats of expired
	// reservations to its quick-match pool. Zero value means
	// DefaultRefreshEvery.
	RefreshInterval time.Duration
	// Logger receives sync failures. Zero value means no logging.
	Logger *slog.Logger
}

// Directory is the cluster-wide room directory: it lists this node's
// rooms in Redis, keeps their listing in step with them, and answers the
// hub's listings, seat reservations, quick-matches and placements from
// every node's listings. It implements hub.Cluster; its methods are safe
// from any goroutine.
type Directory struct {
	cfg  DirectoryConfig
	node *Node
	rdb  *redis.Client
	keys Keys

	mu        sync.Mutex
	pools     map[string]string   // local room id → its quick-match pool
	published map[string]*listing // local room id → what was written
	gen       uint64              // syncs run
	rand      *rand.Rand
	stop      chan struct{}
	done      chan struct{}

	// syncMu serializes syncs, which reuse the slices below.
	syncMu  sync.Mutex
	scratch []*game.Room
	writes  []pendingWrite
	gone    []string
}

var _ hub.Cluster = (*Directory)(nil)

// NewDirectory returns the directory of cfg.Node's cluster. Start begins
// the sync.
func NewDirectory(cfg DirectoryConfig) (*Directory, error) {
	if cfg.Node == nil || cfg.Runtime == nil {
		return nil, fmt.Errorf("%w: a directory needs the node and the runtime", ErrConfig)
	}
	if cfg.ReservationTTL <= 0 {
		cfg.ReservationTTL = DefaultReservationTTL
	}
	if cfg.MaxUserSeats <= 0 {
		cfg.MaxUserSeats = DefaultMaxUserSeats
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Directory{
		cfg: cfg, node: cfg.Node, rdb: cfg.Node.Client(), keys: cfg.Node.Keys(),
		pools: map[string]string{}, published: map[string]*listing{},
		rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)),
	}
	// After each fresh registration (the first, and after Redis came
	// back empty) every local room is written again from memory.
	cfg.Node.OnRegister(d.republish)
	return d, nil
}

// Start begins keeping the listings in step with the rooms, and sweeping
// the rooms of dead nodes.
func (d *Directory) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop != nil {
		return
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go d.loop(d.stop, d.done)
}

// Close stops the sync and removes this node's rooms from the directory.
func (d *Directory) Close(ctx context.Context) error {
	d.mu.Lock()
	stop, done := d.stop, d.done
	d.stop = nil
	ids := slices.Collect(maps.Keys(d.published))
	d.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	err := d.pipelined(ctx, func(p redis.Pipeliner) {
		for _, id := range ids {
			d.unpublish(ctx, p, id)
		}
	})
	return unavailable(err)
}

// NodeID names this node.
func (d *Directory) NodeID() string { return d.node.ID() }

// Unreachable reports whether the node's last heartbeat failed to reach
// Redis (Node.Unreachable).
func (d *Directory) Unreachable() bool { return d.node.Unreachable() }

func (d *Directory) loop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(d.cfg.SyncInterval)
	defer t.Stop()
	sweep := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if d.node.Ready() != nil {
			continue // the heartbeat republishes everything when Redis is back
		}
		ctx, cancel := context.WithTimeout(context.Background(), 4*d.node.Timeout())
		if err := d.sync(ctx, false); err != nil {
			d.cfg.Logger.Debug("cluster: directory sync", "err", err)
		}
		if time.Since(sweep) >= d.node.cfg.Heartbeat {
			sweep = time.Now()
			if n, err := d.Sweep(ctx); err == nil && n > 0 {
				d.cfg.Logger.Info("cluster: rooms of dead nodes removed from the directory", "rooms", n)
			}
		}
		cancel()
	}
}

// republish writes every local room, changed or not, then drops the
// rooms listed under this node's id that this process does not hold.
func (d *Directory) republish(ctx context.Context) error {
	if err := d.sync(ctx, true); err != nil {
		return err
	}
	return d.dropStale(ctx)
}

// dropStale removes from the directory the rooms the node's set lists
// that this process neither listed nor is listing: those of a previous
// process under the same id that crashed and was started again before its
// registration expired. The sweep never removes them, since the node is
// registered, and they would stay listed and in their pools for good,
// with no room behind them. Each gets the sweep's tombstone, so its
// players learn it was lost.
func (d *Directory) dropStale(ctx context.Context) error {
	ids, err := d.rdb.SMembers(ctx, d.keys.NodeRooms(d.node.ID())).Result()
	if err != nil {
		return unavailable(err)
	}
	// A room Publish lists is in d.pools before it is written: one in the
	// set read above is known here.
	d.mu.Lock()
	args := []any{d.node.ID(), d.keys.RoomPrefix(), d.keys.Rooms(), d.keys.PoolPrefix(), d.keys.LostPrefix(), LostTTL.Milliseconds()}
	for _, id := range ids {
		_, listed := d.published[id]
		_, publishing := d.pools[id]
		if !listed && !publishing {
			args = append(args, id)
		}
	}
	d.mu.Unlock()
	if len(args) == 6 {
		return nil
	}
	n, err := dropScript.Run(ctx, d.rdb, []string{d.keys.NodeRooms(d.node.ID()), d.keys.RoomNodes()}, args...).Int()
	if err != nil {
		return unavailable(err)
	}
	if n > 0 {
		d.cfg.Logger.Info("cluster: rooms a previous process of this node listed removed from the directory", "rooms", n)
	}
	return nil
}

// listing is what the directory last wrote of one local room.
type listing struct {
	sum  uint64    // the room's ListingSum when written
	gen  uint64    // the last sync that saw the room
	open bool      // seats were free: reservations may expire in Redis
	due  time.Time // when an open room is written again, changed or not
}

// pendingWrite is a room sync writes.
type pendingWrite struct {
	room *game.Room
	sum  uint64
	pool string
}

// sync writes the local rooms whose listing changed (all of them with
// all) and removes the ones that ended. A room with a free seat is also
// written RefreshInterval after its last write, changed or not, which
// returns the seats of expired reservations to its quick-match pool; a
// full or closed room has no seat to return and is left alone. An
// unchanged room costs a lock and a checksum: no allocation, no Redis.
func (d *Directory) sync(ctx context.Context, all bool) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	d.scratch = d.cfg.Runtime.AppendRooms(d.scratch[:0])
	now := time.Now()
	d.mu.Lock()
	d.gen++
	gen := d.gen
	writes := d.writes[:0]
	for _, room := range d.scratch {
		sum := room.ListingSum()
		l := d.published[room.ID()]
		if l != nil {
			l.gen = gen
			if !all && l.sum == sum && (!l.open || now.Before(l.due)) {
				continue
			}
		}
		writes = append(writes, pendingWrite{room, sum, d.pools[room.ID()]})
	}
	gone := d.gone[:0]
	for id, l := range d.published {
		if l.gen != gen {
			gone = append(gone, id)
		}
	}
	d.mu.Unlock()
	clear(d.scratch) // no room kept alive by the scratch slice
	d.writes, d.gone = writes, gone
	defer func() { clear(d.writes); clear(d.gone) }()
	if len(writes) == 0 && len(gone) == 0 {
		return nil
	}
	infos := make([]game.RoomInfo, len(writes))
	err := d.pipelined(ctx, func(p redis.Pipeliner) {
		for i, w := range writes {
			infos[i] = w.room.Info()
			d.publish(ctx, p, infos[i], w.room.Players(), w.room.PasswordDigest(), w.pool)
		}
		for _, id := range gone {
			d.unpublish(ctx, p, id)
		}
	})
	if err != nil {
		return unavailable(err)
	}
	d.mu.Lock()
	for i, w := range writes {
		d.noteWritten(w.room.ID(), w.sum, infos[i], gen, now)
	}
	for _, id := range gone {
		delete(d.published, id)
		delete(d.pools, id)
	}
	d.mu.Unlock()
	return nil
}

// noteWritten records a room's listing as written; d.mu is held.
func (d *Directory) noteWritten(id string, sum uint64, info game.RoomInfo, gen uint64, now time.Time) {
	l := d.published[id]
	if l == nil {
		l = &listing{}
		d.published[id] = l
	}
	l.sum, l.gen = sum, gen
	l.open = !info.Locked && !info.SeatsClosed && info.Phase < game.PhaseFinished && info.Players < info.MaxPlayers
	// Rooms written together are refreshed apart: each waits between
	// three quarters and five quarters of the interval, so a node's
	// refreshes spread out rather than arrive every interval at once.
	every := d.cfg.RefreshInterval
	l.due = now.Add(every*3/4 + time.Duration(d.rand.Int64N(int64(every/2)+1)))
}

// publish queues the write of one room's listing on p.
func (d *Directory) publish(ctx context.Context, p redis.Pipeliner, info game.RoomInfo, players []game.Occupant, pwd, pool string) {
	closed := info.Locked || info.Phase >= game.PhaseFinished
	open := !closed && !info.SeatsClosed && !info.Private && !info.HasPassword && pool != ""
	meta, _ := json.Marshal(orEmpty(info.Metadata))
	fields := []any{
		"node", d.node.ID(), "game", info.Game, "pool", pool,
		"max", info.MaxPlayers, "players", info.Players,
		"specs", info.Spectators, "phase", int(info.Phase),
		"closed", flag(closed), "open", flag(open), "private", flag(info.Private),
		"haspw", flag(info.HasPassword), "locked", flag(info.Locked), "seatsclosed", flag(info.SeatsClosed),
		"rate", info.TickRate, "tick", info.Tick,
		"meta", meta, "pwd", pwd,
	}
	poolKey := ""
	if pool != "" {
		poolKey = d.keys.Pool(pool)
	}
	args := make([]any, 0, 6+len(fields)+len(players))
	args = append(args, info.ID, flag(open), info.MaxPlayers, d.node.ID(), d.keys.UserSeatsPrefix(), len(fields))
	args = append(args, fields...)
	for _, pl := range players {
		args = append(args, pl.UserID)
	}
	publishScript.Run(ctx, p, []string{
		d.keys.Room(info.ID), d.keys.Seats(info.ID), d.keys.Rooms(), d.keys.NodeRooms(d.node.ID()),
		poolKey, d.keys.RoomNodes(), d.keys.Lost(info.ID),
	}, args...)
}

func (d *Directory) unpublish(ctx context.Context, p redis.Pipeliner, id string) {
	unpublishScript.Run(ctx, p, []string{d.keys.Room(id), d.keys.Seats(id), d.keys.Rooms(), d.keys.NodeRooms(d.node.ID()), d.keys.RoomNodes()},
		id, d.keys.PoolPrefix(), d.node.ID())
}

// pipelined runs fn's scripts (EVALSHA) in one round trip; when Redis
// does not know them (it restarted) it loads them and runs fn again.
func (d *Directory) pipelined(ctx context.Context, fn func(redis.Pipeliner)) error {
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
	if err == nil || !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return err
	}
	for _, s := range []*redis.Script{publishScript, unpublishScript} {
		if err := s.Load(ctx, d.rdb).Err(); err != nil {
			return err
		}
	}
	_, err = d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
	return err
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Publish lists a room this node just created, at once.
func (d *Directory) Publish(ctx context.Context, room *game.Room, pool string) error {
	d.mu.Lock()
	d.pools[room.ID()] = pool
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	sum := room.ListingSum() // before what is written: a change between is written again
	info, players := room.Info(), room.Players()
	err := d.pipelined(ctx, func(p redis.Pipeliner) { d.publish(ctx, p, info, players, room.PasswordDigest(), pool) })
	if err != nil {
		// The write may still land (Redis stalled, not gone), and the
		// caller may close the room: the sync owns it from now on, and
		// writes it while it lives (as an open room past its refresh, so
		// whatever its checksum) or removes its listing once it ended,
		// and forgets it.
		d.mu.Lock()
		if _, ok := d.published[room.ID()]; !ok {
			d.published[room.ID()] = &listing{gen: d.gen, open: true}
		}
		d.mu.Unlock()
		return d.refusal(err)
	}
	d.mu.Lock()
	if _, ok := d.pools[room.ID()]; ok { // not ended meanwhile
		d.noteWritten(room.ID(), sum, info, d.gen, time.Now())
	}
	d.mu.Unlock()
	return nil
}

// Pool returns the quick-match pool a local room was listed in, empty
// for none.
func (d *Directory) Pool(roomID string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pools[roomID]
}

// errUserSeats refuses a reservation past DirectoryConfig.MaxUserSeats,
// with the hub's code for a user in as many rooms as it may be.
var errUserSeats = protocol.NewError(protocol.ErrorAlreadyInRoom, "holding as many seat reservations as a user may")

// refusal is the hub's error for a failed Redis call: ERROR_CODE_UNAVAILABLE.
func (d *Directory) refusal(err error) error {
	return errors.Join(unavailable(err), protocol.NewError(protocol.ErrorUnavailable, "the room directory is unreachable; retry shortly"))
}

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

// Match reserves a seat in the fullest open room of a pool, passing over
// the rooms of refused.
func (d *Directory) Match(ctx context.Context, pool, userID string, refused []string) (hub.Reservation, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	args := []any{userID, d.cfg.ReservationTTL.Milliseconds(), d.keys.NodePrefix(), d.keys.RoomPrefix(), d.keys.ReservationPrefix(), MatchScan, d.cfg.MaxUserSeats,
		d.newToken(), d.keys.UserTokenPrefix(), refusedSuffix(refused)}
	for _, id := range refused {
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
// turn already gets it again.
func (d *Directory) TakeTurn(ctx context.Context, pool, userID string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	holder, err := takeTurnScript.Run(ctx, d.rdb, []string{d.keys.PoolTurn(pool)}, userID, PoolTurnTTL.Milliseconds()).Text()
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

// takeTurnScript sets the turn to ARGV[1] for ARGV[2] ms unless another
// holds it, and returns the holder.
var takeTurnScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return ARGV[1] end
return redis.call('GET', KEYS[1]) or ARGV[1]
`)

// endTurnScript deletes the turn when ARGV[1] holds it.
var endTurnScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// Place picks the node for a new room; a placement on another node
// carries refused, the rooms its quick-match passed over.
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
		d.keys.ReservationPrefix(), d.newToken(), best.ID+"|"+userID+"|"+refusedSuffix(refused), d.cfg.ReservationTTL.Milliseconds()).Text()
	if err != nil {
		return hub.Reservation{}, d.refusal(err)
	}
	return hub.Reservation{Token: tok, NodeID: best.ID, URL: best.WebSocketURL, TTL: d.cfg.ReservationTTL, Refused: refused}, nil
}

// refusedSuffix is the end of a reservation token's value after its room
// id (none for a placement): ",<id>" for each room of refused. Room ids
// hold neither ',' nor '|' (game.Runtime makes them base32, and a
// migrated room keeps its id), so Claim can cut them apart.
func refusedSuffix(refused []string) string {
	if len(refused) == 0 {
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

// List returns a page of the cluster's listed rooms.
func (d *Directory) List(ctx context.Context, q hub.RoomQuery) ([]hub.ClusterRoom, string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.node.Timeout())
	defer cancel()
	want, _ := json.Marshal(orEmpty(q.Metadata))
	v, err := listScript.Run(ctx, d.rdb, []string{d.keys.Rooms()},
		d.keys.RoomPrefix(), d.keys.NodePrefix(), q.After, max(q.Limit, 1), q.Game, flag(q.Joinable), string(want), ListScan).Slice()
	if err != nil {
		return nil, "", d.refusal(err)
	}
	next, _ := v[0].(string)
	out := make([]hub.ClusterRoom, 0, len(v)-1)
	for _, h := range v[1:] {
		out = append(out, roomFromHash(flatMap(h)))
	}
	return out, next, nil
}

func flatMap(h any) map[string]string {
	flat, _ := h.([]any)
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		m[k] = v
	}
	return m
}

func roomFromHash(m map[string]string) hub.ClusterRoom {
	atoi := func(s string) int { v, _ := strconv.Atoi(s); return v }
	tick, _ := strconv.ParseUint(m["tick"], 10, 64)
	var meta map[string]string
	_ = json.Unmarshal([]byte(m["meta"]), &meta)
	if len(meta) == 0 {
		meta = nil
	}
	return hub.ClusterRoom{NodeID: m["node"], RoomInfo: game.RoomInfo{
		ID: m["id"], Game: m["game"], Phase: game.Phase(atoi(m["phase"])),
		Players: atoi(m["seats"]), Spectators: atoi(m["specs"]), MaxPlayers: atoi(m["max"]),
		Locked: m["locked"] == "1", SeatsClosed: m["seatsclosed"] == "1", Private: m["private"] == "1", HasPassword: m["haspw"] == "1",
		TickRate: atoi(m["rate"]), Tick: tick, Metadata: meta,
	}}
}

// Sweep removes from the directory the rooms of nodes whose registration
// expired, leaving a LostTTL tombstone for each; it returns how many.
// Every node sweeps every heartbeat; the script is idempotent.
func (d *Directory) Sweep(ctx context.Context) (int, error) {
	n, err := sweepScript.Run(ctx, d.rdb, []string{d.keys.RoomNodes()},
		d.keys.NodePrefix(), d.keys.NodeRoomsPrefix(), d.keys.RoomPrefix(), d.keys.Rooms(), d.keys.PoolPrefix(),
		d.keys.LostPrefix(), LostTTL.Milliseconds()).Int()
	return n, unavailable(err)
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
