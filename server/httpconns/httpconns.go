// Package httpconns bounds the TCP connections an HTTP port holds: in all,
// and per client address, the way the WebSocket port bounds its own.
//
// net/http keeps a keep-alive connection open between requests until its
// IdleTimeout, and holds every connection it accepted, whatever the peer.
// Without a bound, one client that opens connections and leaves them idle
// (or reads a response very slowly) holds a descriptor, a goroutine and
// two 4 KiB buffers each, until the process runs out of descriptors and
// the WebSocket port can accept no one.
//
// A Limiter admits a new connection when it is under both caps. At a cap
// it first closes a connection under that cap that holds no request: the
// one idle between requests the longest, or else one opened over a second
// ago that has sent no request head. So keep-alive connections never keep
// a new client out; only when every connection under the cap is serving a
// request (or has just opened) is the new one refused, with a short HTTP
// response (429 for its address, 503 for the port) and a close.
//
// On a port where what matters needs a credential that anyone may
// connect without (the admin port), Config.ProtectedOnly makes a request
// marked with Protect the only hold on a connection: at the cap the new
// connection takes the place of the oldest one that serves no such
// request, so connections that hold requests without the credential
// keep no one out.
//
// TimeBound bounds each request on such a port in time: its body, and
// each write of its answer.
//
// It is written here, not taken from a library:
// golang.org/x/net/netutil.LimitListener caps the total only, by blocking
// Accept (a new client then waits in the kernel's backlog behind whoever
// holds the slots), and knows neither addresses nor idle connections.
package httpconns

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickroom/tickroom/server/clientip"
)

// Config sets a Limiter's caps. Zero caps nothing.
type Config struct {
	// Max is the connections the port holds at once.
	Max int
	// PerAddr is the connections one client address holds at once: an
	// IPv4 address, or an IPv6 /64; the /64s of one /48 share
	// clientip.V6SiteFactor times it.
	PerAddr int
	// Exempt names peers PerAddr does not apply to (trusted proxies,
	// which carry many clients); Max still does.
	Exempt func(netip.Addr) bool
	// ProtectedOnly lets only a request marked with Protect hold its
	// connection at a cap: with no connection idle between requests (or
	// open newGrace with no request head), the one serving its request
	// (or open with no request head) the longest whose request is not
	// marked is closed for the new one, and the new one is refused only
	// when every connection under the cap serves a marked request. A
	// connection idle after a marked request is closed only when none of
	// those is left.
	// Set the Limiter's ConnContext as the http.Server's ConnContext.
	ProtectedOnly bool
}

// Stats counts what a Limiter did.
type Stats struct {
	// Refused counts connections refused: at PerAddr (429) and at Max
	// (503).
	RefusedAddr, RefusedTotal atomic.Uint64
	// Evicted counts connections holding no request (under
	// ProtectedOnly, no marked one) closed to admit a new one.
	Evicted atomic.Uint64
}

// maxLingering bounds the refused connections whose unread request is
// drained before they close (so the client reads the refusal rather
// than a reset); past it a refused connection closes at once.
const maxLingering = 256

// lingerTime bounds that drain.
const lingerTime = 500 * time.Millisecond

// Limiter holds the counts. Set Listener's result as the server's
// listener and ConnState as its http.Server.ConnState.
type Limiter struct {
	cfg   Config
	Stats Stats

	mu     sync.Mutex
	all    map[*conn]struct{}
	byAddr map[netip.Prefix][]*conn // by clientip.Group key, and by site for IPv6
	linger chan struct{}
}

// New returns a Limiter with cfg's caps.
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg, all: make(map[*conn]struct{}), byAddr: make(map[netip.Prefix][]*conn), linger: make(chan struct{}, maxLingering)}
}

// Held returns the connections held now.
func (l *Limiter) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// conn is an admitted connection.
type conn struct {
	net.Conn
	l          *Limiter
	key, site  netip.Prefix // site is invalid for IPv4 and for exempt peers
	counted    bool         // key and site are counted (not exempt)
	busy       bool         // serving a request (or hijacked): not to be closed for room
	fresh      bool         // opened, no request read yet (http.StateNew)
	protected  bool         // its request is marked by Protect (ProtectedOnly)
	trusted    bool         // a request of it was marked by Protect: idle, closed last
	since      time.Time    // when it was opened, or last became idle or active
	released   bool         // no longer counted
	closeOnce  sync.Once
	closeError error
}

// Close closes the connection and gives back its place.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		c.l.releaseLocked(c)
		c.l.mu.Unlock()
		c.closeError = c.Conn.Close()
	})
	return c.closeError
}

