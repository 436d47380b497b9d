package hub

import (
	"context"
	"sync"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Bounds of the requests answered from the store (lookups).
const (
	// lookupWorkers is how many store reads run at once.
	lookupWorkers = 4
	// lookupQueue bounds the store reads waiting for a worker, all
	// sessions together.
	lookupQueue = 256
	// lookupsPerSession bounds one session's store reads queued or
	// running.
	lookupsPerSession = 4
	// lookupTimeout bounds one store read.
	lookupTimeout = 5 * time.Second
)

// lookupFunc reads the store and returns the reply to send, or the
// refusal. It runs on a lookup worker and may wait.
type lookupFunc func(ctx context.Context) (*tickroomv1.ServerMessage, error)

type lookupJob struct {
	s  *Session
	id uint32
	fn lookupFunc
}

// lookups answers requests that wait on the store, off the event loops:
// lookupWorkers goroutines take jobs from a queue of lookupQueue. A loop
// only enqueues; a full queue, or a session with lookupsPerSession jobs
// already, is refused with ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT at once.
// Every method is safe from any goroutine.
type lookups struct {
	jobs chan lookupJob
	wg   sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
}

func newLookups() *lookups { return &lookups{jobs: make(chan lookupJob, lookupQueue)} }

// start starts the workers, once.
func (l *lookups) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		return
	}
	l.started = true
	for range lookupWorkers {
		l.wg.Add(1)
		go l.work()
	}
}

// submit queues fn to answer request id of s; it never blocks.
func (l *lookups) submit(s *Session, id uint32, fn lookupFunc) error {
	busy := protocol.NewError(protocol.ErrorTooManyRequestsInFlight, "too many history or leaderboard requests awaiting a reply")
	if s.lookups.Add(1) > lookupsPerSession {
		s.lookups.Add(-1)
		return busy
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		s.lookups.Add(-1)
		return protocol.NewError(protocol.ErrorInternal, "server shutting down")
	}
	select {
	case l.jobs <- lookupJob{s: s, id: id, fn: fn}:
		return nil
	default:
		s.lookups.Add(-1)
		return busy
	}
}

func (l *lookups) work() {
	defer l.wg.Done()
	for j := range l.jobs {
		l.run(j)
	}
}

func (l *lookups) run(j lookupJob) {
	defer j.s.lookups.Add(-1)
	if j.s.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	m, err := j.fn(ctx)
	if err != nil {
		j.s.fail(j.id, err)
		return
	}
	j.s.reply(j.id, m)
}

// shutdown stops taking jobs and waits for the queued ones to finish, or
// for ctx.
func (l *lookups) shutdown(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.jobs)
	}
	started := l.started
	l.mu.Unlock()
	if !started {
		return nil
	}
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
