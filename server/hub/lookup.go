package hub

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/clientip"
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
	// lookupsPerAddress bounds the store reads queued or running of all
	// the sessions of one client address (an IPv6 /64), so that the
	// guests of one address, each within its own share, cannot take the
	// whole queue: a quarter of it, and the rest stays for the others.
	lookupsPerAddress = lookupQueue / 4
	// lookupsPerSite bounds those of the /64s of one IPv6 /48 together.
	// clientip.V6SiteFactor times an address's share would be more than
	// the queue, so a site is held to half of it.
	lookupsPerSite = min(lookupsPerAddress*clientip.V6SiteFactor, lookupQueue/2)
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
	// ip is the address the job counts against in lookups.perAddr;
	// invalid for an address with no share (exempt).
	ip netip.Addr
}

// lookups answers requests that wait on the store, off the event loops:
// lookupWorkers goroutines take jobs from a queue of lookupQueue. A loop
// only enqueues; a full queue, a session with lookupsPerSession jobs
// already, or a client address with lookupsPerAddress (its IPv6 /48 with
// lookupsPerSite), is refused with ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT
// at once, and a user past its store read rate (social.Config.StoreReadRate)
// with ERROR_CODE_RATE_LIMITED. An address Config.IPQuotaExempt exempts has
// no share of its own: its sessions keep theirs. Every method is safe from
// any goroutine.
type lookups struct {
	jobs   chan lookupJob
	wg     sync.WaitGroup
	exempt func(netip.Addr) bool

	mu      sync.Mutex
	started bool
	closed  bool
	perAddr clientip.Counts // jobs queued or running by address
}

func newLookups(exempt func(netip.Addr) bool) *lookups {
	return &lookups{jobs: make(chan lookupJob, lookupQueue), exempt: exempt, perAddr: make(clientip.Counts)}
}

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

// submit queues fn to answer request id of s; it never blocks. Past the
// session's share it refuses at once; then it takes one of the user's
// store reads (social.Config.StoreReadRate), which a refusal after that,
// before the store is read, gives back. It runs on s's loop.
func (l *lookups) submit(s *Session, id uint32, fn lookupFunc) error {
	busy := protocol.NewError(protocol.ErrorTooManyRequestsInFlight, "too many history or leaderboard requests awaiting a reply")
	if s.lookups.Add(1) > lookupsPerSession {
		s.lookups.Add(-1)
		return busy
	}
	giveBack, err := s.h.social.TakeStoreRead(s.member)
	if err != nil {
		s.lookups.Add(-1)
		return err
	}
	j := lookupJob{s: s, id: id, fn: fn}
	if ip := s.ip(); !l.exempt(ip) {
		j.ip = ip
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		giveBack()
		s.lookups.Add(-1)
		return protocol.NewError(protocol.ErrorInternal, "server shutting down")
	}
	if j.ip.IsValid() && !l.perAddr.Take(j.ip, lookupsPerAddress, lookupsPerSite) {
		giveBack()
		s.lookups.Add(-1)
		return protocol.NewError(protocol.ErrorTooManyRequestsInFlight, "too many history or leaderboard requests from your address awaiting a reply")
	}
	select {
	case l.jobs <- j:
		return nil
	default:
		if j.ip.IsValid() {
			l.perAddr.Give(j.ip)
		}
		giveBack()
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
	defer l.done(j)
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

// done takes j off its session's and its address's counts.
func (l *lookups) done(j lookupJob) {
	j.s.lookups.Add(-1)
	if j.ip.IsValid() {
		l.mu.Lock()
		l.perAddr.Give(j.ip)
		l.mu.Unlock()
	}
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
