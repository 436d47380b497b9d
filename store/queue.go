package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BatchWriter stores a batch in one transaction. *DB implements it.
type BatchWriter interface {
	Write(ctx context.Context, b *Batch) error
	Ping(ctx context.Context) error
}

var _ BatchWriter = (*DB)(nil)

// QueueConfig configures a WriteQueue.
type QueueConfig struct {
	// Writer stores the batches. Required.
	Writer BatchWriter
	// Capacity bounds the items (results, lines and graph changes)
	// waiting, including a batch being retried; past it new items are
	// dropped and counted. Lines are dropped past three quarters of it,
	// so that the last quarter is kept for results and graph changes.
	// Zero value means 10,000.
	Capacity int
	// MaxBatch caps the items written in one transaction. Zero value
	// means 64.
	MaxBatch int
	// Linger is how long the first item of a batch waits for others.
	// Zero value means 20 ms.
	Linger time.Duration
	// WriteTimeout bounds one batch's write. Zero value means 5 seconds.
	WriteTimeout time.Duration
	// RetryInterval is the first wait after a failed write; it doubles up
	// to 8 times its value. Zero value means 250 ms.
	RetryInterval time.Duration
	// PingInterval is how often an idle queue checks that the database
	// answers, so that readiness notices a lost database with nothing to
	// write. Zero value means 5 seconds.
	PingInterval time.Duration
	// Logger receives failed writes and recoveries, and results refused
	// as invalid. Zero value means no logging.
	Logger *slog.Logger
}

const (
	defaultQueueCapacity = 10_000
	defaultMaxBatch      = 64
	defaultLinger        = 20 * time.Millisecond
	defaultWriteTimeout  = 5 * time.Second
	defaultRetry         = 250 * time.Millisecond
	defaultPing          = 5 * time.Second
)

// ErrQueueClosed reports a WriteQueue used after Shutdown began.
var ErrQueueClosed = errors.New("store: write queue closed")

// WriteQueue takes results and chat lines from goroutines that must never
// wait on a database (event loops, tick shards, the hub), and writes them
// in batches from one goroutine of its own. Add never blocks: it appends
// under a short lock, or drops and counts when Capacity items are already
// waiting or when the store would refuse the item (Batch). A failed write is retried with backoff while new items queue
// up to the bound, the batch whole: one whose commit reached the database
// but reported an error (the connection lost during the commit, a timeout
// once the server had it) is written again, and finds itself recorded
// there (each batch is marked with the queue's id and its number: DB.Write),
// so that it is stored once; /readyz reports the failure through Ready until a write
// or ping succeeds again. A graph change's or a line's Done runs on the
// queue's goroutine once its batch is written or dropped (on the caller's
// when AddGraph or AddLine drops it), so it must be quick and must not
// panic: every write waits behind it.
//
// A WriteQueue is a prometheus.Collector of its depth, writes, drops,
// errors and write latency. Every method is safe from any goroutine.
type WriteQueue struct {
	cfg  QueueConfig
	log  *slog.Logger
	wake chan struct{}
	done chan struct{}
	stop chan struct{}
	// writes is the context every write and ping runs under, which a
	// Shutdown whose time ran out ends (giveUp).
	writes context.Context
	giveUp context.CancelFunc
	mu     sync.Mutex
	items  Batch // waiting, not yet taken by the writer
	held   int   // items in the batch being written or retried
	shut   bool
	err    error // the last write or ping error; nil when the last one worked

	written, dropped [3]atomic.Uint64 // [0] results, [1] lines, [2] graph changes
	errors, batches  atomic.Uint64
	latency          prometheus.Histogram
	started          atomic.Bool

	id  string // marks its batches (Batch.writer): random, one per queue
	seq int64  // the last batch taken; the writer's goroutine's
}

