package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// Room migration: when a node drains, each room whose game implements
// game.Saver moves to another node instead of finishing here.
//
//  1. The source picks a target: the least-loaded live node that is not
//     draining and takes TCP connections. With none, or Redis out of
//     reach, the room stays and finishes here (up to the drain deadline).
//  2. The room hands itself off (game.Room.Handoff): at its next tick it
//     is saved and its members removed with game.RemovedMoved.
//  3. The save goes to Redis under Keys.Saved (TTL SavedTTL), and the
//     target is asked over the bus to restore it. The target takes it with
//     GETDEL, so a save is restored at most once, restores the room under
//     the same id, lists it with the same users seated, holds their seats
//     for a resume (hub.Hub.Adopt) and answers.
//  4. The source sends each member connected to it a Redirect to the
//     target, with a seat reservation (hub.Hub.MovedTo); members who had
//     dropped resume through any node, which redirects them there.
//
// When the restore fails after the hand-off (the target refused it or did
// not answer and never took the save), the source restores the room
// itself and redirects its members back to itself: the room then
// finishes here like any other.

// Migration defaults.
const (
	// SavedTTL is how long a saved room waits in Redis for its target.
	SavedTTL = 60 * time.Second
	// MigrateParallel bounds the rooms one drain moves at a time.
	MigrateParallel = 8
	// restoreParallel bounds the restores a node runs at a time for
	// other nodes; past it a restore is refused and the room stays.
	restoreParallel = 64
	// handoffWait bounds the wait for a room's next tick to save it.
	handoffWait = 5 * time.Second
)

// kindRestore asks a node to restore a saved room; Body is a
// restoreRequest, the answer a restoreAnswer.
const kindRestore = "room.restore"

type restoreRequest struct {
	Room string `json:"room"`
	Pool string `json:"pool,omitempty"`
}

type restoreAnswer struct {
	OK  bool   `json:"ok"`
	Err string `json:"err,omitempty"`
}

// Saved is the string holding a room saved for its move (a
// tickroom.v1.SavedRoom; TTL: SavedTTL).
func (k Keys) Saved(roomID string) string { return k.Prefix + "saved:" + roomID }

// MigratorConfig configures a Migrator.
type MigratorConfig struct {
	// Node, Bus, Directory and Hub are this node's. Required.
	Node      *Node
	Bus       *Bus
	Directory *Directory
	Hub       *hub.Hub
	// Logger receives each move and why one failed. Zero value means no
	// logging.
	Logger *slog.Logger
}

// Migrator moves this node's saveable rooms to other nodes when it
// drains, and restores the rooms other nodes move here. Its methods are
// safe from any goroutine.
type Migrator struct {
	cfg  MigratorConfig
	rdb  *redis.Client
	keys Keys
	log  *slog.Logger
	rt   *game.Runtime
	sem  chan struct{} // restores for other nodes in flight
	wg   sync.WaitGroup

	// Moved counts rooms moved off this node; Failed rooms that could
	// save but stayed (no target, Redis or the target failed); Restored
	// rooms restored here for another node.
	Moved, Failed, Restored atomic.Uint64
}

