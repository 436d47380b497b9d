package hub

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Room list watches (WatchRooms): a lobby page keeps its room list current
// from pushed changes instead of polling ListRooms.
//
// One goroutine, started with the first watch, wakes every
// Config.RoomWatchInterval while watches exist, lists the public rooms
// once, and compares them with the previous listing: only the rooms that
// changed (seats, player names, phase, lock) or went away are then matched against each
// watch, so a pass costs one listing plus watches × changes, not
// watches × rooms. Whatever changed within an interval goes out as one
// RoomListUpdate per watch, so a watch gets at most 1/interval updates a
// second however busy the rooms are. Sends are the reliable class's
// non-blocking enqueue; a congested connection's watch is skipped and
// compared in full once it drains. No loop ever waits on a pass: the
// handlers take the watch set's mutex for an append or a removal, and a
// watch's own mutex (which a pass holds while it diffs that one watch) to
// list a new watch's rooms or to close one. Lock order: a watch's mu before
// roomWatches.mu, which is never held while taking a watch's.
//
// In a cluster (Config.Cluster set) the rooms are every node's: the pass
// lists a window of the cluster directory from Redis instead of the
// local runtime, every clusterWatchInterval (or RoomWatchInterval if
// longer), once per node however many watches it holds. The window is
// the first clusterWatchWindow public rooms by id, walked in pages of
// clusterWatchPage, at most clusterWatchCalls listing calls a pass. A new
// watch is answered from the latest window when it is fresh (younger
// than the interval), else from a new walk, made off the session's loop
// and shared by the watches that ask meanwhile; it is marked stale, so
// the next pass compares it in full. A pass that cannot reach Redis
// changes nothing and the next one tries again; a new watch that cannot
// gets ERROR_CODE_UNAVAILABLE.

// Cluster watch bounds.
const (
	// clusterWatchInterval is the shortest interval between two walks of
	// the cluster directory by one node's watches.
	clusterWatchInterval = time.Second
	// clusterWatchWindow caps the rooms a watched list is drawn from in a
	// cluster: the first that many public rooms by id.
	clusterWatchWindow = 2000
	// clusterWatchPage is the page size of one listing call of a walk.
	clusterWatchPage = 500
	// clusterWatchCalls caps the listing calls of one walk (each walks at
	// most the directory's own scan bound of rooms in Redis).
	clusterWatchCalls = 8
)

// roomWatch is one WatchRooms subscription of a session.
type roomWatch struct {
	s     *Session
	id    uint32
	game  string
	meta  map[string]string
	free  bool
	limit int

	mu     sync.Mutex
	closed bool                   // unwatched, replaced, or its session is gone
	sent   map[string]roomListing // the client's list, as last sent
	more   bool                   // a matching room was left out for the limit
	stale  bool                   // changes were skipped: compare in full
}

// roomListing is what a watch compares of a room; the tick is left out, or
// every running room would change every pass.
type roomListing struct {
	players, spectators, maxPlayers int
	phase                           game.Phase
	locked, password                bool
	names                           string // PlayerNames joined by NUL
}

func listingOf(info *game.RoomInfo) roomListing {
	return roomListing{
		players: info.Players, spectators: info.Spectators, maxPlayers: info.MaxPlayers,
		phase: info.Phase, locked: info.Locked || info.SeatsClosed, password: info.HasPassword,
		names: strings.Join(info.PlayerNames, "\x00"),
	}
}

// matches reports whether info passes the watch's filters.
func (w *roomWatch) matches(info *game.RoomInfo) bool {
	if w.game != "" && info.Game != w.game {
		return false
	}
	if w.free && (info.Locked || info.SeatsClosed || info.Phase >= game.PhaseFinished || info.Players >= info.MaxPlayers) {
		return false
	}
	return metadataMatches(info.Metadata, w.meta)
}

// roomWatches holds every watch of a hub and runs the passes.
type roomWatches struct {
	h *Hub

	mu      sync.Mutex
	all     map[*Session][]*roomWatch // guarded by mu
	count   int                       // watches in all
	running bool                      // the pass goroutine is started
	stopped bool                      // the hub shut down
	stop    chan struct{}
	ctx     context.Context // canceled at shutdown: ends a pass's walk
	cancel  context.CancelFunc
	done    chan struct{}

	// Owned by the pass goroutine.
	prev map[string]roomListing

	// A cluster's latest window of rooms, shared by the pass and new
	// watches; walkMu is held while walking, so that one walk serves the
	// callers that wait.
	walkMu sync.Mutex
	window []game.RoomInfo // read-only once stored
	walked time.Time
}

