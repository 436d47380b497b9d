package tickroom

import (
	"cmp"
	"fmt"

	"github.com/tickroom/tickroom/internal/filelimit"
	"github.com/tickroom/tickroom/server"
)

// storeFiles is what the store may open beyond the files it holds when
// New counts them: the PostgreSQL pool's 8 connections, or SQLite's
// writer and four readers with their write-ahead logs.
const storeFiles = 16

// redisSubscriptions is what the cluster holds beyond its Redis pool:
// the bus's subscription and a connection being replaced.
const redisSubscriptions = 4

// fitConns sizes MaxConns and MaxHTTPConns to the process's open-file
// limit. gnet stops the whole WebSocket transport when accept(2) fails
// with EMFILE, closing every player's connection, so the two caps, the
// sockets one burst of connects leaves accepted before they are counted
// (up to the listen backlog, net.core.somaxconn) and the files the
// process holds or will hold besides (store, Redis, listeners) must fit
// the limit: then a full node refuses the excess with 503 instead. A cap
// left at zero is lowered to fit (the two in the ratio of their
// defaults, neither below filelimit.Floor) with one warning; a cap set
// that does not fit fails New with ErrOptions, unless IgnoreFileLimit.
// It runs once the store and the Redis client exist, before the
// transport is built.
func (s *Server) fitConns(set Options) error {
	h := filelimit.Read()
	if h.Limit == 0 {
		return nil // no such limit here
	}
	reserve := 0
	if s.db != nil {
		reserve += storeFiles
	}
	if s.node != nil {
		reserve += s.node.Client().Options().PoolSize + redisSubscriptions
	}
	room := h.Room(reserve)
	def := filelimit.Caps{WS: server.DefaultMaxConns, HTTP: defaultMaxHTTPConns}
	want := filelimit.Caps{WS: set.MaxConns, HTTP: set.MaxHTTPConns}
	asked := filelimit.Caps{WS: cmp.Or(want.WS, def.WS), HTTP: cmp.Or(want.HTTP, def.HTTP)}
	if asked.Sum() <= room {
		return nil
	}
	held := h.Limit - h.Backlog - room // open, kept for pools, headroom
	// limitFor is the open-file limit c would need.
	limitFor := func(c filelimit.Caps) int { return h.Limit - room + c.Sum() }
	raise := "raise it (systemd LimitNOFILE=, docker --ulimit nofile=, ulimit -n)"
	if set.IgnoreFileLimit {
		s.log.Warn("tickroom: the connection caps do not fit the open-file limit and IgnoreFileLimit is set; a client that opens more sockets than it allows stops the WebSocket transport and every connection is closed: "+raise,
			"limit", h.Limit, "max_conns", asked.WS, "max_http_conns", asked.HTTP, "backlog", h.Backlog, "held", held, "want_limit", limitFor(asked))
		return nil
	}
	got, fits := filelimit.Fit(want, def, room)
	switch {
	case !fits && (want.WS != 0 || want.HTTP != 0):
		return fmt.Errorf("%w: MaxConns (-max-conns) %d%s and MaxHTTPConns (-max-http-conns) %d%s need an open-file limit of %d "+
			"with the listen backlog (net.core.somaxconn, %d) and %d files open or kept for the store, Redis and listeners; the limit is %d: "+
			"%s, lower them or leave them at 0 to be fitted, or set IgnoreFileLimit (-ignore-file-limit)",
			ErrOptions, got.WS, leastIf(want.WS), got.HTTP, leastIf(want.HTTP), limitFor(got), h.Backlog, held, h.Limit, raise)
	case !fits:
		s.log.Warn("tickroom: the open-file limit leaves no room for the connection caps, lowered to their least; a client that opens more sockets than it allows stops the WebSocket transport and every connection is closed: "+raise,
			"limit", h.Limit, "max_conns", got.WS, "max_http_conns", got.HTTP, "backlog", h.Backlog, "held", held, "want_limit", limitFor(got))
	default:
		s.log.Warn("tickroom: connection caps lowered to fit the open-file limit; "+raise+" for the defaults",
			"limit", h.Limit, "max_conns", got.WS, "max_http_conns", got.HTTP, "backlog", h.Backlog, "held", held, "want_limit", limitFor(asked))
	}
	s.opts.MaxConns, s.opts.MaxHTTPConns = got.WS, got.HTTP
	return nil
}

// leastIf says a cap left at zero was lowered as far as it goes.
func leastIf(set int) string {
	if set == 0 {
		return " (left at 0, at its least)"
	}
	return ""
}