// NewWriteQueue returns a queue; Start starts its writer.
func NewWriteQueue(cfg QueueConfig) (*WriteQueue, error) {
	if cfg.Writer == nil {
		return nil, fmt.Errorf("%w: QueueConfig.Writer is required", ErrInvalid)
	}
	if cfg.Capacity < 0 || cfg.MaxBatch < 0 || cfg.Linger < 0 || cfg.WriteTimeout < 0 || cfg.RetryInterval < 0 || cfg.PingInterval < 0 {
		return nil, fmt.Errorf("%w: negative QueueConfig field", ErrInvalid)
	}
	cfg.Capacity = cmpOr(cfg.Capacity, defaultQueueCapacity)
	cfg.MaxBatch = cmpOr(cfg.MaxBatch, defaultMaxBatch)
	cfg.Linger = cmpOr(cfg.Linger, defaultLinger)
	cfg.WriteTimeout = cmpOr(cfg.WriteTimeout, defaultWriteTimeout)
	cfg.RetryInterval = cmpOr(cfg.RetryInterval, defaultRetry)
	cfg.PingInterval = cmpOr(cfg.PingInterval, defaultPing)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var id [16]byte
	rand.Read(id[:]) // never fails (crypto/rand)
	writes, giveUp := context.WithCancel(context.Background())
	return &WriteQueue{
		cfg: cfg, log: cfg.Logger, id: hex.EncodeToString(id[:]), writes: writes, giveUp: giveUp,
		wake: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tickroom_store_write_seconds",
			Help:    "How long one batch write to the store took, failed ones included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}, nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Start starts the writer goroutine. Call it once.
func (q *WriteQueue) Start() {
	if !q.started.CompareAndSwap(false, true) {
		return
	}
	go q.run()
}

// AddResult queues a result. It reports false when the result was dropped
// (the queue is full or shut down, or the store would refuse it: see
// Batch). It never blocks.
func (q *WriteQueue) AddResult(r Result) bool {
	if err := checkResult(&r); err != nil {
		// A game's bug, never the players': say which room's result.
		q.log.Warn("store: match result not recorded", "game", r.Game, "room", r.Room, "err", err)
		return q.added(false, 0)
	}
	q.mu.Lock()
	ok := !q.shut && q.depthLocked() < q.cfg.Capacity
	if ok {
		q.items.Results = append(q.items.Results, r)
	}
	q.mu.Unlock()
	return q.added(ok, 0)
}

// AddLine queues a chat line (a channel line or an offline direct
// message). It reports false when the line was dropped (as AddResult's).
// It never blocks.
func (q *WriteQueue) AddLine(l Line) bool {
	ok := checkLine(&l) == nil
	if ok {
		q.mu.Lock()
		ok = !q.shut && q.depthLocked() < q.lineCapacity()
		if ok {
			q.items.Lines = append(q.items.Lines, l)
		}
		q.mu.Unlock()
	}
	if !ok && l.Done != nil {
		l.Done(0)
	}
	return q.added(ok, 1)
}

// AddGraph queues a social graph change; changes are written in the
// order they were added. It reports false when the change was dropped (as
// AddResult's). It never blocks.
func (q *WriteQueue) AddGraph(op GraphOp) bool {
	ok := checkGraphOp(&op) == nil
	if ok {
		q.mu.Lock()
		ok = !q.shut && q.depthLocked() < q.cfg.Capacity
		if ok {
			q.items.Graph = append(q.items.Graph, op)
		}
		q.mu.Unlock()
	}
	if !ok && op.Done != nil {
		op.Done()
	}
	return q.added(ok, 2)
}

func (q *WriteQueue) added(ok bool, kind int) bool {
	if !ok {
		q.dropped[kind].Add(1)
		return false
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *WriteQueue) depthLocked() int { return q.items.Len() + q.held }

// lineCapacity is the depth past which lines are dropped: a quarter of
// the queue (at least one item, in a queue of two or more) is kept for
// results and graph changes (friendships and blocks), so that the chat of
// a long outage, which comes far faster than either, never crowds out a
// match's result or a player's block. A queue of one is all lines'.
func (q *WriteQueue) lineCapacity() int {
	if q.cfg.Capacity < 2 {
		return q.cfg.Capacity
	}
	return q.cfg.Capacity - max(q.cfg.Capacity/4, 1)
}

// QueueStats is a snapshot of a WriteQueue's counters.
type QueueStats struct {
	Depth, Capacity              int
	ResultsWritten, LinesWritten uint64
	ResultsDropped, LinesDropped uint64
	GraphWritten, GraphDropped   uint64
	Batches, Errors              uint64
	LastError                    error
}

// Stats returns the queue's counters.
func (q *WriteQueue) Stats() QueueStats {
	q.mu.Lock()
	s := QueueStats{Depth: q.depthLocked(), Capacity: q.cfg.Capacity, LastError: q.err}
	q.mu.Unlock()
	s.ResultsWritten, s.LinesWritten = q.written[0].Load(), q.written[1].Load()
	s.ResultsDropped, s.LinesDropped = q.dropped[0].Load(), q.dropped[1].Load()
	s.GraphWritten, s.GraphDropped = q.written[2].Load(), q.dropped[2].Load()
	s.Batches, s.Errors = q.batches.Load(), q.errors.Load()
	return s
}

// Ready returns nil while the last write or ping worked, and the reason
// the store is not usable otherwise.
func (q *WriteQueue) Ready() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return fmt.Errorf("store writes failing (%d queued of %d): %w", q.depthLocked(), q.cfg.Capacity, q.err)
	}
	return nil
}

// Shutdown stops taking items, writes what is queued, and returns when
// the writer is done or ctx ends: then the write in flight is ended, what
// is left is dropped (the error says how much), and the writer is waited
// for a moment more, so that nothing it does outlives the shutdown by
// long. A batch waiting to be retried after a failed write is tried once
// more at once; only when that fails too is it dropped, with everything
// waiting behind it.
func (q *WriteQueue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	q.shut = true
	q.mu.Unlock()
	if !q.started.Load() {
		return nil
	}
	select {
	case <-q.stop:
	default:
		close(q.stop)
	}
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		left := q.Stats().Depth
		q.giveUp()
		select {
		case <-q.done:
		case <-time.After(giveUpWait):
		}
		return fmt.Errorf("store: write queue shut down with %d items unwritten: %w", left, ctx.Err())
	}
}

