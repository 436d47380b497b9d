package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
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
// process under the same id that crashed and was started again at once.
// This process registers only once the previous one's registration
// lapsed (Node.register), but the sweep, run by the other nodes at their
// heartbeats, may not have seen it gone (there may be no other node), and
// they would stay listed and in their pools for good, with no room
// behind them. Each gets the sweep's tombstone, so its
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

// Publish lists a room this node just created, at once; while another
// process holds the node's id (Node.Ready says so), it refuses with
// UNAVAILABLE, as when Redis does not answer.
func (d *Directory) Publish(ctx context.Context, room *game.Room, pool string) error {
	if d.node.inUse.Load() {
		// Out of the cluster while another process holds this node's
		// id: listed under it, the room would send players to that
		// process, which has no such room.
		return d.refusal(fmt.Errorf("%w: node %q is registered by another process", errIDInUse, d.node.cfg.ID))
	}
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
