package cluster

import (
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/server/social"
)

// A user's presence reaches its friends on other nodes as casts, one a
// friend, each sent to the nodes Redis records the friend on. Queued one
// a friend for the lookup workers, a mass login (a node restarted, its
// players reconnecting to the others) overflowed their queue
// (lookupQueue), which refused the rest, and those friends were never
// told: 2,000 users of 500 remote friends each logging in at once lost
// 989,238 of their 1,000,000 casts. Presence casts now wait in a queue of
// their own, one entry a user holding the last presence cast and the
// friends to tell it, so that a user who comes and goes many times costs
// one entry; pushers goroutines send them, each the entries of its share
// of the users in the order they were queued, finding the friends of
// 256 casts (one user's, or several users') on Redis a lookup, at the
// pace of Redis and of the bus's queue. A user's entries are always its
// one goroutine's, sent in order, so that its later presence is never
// overtaken by an earlier one. (One goroutine
// for all took 39–47 s to tell the 1,000,000 casts of 2,000 users of 500
// remote friends each, and an ordinary login waited behind them.)

// pushers is how many goroutines send presence casts.
const pushers = 4

// pushShards are the presence casts waiting, one queue a pusher, a user's
// entries always in the same one.
type pushShards [pushers]*pushQueue

func newPushShards() *pushShards {
	var q pushShards
	for i := range q {
		q[i] = newPushQueue()
	}
	return &q
}

// of returns uid's queue.
func (q *pushShards) of(uid string) *pushQueue {
	return q[maphash.String(shardSeed, uid)%pushers]
}

var shardSeed = maphash.MakeSeed()

// cast queues op, an OpPresence with a To (pushQueue.cast).
func (q *pushShards) cast(op *social.RemoteOp) { q.of(op.From).cast(op) }

// announce queues the casts of users' presence now.
func (q *pushShards) announce(users []string) {
	var each [pushers][]string
	for _, uid := range users {
		i := maphash.String(shardSeed, uid) % pushers
		each[i] = append(each[i], uid)
	}
	for i, us := range each {
		if len(us) > 0 {
			q[i].announce(us)
		}
	}
}

// Len returns how many users' presence waits to be cast.
func (q *pushShards) Len() int {
	n := 0
	for _, sh := range q {
		n += sh.Len()
	}
	return n
}

// Presence casts' pacing.
const (
	// pushBatch is how many casts' friends one lookup finds on Redis.
	pushBatch = opsBatch
)

// A lookup of where users are that fails (Redis busy, or the node or
// Redis so loaded that the call outlives its deadline) is made again,
// lookupRetry after the first failure, then twice as long after each up
// to lookupRetryMax, until it has failed for lookupPatience; then the
// casts waiting on it are dropped (counted in Social.PushesLost or
// CastsLost). Made three times 100 ms apart, a lookup gave up within
// about three Redis timeouts, and a Redis that stalled for a moment
// (1.5 s in TestPresenceReachesAFriendOnAnotherNodeAfterRedisStalls)
// left friends on other nodes never told: a stall that short fails no
// heartbeat, so the node does not announce its users' presence again
// (AnnounceRemote, Recheck). A stall that outlasts lookupPatience (the
// longest registration TTL, MaxTTL, past at least two heartbeats) fails
// a heartbeat, and the node, registering again, tells and asks again.
// The sender waits meanwhile, on its own goroutine; what is queued
// behind it waits with it, bounded as ever (one entry a user).
const (
	lookupRetry    = 100 * time.Millisecond
	lookupRetryMax = time.Second
	lookupPatience = MaxTTL
)

// pendingPush is what waits to be cast of one user's presence.
type pendingPush struct {
	msg []byte              // the last Presence message cast; nil when none
	to  map[string]struct{} // the friends on other nodes to tell it
	// current asks the user's presence now too (AnnounceRemote), told to
	// its friends on other nodes now.
	current bool
	// again asks the user's presence now (social.Social.PresenceNow) for
	// the friends of to, unless a cast since set msg: a cast of an earlier
	// one to some of them could not be sent (pushAgain).
	again bool
	// failing is when the first of those casts failed; zero when none.
	failing time.Time
}

// pushQueue holds the presence casts waiting, one entry a user. Its
// methods are safe from any goroutine and never block.
type pushQueue struct {
	mu    sync.Mutex
	users map[string]*pendingPush
	order []string // the users of users, in the order they were queued
	kick  chan struct{}
}

