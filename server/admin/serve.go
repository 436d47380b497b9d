package admin

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tickroom/tickroom/server/httpconns"
)

// Bounds of the admin port (Handler.Server) where Config leaves them at
// zero. The port is the operator's, usually on loopback, but anyone who
// reaches it may open connections before any token is asked: without
// these, a client that opened connections and sent nothing after a
// request head, or a body a byte at a time, or read no answer, held each
// for good, and there was no cap on how many.
const (
	// DefaultMaxConns caps the admin port's TCP connections. An
	// operator's browsers, a metrics scraper and a profile take a few;
	// it fits in the files filelimit.Headroom keeps for the admin port.
	DefaultMaxConns = 32
	// DefaultHeaderTimeout bounds the read of a request's head.
	DefaultHeaderTimeout = 5 * time.Second
	// DefaultBodyTimeout bounds the read of a request's body.
	DefaultBodyTimeout = httpconns.BodyTimeout
	// DefaultIdleTimeout closes a keep-alive connection idle this long.
	DefaultIdleTimeout = 60 * time.Second
	// maxHeader caps a request's head (its line and headers), as on the
	// public HTTP port; net/http allows 4 KiB more, then answers 431.
	maxHeader = 8 << 10
)

// Server returns an http.Server for the admin port, serving h, and ln
// with the port's connection cap: serve it with srv.Serve(capped).
//
// The connections are capped at Config.MaxConns: at the cap the one idle
// the longest between requests (or else one opened over a second ago
// with no request head) is closed for the new one; else the one serving
// its request (or open with no request head) the longest whose request
// did not pass the token check with the admin token, so a client without
// the token holds no connection against anyone else's. Only when every
// one is serving a request with the token is the new one answered 503
// and closed. A request's head must come within Config.HeaderTimeout
// (431 past 8 KiB), its body within Config.BodyTimeout (408 from an
// endpoint that reads one), each write of its answer must be taken
// within httpconns.WriteTimeout, and a keep-alive connection idle for
// Config.IdleTimeout is closed.
func (h *Handler) Server(ln net.Listener) (srv *http.Server, capped net.Listener) {
	conns := httpconns.New(httpconns.Config{Max: h.bounds.maxConns, ProtectedOnly: true})
	srv = &http.Server{
		Handler:           httpconns.TimeBoundBody(h, h.bounds.body),
		ReadHeaderTimeout: h.bounds.header,
		MaxHeaderBytes:    maxHeader,
		IdleTimeout:       h.bounds.idle,
		ConnState:         conns.ConnState,
		ConnContext:       conns.ConnContext,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	return srv, conns.Listener(ln)
}

// bounds are Handler.Server's, from Config.
type bounds struct {
	maxConns           int
	header, body, idle time.Duration
}
