package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// Bus message kinds of the social layer.
const (
	kindOp   = "op"   // a social.RemoteOp; a call expects a social.RemoteAnswer
	kindOps  = "ops"  // social.RemoteOps; a call expects their social.RemoteAnswers, in order
	kindLine = "line" // a lobby channel line
)

// opsBatch bounds the ops one "ops" message carries. The ops of one call
// or presence cast that go to one node travel together: a login asking
// 500 friends on another node sends two messages, not 500, and a mass
// login no longer overflows the bus's queue (DefaultBusQueue) with them.
const opsBatch = 256

// Lookup workers: the social layer's requests about users of other nodes
// wait on Redis (where is the user?) on these goroutines, never on an
// event loop.
const (
	lookupWorkers = 4
	lookupQueue   = 4096
)

// bgLookups bounds the lookups on Redis the node's background work makes
// at once (presence casts, a login's questions, other casts, rechecks),
// each finding up to opsBatch users: more does not make Redis, one
// thread, answer more, and had the users' own requests wait behind them.
// During a mass login of 2,000 users of 500 remote friends, a lookup of
// one user took 11.8–12.1 ms on average beside them, 5.4–5.6 ms with
// this bound, the friends on other nodes told 5–6 s later
// (BenchmarkMassLogin).
const bgLookups = 2

// Social carries the social layer's requests between nodes: it is
// social.Peers for this node, and serves the requests of the others with
// social.Social.Serve. Where a user is connected comes from Users; the
// requests travel on the Bus. Its methods are safe from any goroutine and
// never block; callbacks never run on the caller's goroutine.
type Social struct {
	bus   *Bus
	users *Users
	log   *slog.Logger
	so    atomic.Pointer[social.Social]
	jobs  chan func()

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup

	// Rechecks wanted (recheck.go): every remote friend's presence, or
	// those noted on these nodes.
	recheckMu    sync.Mutex
	recheckAll   bool
	recheckNodes map[string]bool
	recheckKick  chan struct{}

	// Presence casts waiting (presence.go).
	pushes *pushShards
	// Other casts to users of other nodes waiting (casts.go).
	casts *fifo[queuedCast]
	// bgSlots bounds the background lookups on Redis at once (locate).
	bgSlots chan struct{}
	// Logins' presence questions waiting, and those awaiting answers
	// (asks.go).
	asks     *fifo[pendingAsk]
	askSlots *semaphore.Weighted
	// ctx is cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc

	// batchPeers reports whether every node reads "ops" messages (see
	// SetBatchPeers); nil means they all do.
	batchPeers atomic.Pointer[func() bool]
	// unreachable reports whether the node knows Redis does not answer
	// (see SetUnreachable); nil means it is always asked.
	unreachable atomic.Pointer[func() bool]
	// lookedUp, if set, runs after a lookup of casts' users (castOps)
	// answered, before the casts are sent: a test's way into that moment.
	lookedUp atomic.Pointer[func()]

	// Lobby lines of this node on their way through Redis (PostChannel).
	lines linesOut

	// Refused counts requests refused because the lookup queue was full.
	Refused atomic.Uint64
	// Rechecks counts the rechecks done, their answers taken.
	Rechecks atomic.Uint64
	// Announced counts the casts AnnounceRemote made.
	Announced atomic.Uint64
	// PushesLost counts presence casts dropped because Redis did not
	// answer where their users are, or the bus could not send them, for
	// lookupPatience.
	PushesLost atomic.Uint64
	// CastsLost counts the other casts (notices, unfriendings, copies of
	// direct messages and signals) dropped because Redis did not answer
	// where their users are, or the bus could not send them, the copies
	// not queued while Redis was known not to answer, and those dropped
	// for having waited longer than the bus's CopyMaxAge (casts.go).
	CastsLost atomic.Uint64
}

var (
	_ social.Peers         = (*Social)(nil)
	_ social.PresenceAsker = (*Social)(nil)
)