func newRoomWatches(h *Hub) *roomWatches {
	ctx, cancel := context.WithCancel(context.Background())
	return &roomWatches{h: h, all: make(map[*Session][]*roomWatch), stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

var errTooManyWatches = protocol.NewError(protocol.ErrorListFull, "")

// watchRooms answers WatchRooms with the rooms that match now and starts
// the watch. It runs on the session's loop; in a cluster the rooms are
// listed off it. A first list looks at every room of the node (up to
// MaxRooms) until it is whole, so the WatchRooms a connection sends are
// a token bucket's (Config.RoomWatchRate, RoomWatchBurst): the same
// watch id sent again, or unwatched and watched again, at the message
// rate would walk the node's rooms that many times a second. The first
// lists of an address's connections together are also its room lists'
// budget (takeRoomList, shared with ListRooms). A refused one changes
// nothing: a held watch of its id goes on, and one refused before it
// looks at any room (LIST_FULL, and in a cluster too many in flight)
// gives its tokens back. One the cluster directory fails keeps them: it
// was a walk asked of Redis, and giving them back would leave a
// connection's watches unbounded exactly while Redis fails or is slow.
func (s *Session) watchRooms(id uint32, q *tickroomv1.WatchRooms) error {
	// A watch the connection has no room for is refused here, on the
	// loop, before it takes a room list or, in a cluster, a request in
	// flight and a walk of the directory; add checks again, under the
	// lock that registers it.
	if s.h.watches.full(s, q.WatchId) {
		return errTooManyWatches
	}
	giveBack, err := s.takeRoomList(&s.h.watchLim, s.h.cfg.RoomWatchRate, s.h.cfg.RoomWatchBurst, "room watch rate limit exceeded")
	if err != nil {
		return err
	}
	if s.h.cluster != nil {
		// Refused in flight, or LIST_FULL by clusterWatch, it gives its
		// room list back.
		err := s.offLoopDo(id, func(ctx context.Context) error {
			return s.clusterWatch(ctx, id, q, giveBack)
		})
		if err != nil {
			giveBack()
		}
		return err
	}
	w := s.newRoomWatch(q)
	// The watch is registered before the rooms are listed, and a pass
	// waits on w.mu until the reply is queued: no change is lost between
	// the listing and the first pass, and no update overtakes the reply (a
	// pass may repeat a room the reply has).
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := s.h.watches.add(w); err != nil {
		giveBack()
		return err
	}
	out := &tickroomv1.RoomList{}
	f := game.RoomFilter{Game: q.Game, Joinable: q.FreeSeatsOnly}
	var infos []game.RoomInfo
	if p, ok := s.h.dir.(roomPager); ok {
		// Only the rooms the reply lists (and one more, to know of it) are
		// copied; the others cost a comparison each.
		infos, _ = p.Page(f, "", func(m map[string]string) bool { return metadataMatches(m, q.Metadata) }, w.limit+1, 0)
	} else {
		infos = s.h.dir.List(f)
	}
	size := 0
	for i := range infos {
		if !metadataMatches(infos[i].Metadata, q.Metadata) {
			continue
		}
		if !w.take(&infos[i], out, &size) {
			break
		}
	}
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomList{RoomList: out}})
	return nil
}

// clusterWatch starts a watch of the cluster's rooms. It runs off the
// loop. The rooms come from a window at most an interval old, so the
// watch is marked stale: the next pass compares it with its own listing
// in full, and no change between the two is lost. A watch the session
// has no room for calls giveBack; one the directory fails does not.
func (s *Session) clusterWatch(ctx context.Context, id uint32, q *tickroomv1.WatchRooms, giveBack func()) error {
	rooms, err := s.h.watches.clusterWindow(ctx, s.h.watches.interval())
	if err != nil {
		return err
	}
	w := s.newRoomWatch(q)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := s.h.watches.add(w); err != nil {
		giveBack()
		return err
	}
	w.stale = true
	out := &tickroomv1.RoomList{}
	size := 0
	for i := range rooms {
		if !w.matches(&rooms[i]) {
			continue
		}
		if !w.take(&rooms[i], out, &size) {
			break
		}
	}
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomList{RoomList: out}})
	return nil
}