// NewMigrator returns the node's migrator and registers its bus handler;
// call it before the bus starts.
func NewMigrator(cfg MigratorConfig) (*Migrator, error) {
	if cfg.Node == nil || cfg.Bus == nil || cfg.Directory == nil || cfg.Hub == nil {
		return nil, fmt.Errorf("%w: a migrator needs the node, bus, directory and hub", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Migrator{
		cfg: cfg, rdb: cfg.Node.Client(), keys: cfg.Node.Keys(), log: cfg.Logger,
		rt: cfg.Hub.Runtime(), sem: make(chan struct{}, restoreParallel),
	}
	cfg.Bus.Handle(kindRestore, m.onRestore)
	return m, nil
}

// MigrateAll moves every room of this node whose game can save itself and
// whose match runs, at most MigrateParallel at a time, and returns when
// each has moved or stays (then it finishes here). Call it once the node
// is marked draining, so that no room is moved to it meanwhile.
func (m *Migrator) MigrateAll(ctx context.Context) {
	var rooms []*game.Room
	for _, info := range m.rt.Rooms(game.RoomFilter{Private: true}) {
		if info.Phase != game.PhaseRunning {
			continue
		}
		if r, ok := m.rt.Room(info.ID); ok && r.CanSave() {
			rooms = append(rooms, r)
		}
	}
	if len(rooms) == 0 {
		return
	}
	targets, err := m.targets(ctx)
	if err != nil || len(targets) == 0 {
		why := "no other node takes rooms"
		if err != nil {
			why = err.Error()
		}
		m.Failed.Add(uint64(len(rooms)))
		m.log.Warn("drain: rooms cannot move; they finish here", "rooms", len(rooms), "why", why)
		return
	}
	sem := make(chan struct{}, MigrateParallel)
	var wg sync.WaitGroup
	for i, r := range rooms {
		// Spread the rooms over the targets, least loaded first.
		t := targets[i%len(targets)]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m.migrate(ctx, r, t)
		}()
	}
	wg.Wait()
}

// targets returns the live nodes that take rooms, least loaded first.
func (m *Migrator) targets(ctx context.Context) ([]NodeInfo, error) {
	nodes, err := m.cfg.Node.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	self := m.cfg.Node.ID()
	var out []NodeInfo
	for _, n := range nodes {
		if n.ID == self || n.Draining || n.WebSocketURL == "" {
			continue
		}
		if m.cfg.Directory.reachable(ctx, hub.Reservation{NodeID: n.ID, URL: n.WebSocketURL}) != nil {
			continue
		}
		out = append(out, n)
	}
	sortNodes(out, self)
	return out, nil
}

func sortNodes(ns []NodeInfo, self string) {
	slices.SortFunc(ns, func(a, b NodeInfo) int {
		switch {
		case less(a, b, self):
			return -1
		case less(b, a, self):
			return 1
		}
		return 0
	})
}

type saveResult struct {
	saved *tickroomv1.SavedRoom
	err   error
}

// migrate moves one room to target.
func (m *Migrator) migrate(ctx context.Context, room *game.Room, target NodeInfo) {
	id := room.ID()
	log := m.log.With("room", id, "target", target.ID)
	pool := m.cfg.Directory.Pool(id)
	done := make(chan saveResult, 1)
	handoff := func(s *tickroomv1.SavedRoom, err error) {
		if err == nil {
			m.cfg.Hub.SaveChat(s) // the room's chat goes with it
		}
		done <- saveResult{s, err}
	}
	if err := room.Handoff(handoff); err != nil {
		if !errors.Is(err, game.ErrFinished) {
			m.Failed.Add(1)
			log.Warn("drain: room cannot hand off; it finishes here", "err", err)
		}
		return
	}
	var res saveResult
	select {
	case res = <-done:
	case <-time.After(handoffWait):
		// The room is late to tick: whatever comes, it stays here.
		log.Warn("drain: room did not save in time; it finishes here")
		go func() {
			if r := <-done; r.err == nil {
				m.restoreHere(r.saved, pool, "saved too late")
			} else if !errors.Is(r.err, game.ErrFinished) {
				m.Failed.Add(1)
			}
		}()
		return
	}
	if res.err != nil {
		if !errors.Is(res.err, game.ErrFinished) {
			m.Failed.Add(1)
			log.Warn("drain: room could not save; it finishes here", "err", res.err)
		}
		return
	}
	data, err := res.saved.MarshalVT()
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, m.cfg.Node.Timeout())
		err = m.rdb.Set(cctx, m.keys.Saved(id), data, SavedTTL).Err()
		cancel()
	}
	if err != nil {
		m.restoreHere(res.saved, pool, "storing the save: "+err.Error())
		return
	}
	ans, err := m.call(target.ID, restoreRequest{Room: id, Pool: pool})
	switch {
	case err == nil && ans.OK:
	case err == nil:
		// The target refused: it restored nothing.
		m.forget(id)
		m.restoreHere(res.saved, pool, "target refused: "+ans.Err)
		return
	default:
		// No answer: the save tells whether the target took it. The room
		// is restored here only when this node's own GETDEL returned the
		// save, so no node can have restored it; otherwise the target's
		// copy wins, whether it is listed yet or not, and when the target
		// never restored it its players, sent there, get ROOM_NOT_FOUND
		// (or ROOM_LOST once its node is gone): a room is never run twice.
		switch m.reclaim(id) {
		case saveReclaimed:
			m.restoreHere(res.saved, pool, "target did not answer: "+err.Error())
			return
		case saveTaken:
			if !m.listedOn(id, target.ID) {
				log.Warn("drain: target took the save but does not list the room yet; its players are sent there")
			}
		default:
			log.Warn("drain: target did not answer and Redis cannot tell whether it took the save; its players are sent there", "err", err)
		}
	}
	m.Moved.Add(1)
	n := m.redirect(ctx, res.saved, target.ID, target.WebSocketURL)
	log.Info("drain: room moved", "members", len(res.saved.Members), "redirected", n, "tick", res.saved.Tick)
}