// NewSocial returns the social layer's link to the other nodes and
// registers its handlers on bus; call it before bus.Start, and Bind before
// serving.
func NewSocial(bus *Bus, users *Users, log *slog.Logger) *Social {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Social{bus: bus, users: users, log: log, jobs: make(chan func(), lookupQueue), stop: make(chan struct{}),
		recheckNodes: make(map[string]bool), recheckKick: make(chan struct{}, 1),
		pushes: newPushShards(), asks: newFIFO[pendingAsk](), casts: newFIFO[queuedCast](), askSlots: semaphore.NewWeighted(askInFlight),
		bgSlots: make(chan struct{}, bgLookups)}
	s.lines.max = 8 * bus.cfg.Queue
	s.ctx, s.cancel = context.WithCancel(context.Background())
	bus.Handle(kindOp, s.serveOp)
	bus.Handle(kindOps, s.serveOps)
	bus.Handle(kindLine, s.serveLine)
	for range lookupWorkers {
		s.wg.Add(1)
		go s.work()
	}
	s.wg.Add(2 + pushers + askWorkers)
	go s.rechecker()
	go s.caster()
	for _, q := range s.pushes {
		go s.pusher(q)
	}
	for range askWorkers {
		go s.asker()
	}
	return s
}

// WatchNodes tells the bound social layer every interval which nodes are
// live and when each started (social.Social.NodesLive; nodes lists them,
// as Node.Nodes does), so that the users of a node that crashed, or
// crashed and started again under its id, are taken offline for their
// friends on this node. A node's start is its NodeInfo.Up, on Redis's
// clock, which local turns into this node's (Node.LocalTime; nil: taken
// as it is), the clock the social layer notes presences on (a node that
// writes no Up, NodeInfo.NoUp: its Started, on its own clock, taken as
// it is, as a node of an older version compares it): a node's own
// clock ahead of this one's made the presences noted since its start
// look older than it, and its users were taken offline though
// connected there. While local cannot convert yet (this node has not
// measured its clock against Redis's), the nodes are reported live with
// no start. A poll that fails is not reported. It stops with Close.
func (s *Social) WatchNodes(nodes func(context.Context) ([]NodeInfo, error), local func(time.Time) (time.Time, bool), interval, timeout time.Duration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		// Each node's start as last converted: the conversion moves with
		// every new measure of the clocks' offset, and a start that moved
		// would read as a restart. One that could not be converted yet
		// is neither reported nor kept: taken as it is, on a clock off
		// from Redis's by more than the node had been up, it had the
		// presences noted since look older than the node, for good.
		type start struct{ up, local time.Time }
		starts := make(map[string]start)
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			so := s.so.Load()
			if so == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			ns, err := nodes(ctx)
			cancel()
			if err != nil {
				continue
			}
			live := make(map[string]time.Time, len(ns))
			for _, n := range ns {
				if n.NoUp {
					delete(starts, n.ID)
					live[n.ID] = n.Started
					continue
				}
				st, ok := starts[n.ID]
				if !ok || !st.up.Equal(n.Up) {
					st = start{n.Up, n.Up}
					if local != nil && !n.Up.IsZero() {
						if st.local, ok = local(n.Up); !ok {
							live[n.ID] = time.Time{}
							continue
						}
					}
					starts[n.ID] = st
				}
				live[n.ID] = st.local
			}
			for id := range starts {
				if _, ok := live[id]; !ok {
					delete(starts, id)
				}
			}
			if n := so.NodesLive(live); n > 0 {
				s.log.Info("cluster: a node is gone; its users were shown offline to their friends here", "presences", n)
			}
		}
	}()
}

// SetBatchPeers has the ops to one node travel together in "ops"
// messages only while f reports that every live node reads them
// (Node.BatchPeers), and one "op" message each otherwise, which nodes of
// every version read (a rolling deploy). Without it, they always travel
// together (a cluster of this version only).
func (s *Social) SetBatchPeers(f func() bool) { s.batchPeers.Store(&f) }

// batching reports whether the ops to one node travel together.
func (s *Social) batching() bool {
	f := s.batchPeers.Load()
	return f == nil || *f == nil || (*f)()
}