// giveUpWait is how long a Shutdown whose time ran out waits for the
// writer once it has ended its write: a writer that heeds its context
// drops what is left at once.
const giveUpWait = time.Second

// take moves up to MaxBatch waiting items into b.
func (q *WriteQueue) take(b *Batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.cfg.MaxBatch
	nr := min(n, len(q.items.Results))
	b.Results = append(b.Results[:0], q.items.Results[:nr]...)
	q.items.Results = shift(q.items.Results, nr)
	nl := min(n-nr, len(q.items.Lines))
	b.Lines = append(b.Lines[:0], q.items.Lines[:nl]...)
	q.items.Lines = shift(q.items.Lines, nl)
	ng := min(n-nr-nl, len(q.items.Graph))
	b.Graph = append(b.Graph[:0], q.items.Graph[:ng]...)
	q.items.Graph = shift(q.items.Graph, ng)
	q.held = b.Len()
	q.seq++
	b.writer, b.seq = q.id, q.seq
}

// shift drops the first n items, reusing the array once it is empty.
func shift[T any](s []T, n int) []T {
	clear(s[:n])
	s = s[n:]
	if len(s) == 0 {
		return s[:0:0]
	}
	return s
}

func (q *WriteQueue) run() {
	defer close(q.done)
	ping := time.NewTicker(q.cfg.PingInterval)
	defer ping.Stop()
	var b Batch
	for {
		q.mu.Lock()
		waiting := q.items.Len()
		q.mu.Unlock()
		if waiting == 0 {
			select {
			case <-q.stop:
				return
			case <-q.wake:
				// Let a burst gather into one transaction.
				linger := time.NewTimer(q.cfg.Linger)
				select {
				case <-linger.C:
				case <-q.stop:
					linger.Stop()
				}
			case <-ping.C:
				q.ping()
			}
			continue
		}
		q.take(&b)
		q.writeUntilDone(&b)
	}
}