// CloseWrite and ReadFrom pass through to the TCP connection, for
// net/http's lingering close and sendfile.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// Listener wraps ln: its Accept returns admitted connections only.
func (l *Limiter) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, l: l} }

type listener struct {
	net.Listener
	l *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		nc, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := ln.l.admit(nc); c != nil {
			return c, nil
		}
	}
}

// admit returns nc as an admitted conn, or refuses it and returns nil.
func (l *Limiter) admit(nc net.Conn) *conn {
	var ip netip.Addr
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr().Unmap()
	}
	now := time.Now()
	c := &conn{Conn: nc, l: l, since: now, fresh: true}
	c.counted = l.cfg.PerAddr > 0 && ip.IsValid() && (l.cfg.Exempt == nil || !l.cfg.Exempt(ip))
	if c.counted {
		c.key, c.site = clientip.Group(ip)
	}
	var victims []*conn
	status := 0
	l.mu.Lock()
	if c.counted {
		if v, ok := l.roomLocked(l.byAddr[c.key], l.cfg.PerAddr, now); !ok {
			status = http.StatusTooManyRequests
		} else if v != nil {
			victims = append(victims, v)
		}
		if status == 0 && c.site.IsValid() {
			if v, ok := l.roomLocked(l.byAddr[c.site], l.cfg.PerAddr*clientip.V6SiteFactor, now); !ok {
				status = http.StatusTooManyRequests
			} else if v != nil {
				victims = append(victims, v)
			}
		}
	}
	if status == 0 && l.cfg.Max > 0 && len(l.all) >= l.cfg.Max {
		var v *conn
		for o := range l.all {
			if l.closeBefore(o, v, now) {
				v = o
			}
		}
		if v == nil {
			status = http.StatusServiceUnavailable
		} else {
			l.releaseLocked(v)
			victims = append(victims, v)
		}
	}
	if status == 0 {
		l.all[c] = struct{}{}
		if c.counted {
			l.byAddr[c.key] = append(l.byAddr[c.key], c)
			if c.site.IsValid() {
				l.byAddr[c.site] = append(l.byAddr[c.site], c)
			}
		}
	}
	l.mu.Unlock()
	for _, v := range victims {
		l.Stats.Evicted.Add(1)
		v.Close()
	}
	if status != 0 {
		if status == http.StatusTooManyRequests {
			l.Stats.RefusedAddr.Add(1)
		} else {
			l.Stats.RefusedTotal.Add(1)
		}
		l.refuse(nc, status)
		return nil
	}
	return c
}

// newGrace is how long a connection that has not yet sent a whole request
// head is left alone: its request is likely on its way. (net/http marks a
// connection active only once the head is read.)
const newGrace = time.Second

// rank says whether o may be closed for room at now, and in which turn:
// 0 not at all; 1 idle between requests; 2 opened newGrace ago with no
// request head; 3, under ProtectedOnly, open with no request head or
// serving a request Protect did not mark; 4, under ProtectedOnly, idle
// between requests after one Protect marked (the operator's kept-alive
// connection, whose next request a client may not send again if it is
// cut).
func (l *Limiter) rank(o *conn, now time.Time) int {
	switch {
	case !o.busy && !o.fresh && l.cfg.ProtectedOnly && o.trusted:
		return 4
	case !o.busy && !o.fresh:
		return 1
	case o.fresh && now.Sub(o.since) >= newGrace:
		return 2
	case l.cfg.ProtectedOnly && !o.protected:
		return 3
	}
	return 0
}

// closeBefore reports whether o may be closed for room at now and is to
// be closed before v (nil: none yet): the lower rank first, then the one
// idle, open or serving its request the longest.
func (l *Limiter) closeBefore(o, v *conn, now time.Time) bool {
	r := l.rank(o, now)
	if r == 0 {
		return false
	}
	if v == nil {
		return true
	}
	if rv := l.rank(v, now); r != rv {
		return r < rv
	}
	return o.since.Before(v.since)
}

// roomLocked makes room under a cap of limit for the conns held: when
// they are at it, it releases the one to close first (closeBefore) and
// returns it to be closed; ok is false when none may be closed.
func (l *Limiter) roomLocked(held []*conn, limit int, now time.Time) (victim *conn, ok bool) {
	if len(held) < limit {
		return nil, true
	}
	for _, o := range held {
		if l.closeBefore(o, victim, now) {
			victim = o
		}
	}
	if victim == nil {
		return nil, false
	}
	l.releaseLocked(victim)
	return victim, true
}

