package cluster

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/hub"
)

// kindReplace asks a node to close a user's session that a login on
// another node replaced; User names the user and Body the connection id.
const kindReplace = "replace"

// Registry workers: claims and releases of a user run in order on one of
// them (chosen by the user id), off the event loops.
const (
	registryWorkers = 4
	registryQueue   = 16384
)

// A claim superseded by a connection on another node accepted less than
// claimMargin after its own, as the two nodes reckon Redis's clock, is not
// decided on the clocks at once: the nodes' reckonings differ by up to
// half their round trips to Redis, so that connection may be an older
// one, closed, whose node has yet to remove its record (a client that
// followed a Redirect reconnects within milliseconds). The claim is made
// again, claimRetry later, then twice as long apart, until that record is
// gone or claimPatience has passed since its first try; the last try
// decides on the clocks. The waits are timers, not the worker's: the
// user's other claims and releases, and other users', run meanwhile, and
// each try checks again that the session is open.
const (
	claimMargin   = 100 * time.Millisecond
	claimPatience = 500 * time.Millisecond
	claimRetry    = 5 * time.Millisecond
)

// Registry is the hub's Registry in a cluster: this node's sessions in
// memory (hub.MemoryRegistry), recorded in Users so that a user has one
// session in the whole cluster. A session that replaces the user's
// sessions (a login without MultipleSockets) removes their records, and
// the nodes holding them are told to close them with
// CLOSE_CODE_DUPLICATE_LOGIN. The Redis work runs on the registry's own
// goroutines: Add and Remove never wait on Redis. A claim can thus reach
// Redis after its client left, connected to another node and was recorded
// there (a client follows a Redirect at once): claims are ordered by when
// their sessions opened (Users.Claim), so the later session is kept, and
// an earlier one whose claim came last is closed here instead. Sessions
// opened within the error of the nodes' clocks (claimMargin) are not
// ordered at once: the claim is made again until the other node's record
// is gone, a closed session's release, or claimPatience has passed. While
// Redis is down the rule holds per node only; Republish records the
// sessions again when it is back. Its methods are safe from any goroutine.
type Registry struct {
	*hub.MemoryRegistry
	users *Users
	bus   *Bus
	log   *slog.Logger
	hub   atomic.Pointer[hub.Hub]
	queue []chan func()

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup

	// held, while waiting is set (WaitForNode), are the claims of the
	// sessions accepted before the node registered, by session.
	mu      sync.Mutex
	waiting bool
	held    map[*hub.Session]heldClaim

	// claiming, when set (tests), runs on the worker between a claim's
	// check that its session is still registered and its Redis script.
	claiming func(user string, conn uint64)
	// releasing, when set (tests), runs on the worker before a release's
	// Redis call.
	releasing func(user string, conn uint64)
	// clock is this node's clock (time.Now; tests skew it), and toRedis
	// turns its readings into Redis's clock (UseClockOf; nil: as they
	// are), as the claim is made.
	clock   func() time.Time
	toRedis func(time.Time) time.Time

	// Dropped counts claims and releases not recorded because a worker's
	// queue was full; Failed those Redis refused.
	Dropped, Failed atomic.Uint64
}

var (
	_ hub.Registry  = (*Registry)(nil)
	_ hub.Elsewhere = (*Registry)(nil)
)

// NewRegistry returns a cluster registry over users, telling other nodes
// through bus; call it before bus.Start, and Bind before serving.
func NewRegistry(users *Users, bus *Bus, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{MemoryRegistry: hub.NewMemoryRegistry(), users: users, bus: bus, log: log, clock: time.Now, stop: make(chan struct{})}
	for range registryWorkers {
		q := make(chan func(), registryQueue)
		r.queue = append(r.queue, q)
		r.wg.Add(1)
		go r.work(q)
	}
	bus.Handle(kindReplace, r.serveReplace)
	return r
}

// Bind sets the hub whose sessions other nodes' logins close.
func (r *Registry) Bind(h *hub.Hub) { r.hub.Store(h) }

