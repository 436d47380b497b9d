package cluster

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/tickroom/tickroom/server/hub"
)

// Buckets is the hub's Buckets in a cluster: token buckets in Redis that
// every node counts in, so that the bound on wrong room passwords
// (hub.Config.WrongPasswordRate) holds for a guesser however it spreads
// its connections over the nodes.
//
// The buckets are GCRA limiters of github.com/go-redis/redis_rate/v10, the
// go-redis project's own: one Lua script a call that keeps a bucket as
// one key holding its theoretical arrival time, on Redis's clock, with a
// TTL of the time until the bucket is full again (at most Burst/Rate: 20 s
// for the default bound), so a key outlives its last charge by that long
// and no more; only a charge makes a key (a look at a bucket that has
// none finds it full and writes nothing). Its keys
// start with the library's "rate:" and then the cluster's prefix
// (Keys.Bucket). Wait is the library's AllowAtMost of 0 tokens, which
// takes nothing and tells how long until one.
//
// Every call runs under the node's Timeout and fails with ErrUnavailable
// when Redis does not answer; the hub then counts in its own memory. A
// call does not ask Redis at all, failing at once, while the node knows
// it does not answer: its heartbeat failed (Node.Unreachable), or a call
// of these buckets failed within the last heartbeat interval, which is
// about as long as the heartbeat takes to notice; past that one call
// asks again while the others still skip it. Otherwise a silent Redis
// held each password guess through a timeout per call, the check and the
// charge, the right password's too.
// Safe from any goroutine; never call it from an event loop.
type Buckets struct {
	lim  *redis_rate.Limiter
	keys Keys
	skip
}

// skip keeps calls off a Redis that did not answer lately: while the
// node's heartbeat fails, and for the heartbeat interval after a call
// failed (Buckets, Guesses).
type skip struct {
	timeout time.Duration
	node    *Node
	quiet   time.Duration // how long a failed call keeps the others off Redis
	until   atomic.Int64  // unix nanos before which calls skip Redis, 0: none
}

// newSkip returns the skip of calls over n's client.
func newSkip(n *Node) skip {
	return skip{timeout: n.Timeout(), node: n, quiet: n.Heartbeat()}
}

// errQuiet is the failure of a call that did not ask Redis.
var errQuiet = fmt.Errorf("%w: not asked, as it did not answer lately", ErrUnavailable)

var _ hub.Buckets = (*Buckets)(nil)

// NewBuckets returns the buckets of n's cluster, over n's Redis client.
func NewBuckets(n *Node) *Buckets {
	return &Buckets{lim: redis_rate.NewLimiter(n.Client()), keys: n.Keys(), skip: newSkip(n)}
}

// ask reports whether a call may ask Redis now; a call past a failure's
// quiet time claims the next ask for itself, holding the others off
// until it is answered.
func (k *skip) ask() bool {
	if k.node.Unreachable() {
		return false
	}
	until := k.until.Load()
	if until == 0 {
		return true
	}
	now := time.Now().UnixNano()
	return now >= until && k.until.CompareAndSwap(until, now+int64(k.timeout+k.quiet))
}

// answered records how Redis answered a call made under ctx, the
// caller's, and returns err as the call's: a failure that is not the
// caller's own (ctx ended) keeps the calls off Redis for the quiet time.
func (k *skip) answered(ctx context.Context, err error) error {
	switch {
	case err == nil:
		k.until.Store(0)
	case ctx.Err() == nil:
		k.until.Store(time.Now().Add(k.quiet).UnixNano())
	}
	return unavailable(err)
}

// limit is b's limit as redis_rate states it: one token per period.
func limit(b hub.Bucket) (redis_rate.Limit, bool) {
	if b.Rate <= 0 || math.IsInf(b.Rate, 1) || b.Burst <= 0 {
		return redis_rate.Limit{}, false
	}
	return redis_rate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / b.Rate), Burst: b.Burst}, true
}

// Wait returns how long until b holds a token, taking nothing. A bucket
// of an infinite rate always holds one.
func (k *Buckets) Wait(ctx context.Context, b hub.Bucket) (time.Duration, error) {
	l, ok := limit(b)
	if !ok {
		return 0, nil
	}
	if !k.ask() {
		return 0, errQuiet
	}
	call, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	res, err := k.lim.AllowAtMost(call, k.keys.Bucket(b.Key), l, 0)
	if err := k.answered(ctx, err); err != nil {
		return 0, err
	}
	return max(res.RetryAfter, 0), nil
}

// Take takes a token from b when it holds one.
func (k *Buckets) Take(ctx context.Context, b hub.Bucket) error {
	l, ok := limit(b)
	if !ok {
		return nil
	}
	if !k.ask() {
		return errQuiet
	}
	call, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	_, err := k.lim.Allow(call, k.keys.Bucket(b.Key), l)
	return k.answered(ctx, err)
}