// take adds a matching room to a new watch's first list, out, whose
// encoded rooms size counts; it reports false when the list is whole: at
// the watch's limit, or at listBytes, as a ListRooms reply, in which case
// the watch keeps to the rooms it took (its limit becomes their number),
// so that a WatchRooms, which a client may send again and again with the
// same id, is never answered with more than a ListRooms is. The caller
// holds w.mu.
func (w *roomWatch) take(info *game.RoomInfo, out *tickroomv1.RoomList, size *int) bool {
	if len(w.sent) == w.limit {
		w.more = true
		return false
	}
	ri := wireRoomInfo(*info)
	if *size += ri.SizeVT() + 3; *size > listBytes && len(w.sent) > 0 {
		w.limit, w.more = len(w.sent), true
		return false
	}
	w.sent[info.ID] = listingOf(info)
	out.Rooms = append(out.Rooms, ri)
	return true
}

func (s *Session) newRoomWatch(q *tickroomv1.WatchRooms) *roomWatch {
	limit := s.h.cfg.ListLimit
	if q.Limit > 0 && int(q.Limit) < limit {
		limit = int(q.Limit)
	}
	return &roomWatch{s: s, id: q.WatchId, game: q.Game, meta: q.Metadata, free: q.FreeSeatsOnly, limit: limit, sent: make(map[string]roomListing)}
}

// unwatchRooms ends a watch. It runs on the session's loop.
func (s *Session) unwatchRooms(id uint32, q *tickroomv1.UnwatchRooms) error {
	if !s.h.watches.remove(s, q.WatchId) {
		return protocol.NewError(protocol.ErrorBadRequest, "no room watch "+strconv.FormatUint(uint64(q.WatchId), 10))
	}
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Ok{Ok: &tickroomv1.Ok{}}})
	return nil
}

// add registers w, replacing the session's watch of the same id, and
// starts the pass goroutine with the first watch.
func (ws *roomWatches) add(w *roomWatch) error {
	ws.mu.Lock()
	if ws.stopped {
		ws.mu.Unlock()
		return protocol.NewError(protocol.ErrorInternal, "server shutting down")
	}
	if w.s.closed.Load() {
		// Added off the loop after the session closed (OnClose marks it
		// closed before it drops its watches).
		ws.mu.Unlock()
		return protocol.NewError(protocol.ErrorInternal, "connection closed")
	}
	list := ws.all[w.s]
	for i, old := range list {
		if old.id == w.id {
			list[i] = w
			ws.mu.Unlock()
			old.close()
			return nil
		}
	}
	if len(list) >= ws.h.cfg.MaxRoomWatches {
		ws.mu.Unlock()
		return errTooManyWatches
	}
	ws.all[w.s] = append(list, w)
	ws.count++
	if !ws.running {
		ws.running = true
		go ws.run()
	}
	ws.mu.Unlock()
	return nil
}

// full reports whether a watch of id would be refused LIST_FULL: the
// session holds its MaxRoomWatches watches, none of them of id (a watch
// of a held id replaces it).
func (ws *roomWatches) full(s *Session, id uint32) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	list := ws.all[s]
	if len(list) < ws.h.cfg.MaxRoomWatches {
		return false
	}
	for _, w := range list {
		if w.id == id {
			return false
		}
	}
	return true
}

// remove ends the session's watch id; it reports whether there was one.
func (ws *roomWatches) remove(s *Session, id uint32) bool {
	ws.mu.Lock()
	list := ws.all[s]
	for i, w := range list {
		if w.id == id {
			ws.count--
			if len(list) == 1 {
				delete(ws.all, s)
			} else {
				ws.all[s] = append(list[:i:i], list[i+1:]...)
			}
			ws.mu.Unlock()
			w.close()
			return true
		}
	}
	ws.mu.Unlock()
	return false
}

// drop ends every watch of a closed session.
func (ws *roomWatches) drop(s *Session) {
	ws.mu.Lock()
	list := ws.all[s]
	ws.count -= len(list)
	delete(ws.all, s)
	ws.mu.Unlock()
	for _, w := range list {
		w.close()
	}
}