func newPushQueue() *pushQueue {
	return &pushQueue{users: make(map[string]*pendingPush), kick: make(chan struct{}, 1)}
}

// entryLocked returns uid's entry, queued last when it had none. The
// caller holds q.mu.
func (q *pushQueue) entryLocked(uid string) *pendingPush {
	p := q.users[uid]
	if p == nil {
		p = &pendingPush{}
		q.users[uid] = p
		q.order = append(q.order, uid)
	}
	return p
}

func (q *pushQueue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// cast queues op, an OpPresence with a To: a presence of op.From waiting
// to be cast takes op's, and is cast to op.To too.
func (q *pushQueue) cast(op *social.RemoteOp) {
	q.mu.Lock()
	p := q.entryLocked(op.From)
	p.msg = op.Message
	if p.to == nil {
		p.to = make(map[string]struct{})
	}
	p.to[op.To] = struct{}{}
	q.mu.Unlock()
	q.wake()
}

// announce queues the casts of users' presence now.
func (q *pushQueue) announce(users []string) {
	q.mu.Lock()
	for _, uid := range users {
		q.entryLocked(uid).current = true
	}
	q.mu.Unlock()
	q.wake()
}

// again queues the cast of uid's presence now to friends, whose cast of
// an earlier one first failed at failing (pushAgain). A presence of uid
// already waiting takes them too, and is asked now as well.
func (q *pushQueue) again(uid string, friends []string, failing time.Time) {
	q.mu.Lock()
	p := q.entryLocked(uid)
	p.again = true
	if p.to == nil {
		p.to = make(map[string]struct{}, len(friends))
	}
	for _, f := range friends {
		p.to[f] = struct{}{}
	}
	if p.failing.IsZero() || failing.Before(p.failing) {
		p.failing = failing
	}
	q.mu.Unlock()
	q.wake()
}

// pop takes the entry queued first; ok is false when none waits.
func (q *pushQueue) pop() (uid string, p *pendingPush, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return "", nil, false
	}
	uid = q.order[0]
	q.order = q.order[1:]
	p = q.users[uid]
	delete(q.users, uid)
	return uid, p, true
}