// call asks node to restore a room and waits for the answer.
func (m *Migrator) call(node string, req restoreRequest) (restoreAnswer, error) {
	type result struct {
		e   *Envelope
		err error
	}
	body, _ := json.Marshal(req)
	out := make(chan result, 1)
	m.cfg.Bus.Call(node, &Envelope{Kind: kindRestore, Body: body}, func(e *Envelope, err error) { out <- result{e, err} })
	r := <-out
	if r.err != nil {
		return restoreAnswer{}, r.err
	}
	var a restoreAnswer
	if err := json.Unmarshal(r.e.Body, &a); err != nil {
		return restoreAnswer{}, fmt.Errorf("%w: undecodable restore answer: %w", ErrUnavailable, err)
	}
	return a, nil
}

// saveFate is what a reclaim learnt of a save.
type saveFate int

const (
	// saveReclaimed: this node's GETDEL returned it; no node has it, nor
	// ever will.
	saveReclaimed saveFate = iota
	// saveTaken: it is gone: another node took it (or it expired).
	saveTaken
	// saveUnknown: Redis did not answer; another node may have taken it.
	saveUnknown
)

// reclaimTries bounds the GETDELs a reclaim makes while Redis does not
// answer, each under the node's call timeout.
const reclaimTries = 3

// reclaim takes the save back and reports what became of it.
func (m *Migrator) reclaim(id string) saveFate {
	return reclaimSave(m.rdb, m.keys.Saved(id), m.cfg.Node.Timeout())
}

// reclaimSave GETDELs key, retrying a Redis error a few times: a call
// that failed may or may not have run, so only a returned value or an
// answered nil settles it.
func reclaimSave(rdb redis.Cmdable, key string, timeout time.Duration) saveFate {
	for try := 0; try < reclaimTries; try++ {
		if try > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, err := rdb.GetDel(ctx, key).Result()
		cancel()
		switch {
		case err == nil:
			return saveReclaimed
		case errors.Is(err, redis.Nil):
			return saveTaken
		}
	}
	return saveUnknown
}

// forget deletes a save no node will take.
func (m *Migrator) forget(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Node.Timeout())
	defer cancel()
	_ = m.rdb.Del(ctx, m.keys.Saved(id)).Err()
}