// writeUntilDone writes b, retrying with backoff until it succeeds or the
// queue is shut down and the retries keep failing: a shutdown during the
// wait before a retry tries once more at once (the database may be back),
// and drops what is left only when that fails too.
func (q *WriteQueue) writeUntilDone(b *Batch) {
	wait := q.cfg.RetryInterval
	for last := false; ; {
		ctx, cancel := context.WithTimeout(q.writes, q.cfg.WriteTimeout)
		start := time.Now()
		err := q.cfg.Writer.Write(ctx, b)
		cancel()
		q.latency.Observe(time.Since(start).Seconds())
		if err == nil {
			q.written[0].Add(uint64(len(b.Results)))
			q.written[1].Add(uint64(len(b.Lines)))
			q.written[2].Add(uint64(len(b.Graph)))
			linesDone(b.Lines, true)
			graphDone(b.Graph)
			q.batches.Add(1)
			q.setErr(nil)
			q.mu.Lock()
			q.held = 0
			q.mu.Unlock()
			return
		}
		q.errors.Add(1)
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrClosed) {
			// Retrying cannot help: drop the batch and count it.
			q.log.Error("store: batch refused; dropped", "results", len(b.Results), "lines", len(b.Lines), "err", err)
			q.drop(b)
			return
		}
		q.setErr(err)
		if !last {
			select {
			case <-time.After(wait):
				wait = min(2*wait, 8*q.cfg.RetryInterval)
				continue
			case <-q.stop:
				// Shutting down: one last try, without waiting.
				last = true
				continue
			}
		}
		// Shutting down while writes fail: what is left is lost.
		q.dropAll(b, err)
		return
	}
}

func (q *WriteQueue) drop(b *Batch) {
	q.dropped[0].Add(uint64(len(b.Results)))
	q.dropped[1].Add(uint64(len(b.Lines)))
	q.dropped[2].Add(uint64(len(b.Graph)))
	linesDone(b.Lines, false)
	graphDone(b.Graph)
	q.mu.Lock()
	q.held = 0
	q.mu.Unlock()
}

// dropAll drops b and everything waiting, counting them.
func (q *WriteQueue) dropAll(b *Batch, err error) {
	q.drop(b)
	q.mu.Lock()
	rest := q.items
	q.items = Batch{}
	q.mu.Unlock()
	q.drop(&rest)
	q.log.Error("store: shut down while writes fail; queued items lost",
		"results", len(b.Results)+len(rest.Results), "lines", len(b.Lines)+len(rest.Lines), "err", err)
}

func (q *WriteQueue) ping() {
	ctx, cancel := context.WithTimeout(q.writes, q.cfg.WriteTimeout)
	defer cancel()
	q.setErr(q.cfg.Writer.Ping(ctx))
}

func (q *WriteQueue) setErr(err error) {
	q.mu.Lock()
	was := q.err
	q.err = err
	q.mu.Unlock()
	switch {
	case err != nil && was == nil:
		q.log.Error("store: writes failing; queueing", "err", err)
	case err == nil && was != nil:
		q.log.Info("store: writes work again")
	}
}

var (
	descDepth    = prometheus.NewDesc("tickroom_store_queue_depth", "Items waiting to be written to the store (results, chat lines and kept direct messages, friend and block changes), a batch being retried included.", nil, nil)
	descCapacity = prometheus.NewDesc("tickroom_store_queue_capacity", "Most items the store write queue holds before it drops.", nil, nil)
	descWritten  = prometheus.NewDesc("tickroom_store_written_total", "Items written to the store, by kind (result, line, graph).", []string{"kind"}, nil)
	descDropped  = prometheus.NewDesc("tickroom_store_dropped_total", "Items dropped because the store write queue was full or shut down, by kind.", []string{"kind"}, nil)
	descBatches  = prometheus.NewDesc("tickroom_store_batches_total", "Batches written to the store.", nil, nil)
	descErrors   = prometheus.NewDesc("tickroom_store_write_errors_total", "Failed batch writes to the store (each retry counts).", nil, nil)
	descUp       = prometheus.NewDesc("tickroom_store_up", "1 while the last store write or ping worked, 0 otherwise.", nil, nil)
)

var _ prometheus.Collector = (*WriteQueue)(nil)

// Describe implements prometheus.Collector.
func (q *WriteQueue) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDepth, descCapacity, descWritten, descDropped, descBatches, descErrors, descUp} {
		ch <- d
	}
	q.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (q *WriteQueue) Collect(ch chan<- prometheus.Metric) {
	s := q.Stats()
	up := 1.0
	if s.LastError != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(s.Depth))
	ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(s.Capacity))
	ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(s.ResultsWritten), "result")
	ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(s.LinesWritten), "line")
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.ResultsDropped), "result")
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.LinesDropped), "line")
	ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(s.GraphWritten), "graph")
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.GraphDropped), "graph")
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(s.Batches))
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.Errors))
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
	q.latency.Collect(ch)
}