// SetUnreachable has a login's questions about its friends on other
// nodes (AskPresence) fail at once, without asking Redis where they are,
// while f reports that Redis does not answer (Node.Unreachable). The
// social layer asks a failed question again (twice, a second apart), and
// then shows the friend as this node knows it, as when the lookup timed
// out; asked, every login's lookup waited out a Redis timeout, one login
// after another on the askWorkers, each of its tries. Without it Redis is
// always asked.
func (s *Social) SetUnreachable(f func() bool) { s.unreachable.Store(&f) }

// silent reports whether the node knows Redis does not answer.
func (s *Social) silent() bool {
	f := s.unreachable.Load()
	return f != nil && *f != nil && (*f)()
}

// Bind sets the social layer that serves the other nodes' requests.
func (s *Social) Bind(so *social.Social) { s.so.Store(so) }

// Close stops the lookup workers; requests still queued are dropped.
func (s *Social) Close() {
	s.stopOnce.Do(func() { close(s.stop); s.cancel() })
	s.wg.Wait()
}

func (s *Social) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case job := <-s.jobs:
			job()
		}
	}
}

// submit queues a lookup job; it reports false when the queue is full.
func (s *Social) submit(job func()) bool {
	select {
	case s.jobs <- job:
		return true
	default:
		s.Refused.Add(1)
		return false
	}
}

// locate finds the nodes of users; nil and an error when Redis does not
// answer. A background lookup (bg: presence casts, a login's questions,
// other casts, rechecks) waits for one of bgLookups slots first.
func (s *Social) locate(users []string, bg bool) (map[string][]string, error) {
	if bg {
		select {
		case s.bgSlots <- struct{}{}:
			defer func() { <-s.bgSlots }()
		case <-s.stop:
			return nil, fmt.Errorf("%w: closed", ErrUnavailable)
		}
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(users)))
	loc, err := s.users.Locate(context.Background(), uniq...)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(loc))
	for u, ss := range loc {
		var nodes []string
		for _, us := range ss {
			if !slices.Contains(nodes, us.Node) {
				nodes = append(nodes, us.Node)
			}
		}
		out[u] = nodes
	}
	return out, nil
}

// Call implements social.Peers.
func (s *Social) Call(ops []*social.RemoteOp, done func([]social.RemoteAnswer)) {
	fail := func(err error) {
		as := make([]social.RemoteAnswer, len(ops))
		for i := range as {
			as[i].Err = err
		}
		done(as)
	}
	if !s.submit(func() { s.call(ops, done, fail) }) {
		go fail(fmt.Errorf("%w: lookup queue full", ErrUnavailable))
	}
}

// call runs on a lookup worker.
func (s *Social) call(ops []*social.RemoteOp, done func([]social.RemoteAnswer), fail func(error)) {
	s.callAlso(ops, nil, false, done, fail)
}

// callAlso is call asking each op also of also[i] (nil or "": none), a
// node its user was last seen on, besides the nodes Redis records it on;
// bg tells a background lookup (locate).
func (s *Social) callAlso(ops []*social.RemoteOp, also []string, bg bool, done func([]social.RemoteAnswer), fail func(error)) {
	to := make([]string, len(ops))
	for i, op := range ops {
		to[i] = op.To
	}
	loc, err := s.locate(to, bg)
	if err != nil {
		fail(err)
		return
	}
	answers := make([]social.RemoteAnswer, len(ops))
	got := make([]bool, len(ops)) // an answer was merged into answers[i]
	var mu sync.Mutex
	give := func(i int, a social.RemoteAnswer) {
		mu.Lock()
		answers[i], got[i] = merge(answers[i], a, got[i]), true
		mu.Unlock()
	}
	pending := 1 // released after every call is sent
	finish := func() {
		mu.Lock()
		pending--
		last := pending == 0
		mu.Unlock()
		if last {
			done(answers)
		}
	}
	// The ops' indexes by the node they go to, nodes in the order first
	// met.
	var nodes []string
	byNode := make(map[string][]int)
	for i, op := range ops {
		at := loc[op.To]
		if also != nil && also[i] != "" && also[i] != s.bus.Node() && !slices.Contains(at, also[i]) {
			at = append(slices.Clip(at), also[i])
		}
		if op.Elsewhere {
			// Served here by the caller already.
			at = slices.DeleteFunc(slices.Clone(at), func(node string) bool { return node == s.bus.Node() })
		}
		if len(at) == 0 {
			answers[i].Code = offlineCode
			continue
		}
		for _, node := range at {
			if node == s.bus.Node() {
				// Recorded here but not in this node's social layer: a
				// connection closing or opening now.
				give(i, s.serve(op))
				continue
			}
			if byNode[node] == nil {
				nodes = append(nodes, node)
			}
			byNode[node] = append(byNode[node], i)
		}
	}
	together := s.batching()
	for _, node := range nodes {
		idx := byNode[node]
		size := 1
		if together {
			size = opsBatch
		}
		for chunk := range slices.Chunk(idx, size) {
			mu.Lock()
			pending++
			mu.Unlock()
			s.callNode(node, ops, chunk, together, func(k int, a social.RemoteAnswer) { give(chunk[k], a) }, finish)
		}
	}
	finish()
}