// Close stops the workers once they have done what is queued, or when
// ctx ends.
func (r *Registry) Close(ctx context.Context) {
	done := make(chan struct{})
	r.stopOnce.Do(func() {
		close(r.stop)
		go func() { r.wg.Wait(); close(done) }()
	})
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (r *Registry) work(q chan func()) {
	defer r.wg.Done()
	for {
		select {
		case job := <-q:
			job()
		case <-r.stop:
			for {
				select {
				case job := <-q:
					job()
				default:
					return
				}
			}
		}
	}
}

// enqueue runs job on the worker of userID; false when its queue is full
// and the job is dropped.
func (r *Registry) enqueue(userID string, job func()) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	select {
	case r.queue[h.Sum32()%uint32(len(r.queue))] <- job:
		return true
	default:
		r.Dropped.Add(1)
		return false
	}
}

// heldClaim is a claim held until the node registered.
type heldClaim struct {
	since     time.Time
	exclusive bool
}

// WaitForNode has the registry record this node's sessions in Redis only
// once n, the node's membership, has registered as this process's (an
// OnRegister hook; call it before serving). A process started under the
// id of a live node stays out of the cluster until that node's
// registration lapses (Node.Start): recorded meanwhile, its sessions were
// taken by every reader for that node's, and a user's login there removed
// the record of their session on that node without closing it. The
// sessions accepted meanwhile are claimed once it registered, as they
// would have been then: a user's sessions elsewhere are closed, or this
// one is, whichever opened first.
func (r *Registry) WaitForNode(n *Node) {
	r.mu.Lock()
	r.waiting = true
	r.held = make(map[*hub.Session]heldClaim)
	r.mu.Unlock()
	n.OnRegister(r.rejoin)
}

// rejoin, at each fresh registration, claims the sessions held until the
// node's first.
func (r *Registry) rejoin(ctx context.Context) error {
	r.mu.Lock()
	held := r.held
	r.waiting, r.held = false, nil
	r.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	for s, c := range held {
		r.claim(s, c.since, c.exclusive)
	}
	// The hooks after this one (Users.Republish, Social.Recheck) take the
	// node's sessions for recorded: wait until the claims have run, each
	// worker doing its jobs in order.
	var ran sync.WaitGroup
	for _, q := range r.queue {
		ran.Add(1)
		select {
		case q <- ran.Done:
		case <-ctx.Done():
			ran.Done()
		}
	}
	done := make(chan struct{})
	go func() { ran.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return unavailable(ctx.Err())
	}
}

// Add registers s here and records it in the cluster; with exclusive, the
// user's sessions on other nodes are closed by their nodes.
func (r *Registry) Add(s *hub.Session, exclusive bool) []*hub.Session {
	since := r.clock()
	replaced := r.MemoryRegistry.Add(s, exclusive)
	r.claim(s, since, exclusive)
	return replaced
}

// claim records s, accepted at since (this node's clock), on its user's
// worker; until the node registered (WaitForNode) it holds the claim
// instead. since is turned into Redis's clock when the claim is made:
// the node measures the difference only once it registers, and a claim
// held until then, turned at the login, carried this node's own clock.
func (r *Registry) claim(s *hub.Session, since time.Time, exclusive bool) {
	r.enqueue(s.UserID(), func() { r.claimNow(s, since, exclusive, time.Time{}, 0) })
}

// claimNow makes s's claim, on its user's worker; first is when its first
// try ran (zero: this is it), and tries how many ran before it.
func (r *Registry) claimNow(s *hub.Session, since time.Time, exclusive bool, first time.Time, tries int) {
	uid, conn := s.UserID(), s.ConnID()
	r.mu.Lock()
	open := slices.Contains(r.MemoryRegistry.Sessions(uid), s)
	if open && r.waiting {
		// Checked with Remove's removal under r.mu: a session closed
		// meanwhile is never held.
		r.held[s] = heldClaim{since: since, exclusive: exclusive}
	}
	waiting := r.waiting
	r.mu.Unlock()
	if !open || waiting {
		return // closed before its claim ran (nothing to record), or held
	}
	if r.claiming != nil {
		r.claiming(uid, conn)
	}
	at := since
	if r.toRedis != nil {
		at = r.toRedis(since)
	}
	if first.IsZero() {
		first = time.Now()
	}
	res, err := r.users.Claim(context.Background(), uid, conn, at, exclusive)
	if err != nil {
		r.Failed.Add(1)
		if tries > 0 {
			// A try after the first: an earlier one found the other
			// node's record, so one more is made while patience lasts;
			// past it, the clocks' answer stands, as if it were there.
			if !r.retryClaim(s, since, exclusive, first, tries+1) {
				r.closeSuperseded(uid, conn, "")
			}
		}
		return
	}
	if res.Superseded {
		if !res.NewerSince.IsZero() && res.NewerSince.Sub(at) < claimMargin && r.retryClaim(s, since, exclusive, first, tries+1) {
			return // within the clocks' error: try again while its record stands
		}
		// A later session of the user on another node was recorded
		// first: it stays, and this one goes as if replaced by it.
		r.closeSuperseded(uid, conn, res.Newer.Node)
		return
	}
	for _, o := range res.Replaced {
		if o.Node == r.bus.Node() {
			continue // this node's own: the hub replaced it already
		}
		_ = r.bus.ToNode(o.Node, &Envelope{Kind: kindReplace, User: uid, Body: strconv.AppendUint(nil, o.Conn, 10)})
	}
}

