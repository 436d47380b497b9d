package tickroom

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
)

// storeRevocations is the hub's Revocations kept in the store, so that
// kicks and bans survive a restart. Check answers from memory (it runs on
// an event loop during the handshake); Revoke and Lift update memory at
// once and hand the write to one goroutine of their own, through a
// bounded channel: when it is full the write is dropped and logged, and
// the revocation holds until the process ends.
type storeRevocations struct {
	mem    *hub.MemoryRevocations
	db     store.Moderation
	log    *slog.Logger
	writes chan func(context.Context) error
	done   chan struct{}
	quit   chan struct{} // closed by close: no more retries
	// writing is the context every write runs under, which a close
	// whose time ran out ends (giveUp).
	writing context.Context
	giveUp  context.CancelFunc
	dropped atomic.Uint64
	// mu guards closed and each send on writes: the admin API answers
	// until after the store has closed (Server.Shutdown stops it last), so
	// a kick or ban may come once close has closed writes.
	mu         sync.Mutex
	closed     bool
	lateLogged bool // one made after close was logged
}

var _ hub.Revocations = (*storeRevocations)(nil)

// revocationWrites bounds the writes waiting for the store.
const revocationWrites = 1024

// newStoreRevocations loads the sanctions still active and starts the
// writer.
func newStoreRevocations(ctx context.Context, db store.Moderation, log *slog.Logger) (*storeRevocations, error) {
	list, err := db.Sanctions(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	writing, giveUp := context.WithCancel(context.Background())
	r := &storeRevocations{mem: hub.NewMemoryRevocations(), db: db, log: log, writing: writing, giveUp: giveUp,
		writes: make(chan func(context.Context) error, revocationWrites), done: make(chan struct{}), quit: make(chan struct{})}
	for _, s := range list {
		switch s.Kind {
		case store.SanctionBan:
			r.mem.Revoke(hub.Revocation{UserID: s.UserID, Ban: true, Until: s.Until, Reason: s.Reason})
		case store.SanctionKick:
			r.mem.Revoke(hub.Revocation{UserID: s.UserID, IssuedBefore: s.At, Until: s.Until, Reason: s.Reason})
		case store.SanctionRevoke:
			r.mem.Revoke(hub.Revocation{UserID: s.UserID, SignOut: true, IssuedBefore: s.At, Until: s.Until, Reason: s.Reason})
		}
	}
	go r.run()
	return r, nil
}

func (r *storeRevocations) run() {
	defer close(r.done)
	lost := 0
	for w := range r.writes {
		if r.writing.Err() != nil || r.write(w) {
			lost++
		}
	}
	if lost > 0 {
		r.dropped.Add(uint64(lost))
		r.log.Error("store: kicks or bans not stored: the shutdown's time ran out; they held until the process ended", "dropped", lost)
	}
}

// revocationRetry is the wait before a failed kick or ban is tried again
// the first time; it doubles with each try, up to 8 times as long (250 ms
// to 2 s, as the write queue's).
var revocationRetry = 250 * time.Millisecond

// write runs w, retrying while the database is unavailable or locked
// (revocationRetry, doubling) until it works, the store refuses it, or the
// server shuts down: a shutdown during the wait before a retry tries once
// more at once (the database may be back), and gives up only when that
// fails too, as the write queue does. A close whose time ran out ends the
// try in flight: write then reports it cut, for run to count it dropped.
func (r *storeRevocations) write(w func(context.Context) error) (cut bool) {
	wait := revocationRetry
	for logged, last := false, false; ; {
		ctx, cancel := context.WithTimeout(r.writing, 10*time.Second)
		err := w(ctx)
		cancel()
		if err != nil && r.writing.Err() != nil {
			return true
		}
		if err == nil {
			if logged {
				r.log.Info("store: a kick or ban waiting for the database was stored")
			}
			return false
		}
		if !retryable(err) {
			r.dropped.Add(1)
			r.log.Error("store: a kick or ban was not stored; it holds until the process ends", "err", err)
			return false
		}
		if !logged {
			logged = true
			r.log.Warn("store: a kick or ban could not be stored yet; retrying", "err", err)
		}
		if !last {
			select {
			case <-time.After(wait):
				wait = min(2*wait, 8*revocationRetry)
				continue
			case <-r.quit:
				// Shutting down: one last try, without waiting.
				last = true
				continue
			}
		}
		r.dropped.Add(1)
		r.log.Error("store: a kick or ban was not stored before shutdown; it held until the process ended", "err", err)
		return false
	}
}

// retryable reports a failed write that a later try may store: the
// database out of reach, another program holding the SQLite file locked
// past its busy timeout, or a try that ran out of time waiting for the
// database (SQLite's one writer busy).
func retryable(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrLocked) || errors.Is(err, context.DeadlineExceeded)
}