// shutdown stops the pass goroutine and waits for it.
func (ws *roomWatches) shutdown() {
	ws.mu.Lock()
	running := ws.running && !ws.stopped
	ws.stopped = true
	ws.mu.Unlock()
	ws.cancel()
	if running {
		close(ws.stop)
		<-ws.done
	}
}

// size returns the number of live watches.
func (ws *roomWatches) size() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.count
}

func (w *roomWatch) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// interval is the time between two passes.
func (ws *roomWatches) interval() time.Duration {
	if ws.h.cluster != nil {
		return max(ws.h.cfg.RoomWatchInterval, clusterWatchInterval)
	}
	return ws.h.cfg.RoomWatchInterval
}

// clusterWindow returns the cluster's window of public rooms: the latest
// walk when younger than maxAge, else a new one.
func (ws *roomWatches) clusterWindow(ctx context.Context, maxAge time.Duration) ([]game.RoomInfo, error) {
	ws.walkMu.Lock()
	defer ws.walkMu.Unlock()
	if ws.window != nil && time.Since(ws.walked) < maxAge {
		return ws.window, nil
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	rooms := make([]game.RoomInfo, 0, min(clusterWatchWindow, 64))
	after := ""
	for call := 0; call < clusterWatchCalls && len(rooms) < clusterWatchWindow; call++ {
		page, next, err := ws.h.cluster.List(ctx, RoomQuery{Limit: min(clusterWatchPage, clusterWatchWindow-len(rooms)), After: after})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			rooms = append(rooms, r.RoomInfo)
		}
		if next == "" {
			break
		}
		after = next
	}
	ws.window, ws.walked = rooms, time.Now()
	return rooms, nil
}

// listRooms returns what a pass compares: this node's public rooms, or
// the cluster's window; ok is false when the cluster is out of reach.
func (ws *roomWatches) listRooms() (rooms []game.RoomInfo, ok bool) {
	if ws.h.cluster == nil {
		return ws.h.dir.List(game.RoomFilter{}), true
	}
	// Half an interval: a walk a new watch just made serves this pass.
	rooms, err := ws.clusterWindow(ws.ctx, ws.interval()/2)
	if err != nil {
		ws.h.log.Debug("room watches: listing the cluster's rooms", "err", err)
		return nil, false
	}
	return rooms, true
}

// run makes a pass every interval until shutdown.
func (ws *roomWatches) run() {
	defer close(ws.done)
	t := time.NewTicker(ws.interval())
	defer t.Stop()
	for {
		select {
		case <-ws.stop:
			return
		case <-t.C:
			ws.pass()
		}
	}
}

// pass lists the rooms once and sends each watch what changed for it.
func (ws *roomWatches) pass() {
	if ws.size() == 0 {
		ws.prev = nil // start from scratch with the next watch
		return
	}
	// The rooms are listed before the watches are taken: a watch added
	// after the listing listed the rooms itself later, so the next pass,
	// which compares with this listing, finds every change since. Taken the
	// other way round, a watch added between the two would miss the changes
	// of this pass for good.
	rooms, ok := ws.listRooms()
	if !ok {
		return // the watches keep their lists until the cluster answers
	}
	ws.mu.Lock()
	var watches []*roomWatch
	for _, list := range ws.all {
		watches = append(watches, list...)
	}
	ws.mu.Unlock()
	cur := make(map[string]roomListing, len(rooms))
	var changed []*game.RoomInfo
	for i := range rooms {
		info := &rooms[i]
		l := listingOf(info)
		cur[info.ID] = l
		if old, ok := ws.prev[info.ID]; !ok || old != l {
			changed = append(changed, info)
		}
	}
	var gone []string
	for id := range ws.prev {
		if _, ok := cur[id]; !ok {
			gone = append(gone, id)
		}
	}
	first := ws.prev == nil
	ws.prev = cur
	for _, w := range watches {
		w.update(rooms, changed, gone, first)
	}
}

