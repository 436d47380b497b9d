package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/clientip"
)

// Server is a WebSocket server on gnet event loops. Create it with New,
// register handlers with Handle, then Start; Shutdown stops it.
type Server struct {
	cfg      Config
	handlers map[string]Handler
	ctx      context.Context // passed to gnet tasks; never canceled

	mu       sync.Mutex
	started  bool
	running  bool // Start succeeded
	closed   bool
	loops    map[gnet.EventLoop]*loop
	loopsCOW atomic.Pointer[[]*loop]
	eng      gnet.Engine
	addr     net.Addr
	booted   chan struct{}
	runDone  chan error
	bootErr  error
	shutting atomic.Bool
	stopping atomic.Bool   // the engine is being stopped (stopEngine)
	failed   chan struct{} // closed when the engine stopped on its own
	failErr  error         // why; set before failed is closed

	nextID   atomic.Uint64
	open     atomic.Int64 // open TCP connections, upgraded or not
	opened   atomic.Uint64
	upgraded atomic.Uint64
	refused  codeCounts  // upgrades refused, by HTTP status
	closes   closeCounts // upgraded connections closed, by reason and code

	// held is the outbound bytes of every connection: queued plus held by
	// gnet. lingerHeld is the part held by lingering connections (an
	// HTTP refusal or a close for a fault out), which their close
	// deadline frees.
	held, lingerHeld atomic.Int64

	// The per-address counts are kept by clientip.Group: an IPv4 address,
	// or an IPv6 /64 and its /48 site, which shares clientip.V6SiteFactor
	// times an address's limit.
	ipMu    sync.Mutex
	hsIPs   clientip.Counts             // unfinished handshakes per client (key and site)
	ips     map[netip.Prefix]*addrState // upgraded connections and input budget per client address (key)
	ipSites clientip.Counts             // upgraded connections per IPv6 /48

	// inBytes and inFrames are the input budgets of all connections
	// together (Config.InputBytes, Config.InputFrames).
	inBytes, inFrames *rate.Limiter
}

// overBudget reports whether the process holds more outbound bytes than
// Config.MaxOutboundBytes, not counting lingering connections. Safe
// from any goroutine.
func (s *Server) overBudget() bool {
	return s.held.Load()-s.lingerHeld.Load() > int64(s.cfg.MaxOutboundBytes)
}

// OutboundBytes returns the outbound bytes the server holds for all its
// connections: queued frames plus what gnet holds for the kernel. Safe
// from any goroutine.
func (s *Server) OutboundBytes() int64 { return s.held.Load() }

// MaxMessageSize returns the largest message a client may send: the one
// size the layers above tell their clients. Safe from any goroutine.
func (s *Server) MaxMessageSize() int { return s.cfg.MaxMessageSize }

// MessageRate returns the messages per second a connection may send
// (Config.MessageRate, defaults applied). Safe from any goroutine.
func (s *Server) MessageRate() int { return s.cfg.MessageRate }

// MaxConnsPerIP returns the upgraded connections one client address may
// hold (Config.MaxConnsPerIP, defaults applied). Safe from any goroutine.
func (s *Server) MaxConnsPerIP() int { return s.cfg.MaxConnsPerIP }

// New validates cfg and returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Server{
		cfg:      cfg,
		handlers: make(map[string]Handler),
		ctx:      context.Background(),
		loops:    make(map[gnet.EventLoop]*loop),
		hsIPs:    make(clientip.Counts),
		ips:      make(map[netip.Prefix]*addrState),
		ipSites:  make(clientip.Counts),
		inBytes:  newBudget(cfg.InputBytes),
		inFrames: newBudget(cfg.InputFrames),
		booted:   make(chan struct{}),
		runDone:  make(chan error, 1),
		failed:   make(chan struct{}),
	}, nil
}

// Handle serves WebSocket upgrades for the exact path with h. It must be
// called before Start; it panics afterwards, like registering a route on a
// running mux would race.
func (s *Server) Handle(path string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic(ErrStarted)
	}
	s.handlers[path] = h
}