// closeSuperseded closes this node's session conn of uid as replaced by
// a later login on another node (node, when known).
func (r *Registry) closeSuperseded(uid string, conn uint64, node string) {
	if h := r.hub.Load(); h != nil && h.CloseSession(uid, conn, protocol.CloseDuplicateLogin) {
		r.log.Debug("cluster: session replaced by a later login on another node", "user", uid, "conn", conn, "node", node)
	}
}

// retryClaim queues s's claim again on its user's worker, after a wait
// that doubles with tries and ends claimPatience after first; false once
// that has passed.
func (r *Registry) retryClaim(s *hub.Session, since time.Time, exclusive bool, first time.Time, tries int) bool {
	left := claimPatience - time.Since(first)
	if left <= 0 {
		return false
	}
	wait := left
	if tries < 16 {
		wait = min(claimRetry<<(tries-1), left)
	}
	time.AfterFunc(wait, func() {
		select {
		case <-r.stop:
			return // the registry closed: the node is leaving
		default:
		}
		if !r.enqueue(s.UserID(), func() { r.claimNow(s, since, exclusive, first, tries) }) {
			// The worker's queue is full: the clocks' answer stands,
			// rather than a session recorded nowhere.
			r.closeSuperseded(s.UserID(), s.ConnID(), "")
		}
	})
	return true
}

// Remove unregisters s here and removes its record.
func (r *Registry) Remove(s *hub.Session) {
	r.MemoryRegistry.Remove(s)
	r.mu.Lock()
	waiting := r.waiting
	if waiting {
		delete(r.held, s)
	}
	r.mu.Unlock()
	if waiting {
		// Recorded nowhere: the record under its field, this node's id and
		// connection id, may be the live node's of the same id.
		return
	}
	uid, conn := s.UserID(), s.ConnID()
	if !r.enqueue(uid, func() {
		if r.releasing != nil {
			r.releasing(uid, conn)
		}
		if r.users.Release(context.Background(), uid, conn) != nil {
			r.Failed.Add(1)
		}
	}) {
		// Its record is no longer refreshed, nor recorded again by
		// Republish: it lapses with its TTL instead of lasting as long as
		// the node.
		r.users.forget(uid, conn)
	}
}

// Elsewhere reports whether userID has a session on another node; false
// when Redis does not answer.
func (r *Registry) Elsewhere(userID string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	loc, err := r.users.Locate(ctx, userID)
	if err != nil {
		return false
	}
	for _, s := range loc[userID] {
		if s.Node != r.bus.Node() {
			return true
		}
	}
	return false
}

// serveReplace closes the session a login on another node replaced.
func (r *Registry) serveReplace(e *Envelope) {
	conn, err := strconv.ParseUint(string(e.Body), 10, 64)
	h := r.hub.Load()
	if err != nil || h == nil {
		return
	}
	if h.CloseSession(e.User, conn, protocol.CloseDuplicateLogin) {
		r.log.Debug("cluster: session replaced by a login on another node", "user", e.User, "conn", conn, "node", e.Node)
	}
}

// UseClockOf has the registry order this node's sessions against other
// nodes' on Redis's clock, as n reckons it at its heartbeats
// (Node.RedisTime), rather than on this node's own clock: a node whose
// clock ran ahead had its sessions taken for newer than a later login on
// another node, which it then closed. A session's accept time is turned
// into Redis's clock as its claim is made; with WaitForNode that is once
// the node registered, its first heartbeat having measured the
// difference (before it, RedisTime is this node's own clock). Call it
// before serving.
func (r *Registry) UseClockOf(n *Node) { r.toRedis = n.RedisTime }