// update sends w the changes of one pass: rooms is the full listing,
// changed and gone what differs from the previous one (full says there
// was no previous one).
func (w *roomWatch) update(rooms []game.RoomInfo, changed []*game.RoomInfo, gone []string, full bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if w.s.Congested() {
		// Latest wins: what changed meanwhile is found by a full
		// comparison once the connection drains.
		w.stale = true
		return
	}
	up := &tickroomv1.RoomListUpdate{WatchId: w.id}
	if full || w.stale {
		w.stale = false
		w.resync(rooms, up)
	} else {
		shrank := false
		var added []string // rooms the client is sent for the first time
		for _, id := range gone {
			if _, ok := w.sent[id]; ok {
				delete(w.sent, id)
				up.Removed = append(up.Removed, id)
				shrank = true
			}
		}
		for _, info := range changed {
			_, in := w.sent[info.ID]
			switch {
			case w.matches(info) && (in || len(w.sent) < w.limit):
				w.sent[info.ID] = listingOf(info)
				up.Upserted = append(up.Upserted, wireRoomInfo(*info))
				if !in {
					added = append(added, info.ID)
				}
			case w.matches(info):
				w.more = true
			case in:
				delete(w.sent, info.ID)
				up.Removed = append(up.Removed, info.ID)
				shrank = true
			}
		}
		if shrank && w.more {
			// The list is rebuilt as the first limit rooms by id, which
			// may leave out a room added above: the client never had
			// it, so it goes from the update, not into its removals.
			for _, id := range added {
				delete(w.sent, id)
			}
			up.Upserted = slices.DeleteFunc(up.Upserted, func(r *tickroomv1.RoomInfo) bool { return slices.Contains(added, r.RoomId) })
			w.resync(rooms, up)
		}
	}
	if len(up.Upserted) == 0 && len(up.Removed) == 0 {
		return
	}
	w.trim(up)
	w.s.send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomListUpdate{RoomListUpdate: up}})
}

// unsent marks, in a watch's sent list, a room whose upsert was left out
// of an update for its bytes: it equals no room's listing, so the next
// comparison sends the room (or its removal, which a client that never had
// it ignores), and it still counts against the watch's limit.
var unsent = roomListing{players: -1}

// trim keeps an update within the bytes of a RoomList reply (listBytes),
// as the first list was: the upserts past them are left for the next pass,
// which compares the watch in full. Rooms may grow heavy after a watch's
// first list (each may carry ~5 KB of metadata), and a pass would
// otherwise push the watch's limit of them at once, 4 times a second.
// The caller holds w.mu.
func (w *roomWatch) trim(up *tickroomv1.RoomListUpdate) {
	size := 0
	for _, id := range up.Removed {
		size += len(id) + 3
	}
	for i, r := range up.Upserted {
		if size += r.SizeVT() + 3; size > listBytes && i > 0 {
			for _, left := range up.Upserted[i:] {
				w.sent[left.RoomId] = unsent
			}
			clear(up.Upserted[i:])
			up.Upserted = up.Upserted[:i]
			w.stale = true
			return
		}
	}
}

// resync makes the watch's list the first limit matching rooms, adding to
// up what differs from what the client has (on top of what up holds, whose
// upserts are of rooms the client had before this update). A room upserted
// earlier in this pass and not wanted goes from the upserts and into the
// removals: an update never names a room in both, and a client, which
// applies the removals first, ends with the list the watch holds. The
// caller holds w.mu.
func (w *roomWatch) resync(rooms []game.RoomInfo, up *tickroomv1.RoomListUpdate) {
	want := make(map[string]roomListing, len(w.sent))
	w.more = false
	upserted := make(map[string]bool, len(up.Upserted))
	for _, r := range up.Upserted {
		upserted[r.RoomId] = true
	}
	for i := range rooms {
		info := &rooms[i]
		if !w.matches(info) {
			continue
		}
		if len(want) == w.limit {
			w.more = true
			break
		}
		l := listingOf(info)
		want[info.ID] = l
		if old, ok := w.sent[info.ID]; (!ok || old != l) && !upserted[info.ID] {
			up.Upserted = append(up.Upserted, wireRoomInfo(*info))
		}
	}
	for id := range w.sent {
		if _, ok := want[id]; !ok {
			up.Removed = append(up.Removed, id)
		}
	}
	// A room removed earlier in this pass and wanted again is upserted.
	kept := up.Removed[:0]
	for _, id := range up.Removed {
		if _, ok := want[id]; !ok {
			kept = append(kept, id)
		}
	}
	up.Removed = kept
	up.Upserted = slices.DeleteFunc(up.Upserted, func(r *tickroomv1.RoomInfo) bool {
		_, ok := want[r.RoomId]
		return !ok
	})
	w.sent = want
}