// Start listens on Config.Addr and returns once the listener accepts, so
// Addr is valid. It returns ErrStarted on a second call and ErrServerClosed
// after Shutdown.
func (s *Server) Start() error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrServerClosed
	case s.started:
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.mu.Unlock()

	h := &engine{s: s}
	go func() {
		err := gnet.Run(h, "tcp://"+s.cfg.Addr,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.cfg.Loops),
			gnet.WithTicker(true),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			// Set on the listener, inherited by every accepted socket.
			gnet.WithSocketSendBuffer(s.cfg.SendBuffer),
			gnet.WithLogger(gnetLogger{s.cfg.Logger}),
		)
		s.engineExited(err)
		s.runDone <- err
		close(s.runDone)
	}()
	select {
	case <-s.booted:
		if s.bootErr != nil {
			s.stopEngine(context.Background())
			return fmt.Errorf("server: listen %s: %w", s.cfg.Addr, s.bootErr)
		}
		s.mu.Lock()
		s.running = true
		s.mu.Unlock()
		return nil
	case err := <-s.runDone:
		if err == nil {
			err = errors.New("server: engine stopped before boot")
		}
		return fmt.Errorf("server: listen %s: %w", s.cfg.Addr, err)
	}
}

// engineExited records an engine that stopped on its own after it booted,
// not by stopEngine: gnet's acceptor stops the whole engine, every
// connection closed and the listener with it, when accept(2) fails with
// anything but a retryable error, as it does with EMFILE once the process
// holds its open-file limit. Nothing is served after that, so it is an
// error the process must not outlive unnoticed (Failed, Err).
func (s *Server) engineExited(err error) {
	select {
	case <-s.booted:
	default:
		return // Start reports it
	}
	if s.bootErr != nil || s.stopping.Load() {
		return
	}
	if err == nil {
		err = errors.New("gnet stopped its engine (its acceptor failed; gnet logged why)")
	}
	s.failErr = fmt.Errorf("server: WebSocket transport stopped; no connection is accepted or served: %w", err)
	s.cfg.Logger.Error("WebSocket transport stopped: no connection is accepted or served until the process restarts", "err", err)
	close(s.failed)
}

// Failed returns a channel closed when the transport stopped on its own
// after Start (gnet's acceptor failed: accept(2) with EMFILE, the process
// at its open-file limit, stops the engine and closes every connection);
// nothing is accepted or served after that. Err says why.
func (s *Server) Failed() <-chan struct{} { return s.failed }

// Err returns why the transport stopped on its own, or nil while it has
// not (Failed).
func (s *Server) Err() error {
	select {
	case <-s.failed:
		return s.failErr
	default:
		return nil
	}
}

// boot runs in gnet's OnBoot: it records the engine and reads the bound
// address from a duplicate of the listening socket.
func (s *Server) boot(eng gnet.Engine) {
	s.mu.Lock()
	s.eng = eng
	s.mu.Unlock()
	fd, err := eng.Dup()
	if err == nil {
		var sa syscall.Sockaddr
		sa, err = syscall.Getsockname(fd)
		_ = syscall.Close(fd)
		switch sa := sa.(type) {
		case *syscall.SockaddrInet4:
			s.addr = &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
		case *syscall.SockaddrInet6:
			s.addr = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		}
	}
	if s.addr == nil && err == nil {
		err = errors.New("server: cannot read the listening address")
	}
	s.bootErr = err
	close(s.booted)
}

// Addr returns the address the server listens on; valid once Start has
// returned nil. Safe from any goroutine.
func (s *Server) Addr() net.Addr { return s.addr }

// Conns returns the number of open TCP connections, upgraded or not. Safe
// from any goroutine.
func (s *Server) Conns() int { return int(s.open.Load()) }

// Shutdown refuses new connections, sends close 1001 to every connection
// after what is already queued, waits until the peers have closed (or ctx
// is done), then stops the event loops and joins their goroutines. It
// returns ErrServerClosed once stopped, or ctx's error if ctx ended first
// (the server is then stopped without waiting further).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	running := s.running
	s.mu.Unlock()
	if !running {
		return ErrServerClosed
	}
	s.shutting.Store(true)
	for _, l := range s.loopList() {
		_ = l.el.Execute(s.ctx, gnet.RunnableFunc(func(context.Context) error {
			for _, c := range l.conns {
				switch c.state {
				case stateOpen:
					c.closeAfterQueue(ReasonShutdown, ws.StatusGoingAway, "server shutting down")
				case stateHandshake:
					c.refuseHTTP(503, "server shutting down", 0)
				}
			}
			return nil
		}))
	}
	var ctxErr error
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
drain:
	for s.open.Load() > 0 {
		select {
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break drain
		case <-tick.C:
		}
	}
	stopCtx := ctx
	if ctxErr != nil {
		// Stop anyway; the loops close what is left.
		var cancel context.CancelFunc
		stopCtx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	if err := s.stopEngine(stopCtx); err != nil && ctxErr == nil {
		ctxErr = err
	}
	if ctxErr != nil {
		return ctxErr
	}
	return ErrServerClosed
}