func (r *storeRevocations) enqueue(w func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		// Shutting down: the change holds in memory until the process
		// ends. Logged for the first one only.
		r.dropped.Add(1)
		if !r.lateLogged {
			r.lateLogged = true
			r.log.Error("store: a kick, ban, unban or sign-out made during shutdown, once the store had closed, was not stored; it holds until the process ends (later ones are not logged)")
		}
		return
	}
	select {
	case r.writes <- w:
	default:
		r.dropped.Add(1)
		r.log.Error("store: revocation writes backed up; one dropped (it holds until the process ends)")
	}
}

// Revoke implements hub.Revocations. A user keeps one kick, one ban and
// one sign-out (store.SanctionRevoke: a new password ended its sessions)
// in the store, with the later start and the later end of those it was
// given (store.PutSanction), so that a restart cuts none short.
func (r *storeRevocations) Revoke(v hub.Revocation) {
	r.mem.Revoke(v)
	s := store.Sanction{UserID: v.UserID, Kind: store.SanctionKick, Reason: v.Reason, At: v.IssuedBefore, Until: v.Until}
	switch {
	case v.Ban:
		s.Kind, s.At = store.SanctionBan, time.Now()
	case v.SignOut:
		s.Kind = store.SanctionRevoke
	}
	r.enqueue(func(ctx context.Context) error { return r.db.PutSanction(ctx, s) })
}

// Check implements hub.Revocations, from memory.
func (r *storeRevocations) Check(userID string, issuedAt, now time.Time) (hub.Revocation, bool) {
	return r.mem.Check(userID, issuedAt, now)
}

// CheckSignOut implements hub.Revocations, from memory.
func (r *storeRevocations) CheckSignOut(userID string, issuedAt, now time.Time) (hub.Revocation, bool) {
	return r.mem.CheckSignOut(userID, issuedAt, now)
}

// Lift implements hub.Revocations: the user's sign-out stays.
func (r *storeRevocations) Lift(userID string) bool {
	ok := r.mem.Lift(userID)
	r.enqueue(func(ctx context.Context) error {
		for _, k := range []store.SanctionKind{store.SanctionKick, store.SanctionBan} {
			if err := r.db.LiftSanction(ctx, userID, k); err != nil {
				return err
			}
		}
		return nil
	})
	return ok
}

// close writes what is waiting and stops the writer; a Revoke or Lift
// after it holds in memory only (enqueue). When ctx ends first,
// it ends the write in flight, drops (and counts) what is left, and waits
// a moment more for the writer, so that no write outlives the shutdown by
// long, nor runs on the store closed after it.
func (r *storeRevocations) close(ctx context.Context) {
	r.mu.Lock()
	r.closed = true
	close(r.writes)
	r.mu.Unlock()
	close(r.quit)
	select {
	case <-r.done:
		r.giveUp()
		return
	case <-ctx.Done():
	}
	r.giveUp()
	select {
	case <-r.done:
	case <-time.After(revocationGiveUpWait):
	}
}

var descSanctionsDropped = prometheus.NewDesc("tickroom_store_sanctions_dropped_total",
	"Kicks, bans, unbans and sign-outs not written to the store, which held in memory until the process ended: the writes backed up past their queue, the store refused one, or the server shut down first.", nil, nil)

// Describe and Collect export the writes dropped, for the admin
// server's /metrics.
func (r *storeRevocations) Describe(ch chan<- *prometheus.Desc) { ch <- descSanctionsDropped }

func (r *storeRevocations) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descSanctionsDropped, prometheus.CounterValue, float64(r.dropped.Load()))
}

// revocationGiveUpWait is how long a close whose time ran out waits for
// the writer once it has ended its write (the write queue's wait).
const revocationGiveUpWait = time.Second