// releaseLocked stops counting c.
func (l *Limiter) releaseLocked(c *conn) {
	if c.released {
		return
	}
	c.released = true
	delete(l.all, c)
	if c.counted {
		l.dropLocked(c.key, c)
		if c.site.IsValid() {
			l.dropLocked(c.site, c)
		}
	}
}

func (l *Limiter) dropLocked(p netip.Prefix, c *conn) {
	s := l.byAddr[p]
	for i, o := range s {
		if o == c {
			s[i] = s[len(s)-1]
			s[len(s)-1] = nil
			s = s[:len(s)-1]
			break
		}
	}
	if len(s) == 0 {
		delete(l.byAddr, p)
	} else {
		l.byAddr[p] = s
	}
}

// ConnState follows each connection between requests; set it as the
// http.Server's ConnState. A connection is open to be closed for room
// while idle between requests, or once open newGrace with no request head
// read (the server's ReadHeaderTimeout ends it soon after anyway); under
// ProtectedOnly also while it serves a request Protect did not mark.
func (l *Limiter) ConnState(nc net.Conn, st http.ConnState) {
	c := unwrap(nc)
	if c == nil {
		return
	}
	l.mu.Lock()
	switch st {
	case http.StateActive:
		c.busy, c.fresh, c.protected = true, false, false
		c.since = time.Now()
	case http.StateHijacked:
		c.busy, c.fresh = true, false
	case http.StateIdle:
		c.busy, c.fresh, c.protected = false, false, false
		c.since = time.Now()
	}
	l.mu.Unlock()
}

// connKey is the context key of an admitted conn (ConnContext).
type connKey struct{}

// ConnContext adds nc's admitted connection to ctx, for Protect; set it
// as the http.Server's ConnContext.
func (l *Limiter) ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c := unwrap(nc); c != nil && c.l == l {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

// Protect marks the request whose context is ctx (on a server with the
// Limiter's ConnContext) as one that holds its connection at a cap under
// ProtectedOnly, until it ends. Call it once the request shows the
// credential. It does nothing for a request of another server.
func Protect(ctx context.Context) {
	c, _ := ctx.Value(connKey{}).(*conn)
	if c == nil {
		return
	}
	c.l.mu.Lock()
	if c.busy {
		c.protected, c.trusted = true, true
	}
	c.l.mu.Unlock()
}

// unwrap finds the admitted conn under wrappers that name their inner
// connection with Raw (the PROXY protocol listener's).
func unwrap(nc net.Conn) *conn {
	for range 8 {
		switch v := nc.(type) {
		case *conn:
			return v
		case interface{ Raw() net.Conn }:
			nc = v.Raw()
		default:
			return nil
		}
	}
	return nil
}

// refuse answers nc with status and closes it. While few refusals
// linger (maxLingering), it first reads (and drops) what the client sent
// for up to lingerTime, so that closing with unread bytes does not reset
// the connection before the client reads the answer.
func (l *Limiter) refuse(nc net.Conn, status int) {
	msg := "too many connections\n"
	if status == http.StatusTooManyRequests {
		msg = "too many connections from this address\n"
	}
	_ = nc.SetWriteDeadline(time.Now().Add(lingerTime))
	_, _ = io.WriteString(nc, "HTTP/1.1 "+strconv.Itoa(status)+" "+http.StatusText(status)+
		"\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: "+
		strconv.Itoa(len(msg))+"\r\n\r\n"+msg)
	select {
	case l.linger <- struct{}{}:
	default:
		nc.Close()
		return
	}
	go func() {
		defer func() { <-l.linger }()
		if tc, ok := nc.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		_ = nc.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
		nc.Close()
	}()
}

var (
	heldDesc = prometheus.NewDesc("tickroom_http_connections",
		"TCP connections the public HTTP port holds.", nil, nil)
	refusedDesc = prometheus.NewDesc("tickroom_http_connections_refused_total",
		"Connections to the public HTTP port refused at a cap with none idle under it: reason address (429) or total (503).", []string{"reason"}, nil)
	evictedDesc = prometheus.NewDesc("tickroom_http_connections_closed_for_room_total",
		"Idle connections to the public HTTP port closed to admit a new one at a cap.", nil, nil)
)

var _ prometheus.Collector = (*Limiter)(nil)

// Describe implements prometheus.Collector.
func (l *Limiter) Describe(ch chan<- *prometheus.Desc) {
	ch <- heldDesc
	ch <- refusedDesc
	ch <- evictedDesc
}

// Collect implements prometheus.Collector.
func (l *Limiter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(l.Held()))
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(l.Stats.RefusedAddr.Load()), "address")
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(l.Stats.RefusedTotal.Load()), "total")
	ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(l.Stats.Evicted.Load()))
}