// callNode sends the ops of ops at indexes idx to node, in one "ops"
// message when together (else idx has one index, sent as an "op"), and
// hands each answer to give (k: its place in idx), then calls finish.
func (s *Social) callNode(node string, ops []*social.RemoteOp, idx []int, together bool, give func(k int, a social.RemoteAnswer), finish func()) {
	var e *Envelope
	if together {
		sub := make([]*social.RemoteOp, len(idx))
		for k, i := range idx {
			sub[k] = ops[i]
		}
		body, _ := json.Marshal(sub)
		e = &Envelope{Kind: kindOps, Body: body}
	} else {
		body, _ := json.Marshal(ops[idx[0]])
		e = &Envelope{Kind: kindOp, User: ops[idx[0]].To, Body: body}
	}
	s.bus.Call(node, e, func(e *Envelope, err error) {
		var as []social.RemoteAnswer
		if err == nil {
			var jerr error
			if together {
				jerr = json.Unmarshal(e.Body, &as)
			} else {
				as = make([]social.RemoteAnswer, 1)
				jerr = json.Unmarshal(e.Body, &as[0])
			}
			switch {
			case jerr != nil:
				err = fmt.Errorf("%w: undecodable answer: %w", ErrUnavailable, jerr)
			case len(as) != len(idx):
				err = fmt.Errorf("%w: %d answers to %d ops", ErrUnavailable, len(as), len(idx))
			}
		}
		for k := range idx {
			var a social.RemoteAnswer
			if err != nil {
				a.Err = err
			} else {
				a = as[k]
				a.Node = e.Node
			}
			give(k, a)
		}
		finish()
	})
}

// offlineCode answers an op about a user connected nowhere.
const offlineCode = protocol.ErrorUserOffline

// merge combines the answers of a user's nodes: a success wins (its
// deliveries summed with the others'), then a refusal, then a failure.
func merge(have, a social.RemoteAnswer, seen bool) social.RemoteAnswer {
	if !seen {
		return a
	}
	ok := func(x social.RemoteAnswer) bool { return x.Err == nil && x.Code == 0 }
	switch {
	case ok(have) && ok(a):
		a.Delivered += have.Delivered
		a.Friends = a.Friends || have.Friends
		if len(a.Presence) == 0 || len(have.Presence) > 0 && offlinePresence(a.Presence) && !offlinePresence(have.Presence) {
			// A node the user has no connection on (a connection of
			// a user on several nodes closing now) answers it offline;
			// the node it is connected on wins.
			a.Presence, a.Name, a.Node = have.Presence, have.Name, have.Node
		}
		return a
	case ok(have):
		return have
	case ok(a):
		return a
	case have.Err == nil && have.Code != offlineCode:
		return have
	}
	return a
}

// offlinePresence reports whether b, an encoded Presence, says offline.
func offlinePresence(b []byte) bool {
	pr := new(tickroomv1.Presence)
	return pr.UnmarshalVT(b) == nil && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
}