// listedOn waits up to two seconds for the directory to list the room on
// node.
func (m *Migrator) listedOn(id, node string) bool {
	deadline := time.Now().Add(2 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Node.Timeout())
		got, err := m.rdb.HGet(ctx, m.keys.Room(id), "node").Result()
		cancel()
		if err == nil && got == node {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// redirect tells the members connected here where the room lives now,
// each with a seat reservation there (none for a spectator, or when Redis
// does not answer: the room's node takes the resume without one).
func (m *Migrator) redirect(ctx context.Context, s *tickroomv1.SavedRoom, node, url string) int {
	spectator := make(map[string]bool, len(s.Members))
	for _, mb := range s.Members {
		spectator[mb.UserId] = mb.Spectator
	}
	return m.cfg.Hub.MovedTo(s.RoomId, func(uid string) (hub.Reservation, bool) {
		r := hub.Reservation{RoomID: s.RoomId, NodeID: node, URL: url, TTL: m.cfg.Directory.cfg.ReservationTTL}
		if !spectator[uid] && node != m.cfg.Node.ID() {
			if got, err := m.cfg.Directory.reserve(ctx, s.RoomId, uid, "-", 0); err == nil && got.NodeID == node {
				r = got
			}
		}
		return r, true
	})
}

// restoreHere restores a room that could not move, on this node, and
// sends its members back to it: it finishes here.
func (m *Migrator) restoreHere(s *tickroomv1.SavedRoom, pool, why string) {
	m.Failed.Add(1)
	log := m.log.With("room", s.RoomId)
	if _, err := m.restore(context.Background(), s, pool); err != nil {
		log.Error("drain: room lost: it could neither move nor be restored here", "why", why, "err", err)
		m.cfg.Hub.MovedTo(s.RoomId, nil)
		return
	}
	log.Warn("drain: room could not move; restored here, it finishes here", "why", why)
	m.redirect(context.Background(), s, m.cfg.Node.ID(), m.cfg.Node.WebSocketURL())
}

// restore makes a live room of s here, lists it with its users seated and
// holds their seats for a resume.
func (m *Migrator) restore(ctx context.Context, s *tickroomv1.SavedRoom, pool string) (*game.Room, error) {
	room, err := m.rt.RestoreRoom(s)
	if err != nil {
		return nil, err
	}
	m.cfg.Hub.AdoptChat(room, s.Chat) // before a member can resume here
	m.cfg.Hub.Adopt(room, s.Members)
	if err := m.cfg.Directory.Publish(ctx, room, pool); err != nil {
		// The sync lists it once Redis answers.
		m.log.Warn("cluster: restored room not listed yet", "room", s.RoomId, "err", err)
	}
	return room, nil
}

// onRestore serves another node's restore call, off the bus goroutine.
func (m *Migrator) onRestore(e *Envelope) {
	answer := func(a restoreAnswer) {
		body, _ := json.Marshal(a)
		_ = m.cfg.Bus.Answer(e, &Envelope{Kind: kindRestore, Body: body})
	}
	var req restoreRequest
	if err := json.Unmarshal(e.Body, &req); err != nil || req.Room == "" {
		answer(restoreAnswer{Err: "bad restore request"})
		return
	}
	if m.cfg.Node.Draining() {
		answer(restoreAnswer{Err: "draining"})
		return
	}
	select {
	case m.sem <- struct{}{}:
	default:
		answer(restoreAnswer{Err: "too many restores in flight"})
		return
	}
	m.wg.Add(1)
	go func() {
		defer func() { <-m.sem; m.wg.Done() }()
		if err := m.restoreFor(req); err != nil {
			m.log.Warn("cluster: restore for another node refused", "room", req.Room, "from", e.Node, "err", err)
			answer(restoreAnswer{Err: err.Error()})
			return
		}
		m.Restored.Add(1)
		m.log.Info("cluster: room restored from another node", "room", req.Room, "from", e.Node)
		answer(restoreAnswer{OK: true})
	}()
}

// restoreFor takes a save out of Redis (GETDEL: at most one node ever
// gets it) and restores it here.
func (m *Migrator) restoreFor(req restoreRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.Node.Timeout())
	defer cancel()
	data, err := m.rdb.GetDel(ctx, m.keys.Saved(req.Room)).Bytes()
	if errors.Is(err, redis.Nil) {
		return errors.New("no such save")
	}
	if err != nil {
		return unavailable(err)
	}
	s := new(tickroomv1.SavedRoom)
	if err := s.UnmarshalVT(data); err != nil {
		return fmt.Errorf("%w: %w", game.ErrBadSave, err)
	}
	if s.RoomId != req.Room {
		return fmt.Errorf("%w: save of room %q under %q", game.ErrBadSave, s.RoomId, req.Room)
	}
	_, err = m.restore(ctx, s, req.Pool)
	return err
}

// Close waits for the restores in flight. A nil Migrator does nothing.
func (m *Migrator) Close() {
	if m != nil {
		m.wg.Wait()
	}
}

var descMigrations = prometheus.NewDesc("tickroom_room_migrations_total",
	"Rooms whose game can save itself, by what a drain did with them: moved (off this node), failed (stayed here to finish: no target, Redis or the target failed), restored (here, for another node).",
	[]string{"result"}, nil)

// Describe implements prometheus.Collector.
func (m *Migrator) Describe(ch chan<- *prometheus.Desc) { ch <- descMigrations }

// Collect implements prometheus.Collector.
func (m *Migrator) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descMigrations, prometheus.CounterValue, float64(m.Moved.Load()), "moved")
	ch <- prometheus.MustNewConstMetric(descMigrations, prometheus.CounterValue, float64(m.Failed.Load()), "failed")
	ch <- prometheus.MustNewConstMetric(descMigrations, prometheus.CounterValue, float64(m.Restored.Load()), "restored")
}

var _ prometheus.Collector = (*Migrator)(nil)
