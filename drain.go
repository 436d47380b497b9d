package tickroom

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// DefaultAdminDrainTimeout is the deadline of a drain started from the
// admin API without one, on a server whose Options.DrainTimeout is zero.
const DefaultAdminDrainTimeout = 5 * time.Minute

// drainPoll is how often a drain checks whether matches still run.
const drainPoll = 100 * time.Millisecond

// ErrDraining is returned by RequestDrain once a drain was asked for.
var ErrDraining = errors.New("tickroom: already draining")

// Drain stops the server from starting matches and waits until none runs
// here, or until ctx ends: CreateRoom and QuickMatch are refused with
// ERROR_CODE_DRAINING, /readyz answers 503 "draining" (a load balancer
// sends new players elsewhere), and in a cluster the node's registration
// says it drains, so other nodes give it no rooms. Rooms still waiting for
// players are closed, their members told to match again. In a cluster,
// running rooms whose game implements game.Saver move to other nodes,
// their players redirected there (cluster.Migrator; docs/cluster.md,
// "Drain and migration"); the other running matches play on to their end.
// Drain returns nil when no match runs any more (a match on a tick worker
// stuck in a game's call, game.Room.Stuck, never ends and is not waited
// for) and ctx's error otherwise; it does not stop the server (Shutdown does, and
// closes the matches still running). Safe from any goroutine.
func (s *Server) Drain(ctx context.Context) error {
	s.hub.Drain()
	if s.node != nil {
		s.node.SetDraining(true)
	}
	s.hub.CloseWaiting()
	if s.migrator != nil {
		// Rooms whose game saves itself move to other nodes, their
		// players with them; the others play on here.
		s.migrator.MigrateAll(ctx)
	}
	return s.waitPlaying(ctx)
}

// waitPlaying waits until no match runs here, or ctx ends.
func (s *Server) waitPlaying(ctx context.Context) error {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for s.hub.Playing() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Draining reports whether the server drains. Safe from any goroutine.
func (s *Server) Draining() bool { return s.hub.Draining() }

// RequestDrain asks Run to drain (Drain) for at most timeout and then shut
// down, as if its context had ended, without waiting. A zero timeout
// means Options.DrainTimeout, or DefaultAdminDrainTimeout when that is
// zero too. It fails with ErrDraining when a drain was already asked for.
// The admin API's POST /v1/admin/drain calls it.
func (s *Server) RequestDrain(timeout time.Duration) error {
	if timeout == 0 {
		timeout = s.opts.DrainTimeout
	}
	if timeout == 0 {
		timeout = DefaultAdminDrainTimeout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drainAsked {
		return ErrDraining
	}
	s.drainAsked, s.drainTimeout = true, timeout
	close(s.drainReq)
	// Refuse new matches at once, before Run picks the request up.
	s.hub.Drain()
	return nil
}

// CutDrain ends Run's drain at once, the one under way or the next: the
// matches still running are closed as at the drain's deadline, and the
// shutdown follows as usual (the store's queue is written). cmd/tickroom
// calls it at a second SIGTERM or interrupt; a drain asked for with
// RequestDrain is also cut by the end of Run's context. Safe from any
// goroutine.
func (s *Server) CutDrain() { s.cutOnce.Do(func() { close(s.drainCut) }) }

// waitStop blocks until ctx ends or a drain is requested, and returns how
// long to drain before shutting down (zero: no drain).
func (s *Server) waitStop(ctx context.Context) time.Duration {
	select {
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.drainAsked {
			return s.drainTimeout
		}
		return s.opts.DrainTimeout
	case <-s.drainReq:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.drainTimeout
	case <-s.ws.Failed():
		return 0 // no connection is left to drain
	}
}

// drainBeforeShutdown drains for at most d; a match still running at the
// deadline is closed by the shutdown that follows.
func (s *Server) drainBeforeShutdown(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	s.log.Info("draining before shutdown", "deadline", d, "playing", s.hub.Playing())
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	// A drain asked for without ctx ending (RequestDrain) is cut short by
	// ctx's end (a signal); any drain by CutDrain (a second signal), or by
	// the WebSocket transport stopping on its own: no player can reach
	// the node any more, so there is nothing left to wait for.
	var stop <-chan struct{}
	if ctx.Err() == nil {
		stop = ctx.Done()
	}
	var cut atomic.Bool
	go func() {
		select {
		case <-s.drainCut:
		case <-stop:
		case <-s.ws.Failed():
		case <-dctx.Done():
			return
		}
		s.log.Warn("drain cut short")
		cut.Store(true)
		cancel()
	}()
	if err := s.Drain(dctx); err != nil {
		reason := "drain deadline passed"
		if cut.Load() {
			reason = "server shutting down: drain cut short"
		}
		s.log.Warn("drain over before its matches: closing the matches still running", "playing", s.hub.Playing(), "reason", reason)
		// Close them while their players are still connected, so that
		// each hears its match ended; a room takes a tick to close.
		s.hub.CloseRunning(reason)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = s.waitPlaying(cctx)
		return
	}
	s.log.Info("drained: no match runs here")
}