// Cast implements social.Peers.
func (s *Social) Cast(op *social.RemoteOp) {
	if op.To == "" {
		body, _ := json.Marshal(op)
		_ = s.bus.ToAll(&Envelope{Kind: kindOp, Body: body})
		return
	}
	if op.Kind == social.OpPresence {
		s.pushes.cast(op) // presence.go: never refused
		return
	}
	if op.Kind == social.OpDeliver && (!s.bus.Healthy() || s.silent()) {
		// The copy of a direct message or call signal delivered here, for
		// its recipient's other nodes, while Redis is known not to answer:
		// dropped, counted in CastsLost (casts.go).
		s.CastsLost.Add(1)
		return
	}
	c := queuedCast{op: op}
	if op.Kind == social.OpDeliver {
		c.at = time.Now() // casts.go: dropped past the bus's CopyMaxAge
	}
	s.casts.push(c) // casts.go: never refused
}

// JoinChannel implements social.Peers.
func (s *Social) JoinChannel(name string, ready func(error)) {
	s.bus.Join(name, func(err error) { go ready(err) })
}

// LeaveChannel implements social.Peers.
func (s *Social) LeaveChannel(name string) { s.bus.Leave(name) }

// lineBody is a lobby channel line on the bus.
type lineBody struct {
	Channel string `json:"c"`
	Chat    []byte `json:"m"`           // the encoded tickroomv1.Chat
	Exclude uint64 `json:"x,omitempty"` // a connection of the sending node not to deliver to
	// Mark tells the sending process its own line when it comes back
	// (linesOut); older nodes send none.
	Mark uint64 `json:"k,omitempty"`
}

// linesOutAge is how long a line's mark is kept when it neither came
// back nor failed (this node left the channel meanwhile, or Redis lost
// the publish it ran late).
const linesOutAge = 10 * time.Minute

// linesOutMax bounds the marks kept, the oldest dropped past it: without
// it they grew with the node's line rate for linesOutAge while its lines
// did not come back (its subscription down), up to 20 lines a second on
// each of 1,000 channels. A healthy node holds those of the lines whose
// publish waits or that are on their way back: at most the bus's queue
// (DefaultBusQueue; the bound is eight times a larger queue) and a
// batch, and then only while Redis stalls. A
// dropped mark's line is delivered as it comes back: at worst twice,
// when it was delivered here already as its publish failed.
const linesOutMax = 1 << 16

// linesOut are this process's lobby lines on their way through Redis,
// by mark. A publish that timed out may still be run by Redis (a silent
// Redis runs what it was sent once it answers again), and the line then
// comes back after its node delivered it to its own members: whichever
// comes first of the line coming back and its publish failing delivers
// it here, and the other is dropped.
type linesOut struct {
	mu   sync.Mutex
	next uint64
	// oldest is the first mark that may still be in out: marks are
	// given in order, and dropped from the oldest past linesOutMax.
	oldest uint64
	out    map[uint64]lineOut
	swept  time.Time
	// max is the bound on out: linesOutMax, or eight times the bus's
	// queue when that is more, so that a line whose publish still waits
	// keeps its mark. Zero value means linesOutMax.
	max int
}

// nextMark is the mark given after m (0 is no mark).
func nextMark(m uint64) uint64 {
	if m++; m == 0 {
		m++
	}
	return m
}

// lineOut is one line on its way.
type lineOut struct {
	at     time.Time
	failed bool // delivered here as its publish failed
}

// add notes a line sent and returns its mark.
func (l *linesOut) add() uint64 {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.out == nil {
		l.out = make(map[uint64]lineOut)
		l.next = rand.Uint64()
		l.oldest = nextMark(l.next)
	}
	if now.Sub(l.swept) > time.Minute {
		l.swept = now
		for k, o := range l.out {
			if now.Sub(o.at) > linesOutAge {
				delete(l.out, k)
			}
		}
	}
	l.next = nextMark(l.next)
	l.out[l.next] = lineOut{at: now}
	// Each mark is passed over once: the walk costs one step a line.
	for len(l.out) > max(l.max, linesOutMax) {
		delete(l.out, l.oldest)
		l.oldest = nextMark(l.oldest)
	}
	return l.next
}

// failed reports whether the line of mark, whose publish failed, is to
// be delivered here: not when it came back already.
func (l *linesOut) failed(mark uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.out[mark]
	if !ok {
		return false
	}
	o.failed = true
	l.out[mark] = o
	return true
}