// Len returns how many users' presence waits to be cast.
func (q *pushQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// pusher casts the presences queued in q, in order, until Close: it
// takes entries until it holds pushBatch casts or q is empty, finds the
// friends of the first pushBatch on Redis in one lookup and sends them,
// keeping the rest for the next. One lookup and one bus message a user
// made a mass login of users of few friends each as many round trips,
// each tens of milliseconds on a loaded host: under -race, GOMAXPROCS=1
// and four busy loops on a 2-core host, 390 of the 20,000 pairs of
// TestMassLoginPresenceReachesFriendsOnOtherNodes were still not told 30
// s after its 2,000 logins, every pair told by then when taken together.
func (s *Social) pusher(q *pushQueue) {
	defer s.wg.Done()
	var ops []*social.RemoteOp // taken from q, in order, not yet sent
	var failing []time.Time    // each op's entry's pendingPush.failing
	for {
		for len(ops) < pushBatch {
			uid, p, ok := q.pop()
			if !ok {
				break
			}
			ops = s.pushOps(ops, uid, p)
			for len(failing) < len(ops) {
				failing = append(failing, p.failing)
			}
		}
		if len(ops) == 0 {
			select {
			case <-s.stop:
				return
			case <-q.kick:
			}
			continue
		}
		n := min(len(ops), pushBatch)
		var since map[string]time.Time // the users of ops[:n] failing since
		for i, at := range failing[:n] {
			if !at.IsZero() {
				if since == nil {
					since = make(map[string]time.Time)
				}
				since[ops[i].From] = at
			}
		}
		if !s.castOps(ops[:n], nil, &s.PushesLost, "presence casts", func(sent []*social.RemoteOp, err error) { s.pushAgain(sent, since, err) }) {
			return
		}
		ops = slices.Delete(ops, 0, n)
		failing = slices.Delete(failing, 0, n)
	}
}

// pushAgain queues again the presence of the users of ops, the casts of a
// message the bus could not send (it refuses new ones while Redis does
// not answer, and one it took may fail to publish), for the friends they
// were for: their presence at the time of the cast goes to them, never
// ops' own, which a later change of theirs may have been sent after. A
// user's casts that have failed for lookupPatience (since gives when
// they first did, if before) are dropped, counted in PushesLost. Safe
// from any goroutine.
func (s *Social) pushAgain(ops []*social.RemoteOp, since map[string]time.Time, err error) {
	now := time.Now()
	var users []string
	friends := make(map[string][]string)
	for _, op := range ops {
		if friends[op.From] == nil {
			users = append(users, op.From)
		}
		friends[op.From] = append(friends[op.From], op.To)
	}
	lost := 0
	for _, uid := range users {
		first, ok := since[uid]
		if !ok {
			first = now
		}
		if now.Sub(first) >= lookupPatience {
			lost += len(friends[uid])
			continue
		}
		s.pushes.of(uid).again(uid, friends[uid], first)
	}
	if lost > 0 {
		s.PushesLost.Add(uint64(lost))
		s.log.Warn("cluster: presence casts dropped: the bus could not send them", "casts", lost, "err", err)
	}
}

// pushOps appends to ops the casts of p, uid's entry, one a friend.
func (s *Social) pushOps(ops []*social.RemoteOp, uid string, p *pendingPush) []*social.RemoteOp {
	msg, to := p.msg, p.to
	so := s.so.Load()
	if p.again && msg == nil && so != nil {
		// Only casts that failed wait here. Their user's presence now
		// is told; when the user has left this node, nothing
		// (social.Social.PresenceNow): the failed cast was its leaving
		// or one before it, and whether its friends are to be told it
		// is offline depends on where it is now, which a node it is on
		// tells. Those casts are counted lost. A presence cast since the
		// failure (msg) is newer, and is told to them all.
		if msg = so.PresenceNow(uid); msg == nil {
			s.PushesLost.Add(uint64(len(to)))
			to = nil
		}
	}
	if p.current && so != nil {
		// Asked now, under the social layer's lock: a change made after
		// is queued after this entry, and cast after.
		now := so.RemoteAnnouncement(uid)
		if len(now) > 0 && to == nil {
			to = make(map[string]struct{}, len(now))
		}
		for _, op := range now {
			msg = op.Message
			to[op.To] = struct{}{}
		}
		s.Announced.Add(uint64(len(now)))
	}
	for _, f := range slices.Sorted(maps.Keys(to)) {
		ops = append(ops, &social.RemoteOp{Kind: social.OpPresence, From: uid, To: f, Message: msg})
	}
	return ops
}

// locateTrying finds the nodes of users, trying again after a failure
// with a growing wait until it has failed for lookupPatience; a nil map
// when it could not (the casts to them are dropped, counted in lost), and
// false at Close.
func (s *Social) locateTrying(users []string, lost *atomic.Uint64, what string) (map[string][]string, bool) {
	var failing time.Time // when the first failed try began
	wait := lookupRetry
	for {
		if !s.waitHealthy() {
			return nil, false
		}
		start := time.Now()
		loc, err := s.locate(users, true)
		if err == nil {
			return loc, true
		}
		if failing.IsZero() {
			failing = start
		}
		if time.Since(failing)+wait > lookupPatience {
			lost.Add(uint64(len(users)))
			s.log.Warn("cluster: "+what+" dropped: redis does not answer", "casts", len(users), "for", time.Since(failing).Round(time.Millisecond), "err", err)
			return nil, true
		}
		select {
		case <-s.stop:
			return nil, false
		case <-time.After(wait):
		}
		wait = min(2*wait, lookupRetryMax)
	}
}

// busRoomBytes bounds the bytes the background senders (presence casts,
// a login's questions, other casts) leave waiting to be published: a
// message carries up to opsBatch ops (tens of KB), and half the bus's
// queue of them could hold a user's own request behind ~100 MB.
const busRoomBytes = 256 << 10

// waitBusRoom waits until the bus's queue is less than half full and
// holds less than busRoomBytes, leaving the rest to the users' own
// requests; false at Close.
func (s *Social) waitBusRoom() bool {
	for {
		msgs, bytes := s.bus.Queued()
		if msgs < cap(s.bus.out)/2 && bytes < busRoomBytes {
			return true
		}
		select {
		case <-s.stop:
			return false
		case <-time.After(time.Millisecond):
		}
	}
}