// stopEngine stops gnet and waits for gnet.Run to return, which happens
// after every event loop and the ticker have exited. gnet's Stop asks the
// engine to stop and then looks whether it has every 500 ms, so it returns
// up to half a second after Run: it runs beside the wait for Run, and is
// called off once Run has returned.
func (s *Server) stopEngine(ctx context.Context) error {
	s.mu.Lock()
	eng := s.eng
	s.mu.Unlock()
	s.stopping.Store(true)
	stopCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- eng.Stop(stopCtx) }()
	runErr := <-s.runDone
	cancel()
	err := <-stopped
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		err = nil // called off above: the engine has stopped
	}
	if runErr != nil && err == nil {
		err = runErr
	}
	for _, l := range s.loopList() {
		l.stopCarrying()
	}
	return err
}

// loopFor returns tickroom's state for el, creating it on first use.
func (s *Server) loopFor(el gnet.EventLoop) *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.loops[el]; ok {
		return l
	}
	l := newLoop(s, el)
	s.loops[el] = l
	list := make([]*loop, 0, len(s.loops))
	for _, x := range s.loops {
		list = append(list, x)
	}
	s.loopsCOW.Store(&list)
	return l
}

// loopList returns every loop that has had a connection. Safe from any
// goroutine.
func (s *Server) loopList() []*loop {
	if p := s.loopsCOW.Load(); p != nil {
		return *p
	}
	return nil
}

// handshakeStart counts c's handshake against its TCP peer, reporting
// false when the peer is at its limit.
func (s *Server) handshakeStart(c *Conn) bool {
	return s.countStart(s.hsIPs, c.ip, s.cfg.MaxHandshakesPerIP, &c.hsCounted)
}

// handshakeDone ends c's handshake count, if it has one.
func (s *Server) handshakeDone(c *Conn) { s.countDone(s.hsIPs, c.ip, &c.hsCounted) }

// connStart counts c against its client address (Conn.ClientIP) for as
// long as it is open and gives it the address's input budget, reporting
// false when the address is at Config.MaxConnsPerIP.
func (s *Server) connStart(c *Conn) bool {
	key, site := clientip.Group(c.ip)
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	a := s.ips[key]
	switch {
	case a != nil && int(a.conns.Load()) >= s.cfg.MaxConnsPerIP:
		return false
	case site.IsValid() && s.ipSites[site] >= s.cfg.MaxConnsPerIP*clientip.V6SiteFactor:
		return false
	case a == nil:
		a = &addrState{bytes: newBudget(s.cfg.InputBytesPerIP), frames: newBudget(s.cfg.InputFramesPerIP)}
		s.ips[key] = a
	}
	a.conns.Add(1)
	if site.IsValid() {
		s.ipSites[site]++
	}
	c.addr, c.ipCounted = a, true
	return true
}

// connDone ends c's count against its client address, if it has one.
func (s *Server) connDone(c *Conn) {
	if !c.ipCounted {
		return
	}
	c.ipCounted = false
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	key, site := clientip.Group(c.ip)
	if c.addr.conns.Add(-1) == 0 && s.ips[key] == c.addr {
		delete(s.ips, key)
	}
	if site.IsValid() {
		s.ipSites.Drop(site)
	}
}

// countStart counts ip in m under ipMu and sets *counted, reporting
// false, with nothing counted, when ip's key is at limit or its /48 at
// V6SiteFactor times it.
func (s *Server) countStart(m clientip.Counts, ip netip.Addr, limit int, counted *bool) bool {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	*counted = m.Take(ip, limit, limit*clientip.V6SiteFactor)
	return *counted
}

// countDone takes back what countStart added, if *counted says it did.
func (s *Server) countDone(m clientip.Counts, ip netip.Addr, counted *bool) {
	if !*counted {
		return
	}
	*counted = false
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	m.Give(ip)
}