// back reports whether the line of mark, come back through Redis, is to
// be delivered: not when it was delivered here as its publish failed.
func (l *linesOut) back(mark uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.out[mark]
	delete(l.out, mark)
	return !ok || !o.failed
}

// forget drops the line of mark, never sent.
func (l *linesOut) forget(mark uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.out, mark)
}

// PostChannel implements social.Peers. failed is called when the
// publish failed and the line never comes back through Redis to this
// node: one whose publish timed out and that Redis ran late is
// delivered once, as it came back or as it failed, whichever was first.
func (s *Social) PostChannel(name string, line *tickroomv1.Chat, exclude uint64, failed func(error)) error {
	chat, err := line.MarshalVT()
	if err != nil {
		return err
	}
	mark := s.lines.add()
	body, _ := json.Marshal(lineBody{Channel: name, Chat: chat, Exclude: exclude, Mark: mark})
	err = s.bus.PublishLineAfter(name, &Envelope{Kind: kindLine, Body: body}, line.Id, func(err error) {
		if s.lines.failed(mark) {
			go failed(err)
		}
	})
	if err != nil {
		s.lines.forget(mark)
	}
	return err
}

// serve runs an op with this node's social layer.
func (s *Social) serve(op *social.RemoteOp) social.RemoteAnswer {
	so := s.so.Load()
	if so == nil {
		return social.RemoteAnswer{Code: offlineCode}
	}
	return so.Serve(op)
}

// serveOp serves another node's op, on a bus receiver goroutine.
func (s *Social) serveOp(e *Envelope) {
	op := new(social.RemoteOp)
	if err := json.Unmarshal(e.Body, op); err != nil {
		s.log.Warn("cluster: undecodable social op dropped", "node", e.Node, "err", err)
		return
	}
	op.Node = e.Node
	if op.Kind == social.OpRecheck {
		s.wantRecheck(e.Node)
		return
	}
	a := s.serve(op)
	if e.Call != 0 {
		body, _ := json.Marshal(a)
		_ = s.bus.Answer(e, &Envelope{Kind: kindOp, Body: body})
	}
}

// serveOps serves another node's ops, on a bus receiver goroutine,
// and answers them together, in order, when asked.
func (s *Social) serveOps(e *Envelope) {
	if body, ok := s.runOps(e); ok && e.Call != 0 {
		_ = s.bus.Answer(e, &Envelope{Kind: kindOps, Body: body})
	}
}

// runOps runs the ops of e, an "ops" message, and returns their answers
// encoded, in order; false when e is undecodable.
func (s *Social) runOps(e *Envelope) ([]byte, bool) {
	var ops []*social.RemoteOp
	if err := json.Unmarshal(e.Body, &ops); err != nil {
		s.log.Warn("cluster: undecodable social ops dropped", "node", e.Node, "err", err)
		return nil, false
	}
	as := make([]social.RemoteAnswer, len(ops))
	for i, op := range ops {
		switch {
		case op == nil:
			as[i].Code = offlineCode
		case op.Kind == social.OpRecheck:
			s.wantRecheck(e.Node)
		default:
			op.Node = e.Node
			as[i] = s.serve(op)
		}
	}
	body, _ := json.Marshal(as)
	return body, true
}

// serveLine delivers a lobby channel line to this node's members.
func (s *Social) serveLine(e *Envelope) {
	var lb lineBody
	line := new(tickroomv1.Chat)
	if json.Unmarshal(e.Body, &lb) != nil || line.UnmarshalVT(lb.Chat) != nil {
		s.log.Warn("cluster: undecodable channel line dropped", "node", e.Node)
		return
	}
	so := s.so.Load()
	if so == nil {
		return
	}
	exclude := lb.Exclude
	if e.Node != s.bus.Node() {
		exclude = 0 // a connection id of another node
	} else if lb.Mark != 0 && !s.lines.back(lb.Mark) {
		return // delivered here already, as its publish timed out
	}
	so.ChannelLine(lb.Channel, line, e.Seq, exclude)
}
