// Package admin is tickroom's operator HTTP server, on its own port apart
// from the WebSocket port: health and readiness probes, Prometheus metrics,
// pprof, the admin API (rooms, players, kick, close, notify) and a live
// monitor page.
//
// /healthz, /readyz, /metrics and the monitor page's static files are open;
// /v1/admin/... and /debug/pprof/ need the admin token as a bearer token
// (Authorization: Bearer <token>), compared in constant time. A missing or
// wrong token is answered 401 with a JSON error, and counted against the
// client address (wrongTokenBurst at once, then wrongTokenRate: an admin
// port reachable from elsewhere, as one scraped from another host is, let
// anyone try tokens at the request rate, and an operator's own token may
// be short). While an address's count is spent every request of it that
// needs the token is answered 429 with Retry-After, the right token's
// too, so that a guesser never learns it found it; its clientip.Limiter
// table keeps the addresses seen last.
//
// The port is bounded as the public HTTP port is (Handler.Server), since
// anyone who reaches it may open connections before a token is asked: at
// most Config.MaxConns connections (32), the idle ones closed first for
// a new one, then the one open or serving its request the longest whose
// request carries no admin token, and the excess answered 503 only when
// every one serves a request with the token. So a client without the
// token cannot shut the port, as 32 connections holding requests that
// need none (a /healthz whose body never comes, a monitor file read
// slowly) did before; it can cut such a request (a probe, a scrape), or
// a connection that has not sent its head yet, only by opening as many
// connections (or sending requests) as there are connections without
// the token, up to 32, while it is served. A request head must come
// within Config.HeaderTimeout (5 s) and 8 KiB, a body within
// Config.BodyTimeout (10 s, else 408) and 64 KiB (else 413), each write
// of an answer be taken within 30 s, and a keep-alive connection is
// closed after Config.IdleTimeout (60 s) idle. docs/limits.md lists them.
//
// /metrics is served by the Prometheus client library; metrics.go says why
// tickroom's own counters stay atomics read by a custom collector.
package admin

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/httpconns"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
)

// ErrConfig wraps a Config that New refuses.
var ErrConfig = errors.New("admin: invalid config")

// Config configures the admin handler.
type Config struct {
	// Hub is the tickroom.v1 hub to report on and act through. Required.
	Hub *hub.Hub
	// Server is the WebSocket transport to report on. Required.
	Server *server.Server
	// Token is the admin token. Zero value means no request can present
	// it: the admin API and pprof answer 401 to everyone.
	Token string
	// Logger receives operator actions at Info. Zero value means no
	// logging.
	Logger *slog.Logger
	// Ready are readiness checks beside the hub's own: /readyz answers 503
	// with the first error one returns (a lost database). They are called
	// on every probe, so they must be quick. Zero value means none.
	Ready []func() error
	// Collectors are added to /metrics (a store write queue). Zero value
	// means none.
	Collectors []prometheus.Collector
	// Results answers the leaderboard and history endpoints. Zero value
	// means they answer 404.
	Results store.Results
	// Games gives each game's Schema, to decode a room's state. Zero value
	// means none: entities and globals show as base64 bytes.
	Games *game.Registry
	// Drain starts the server's drain (POST /v1/admin/drain) with the
	// given deadline, zero for the server's own, and returns at once.
	// Zero value means the endpoint answers 404.
	Drain func(timeout time.Duration) error
	// Cluster joins the admin API to the other nodes: the lists and the
	// overview cover every node, and a request about a room of another
	// node is answered by that node. Zero value means a single node.
	Cluster Cluster
	// NodeID names this node in its listings. Zero value means "local".
	NodeID string
	// URLs returns the public WebSocket and HTTP URLs a single node lists
	// for itself (a cluster's come from its registry). Zero value means
	// none.
	URLs func() (ws, http string)

	// MaxConns caps the TCP connections the admin port holds at once
	// (Server). Zero value means DefaultMaxConns.
	MaxConns int
	// HeaderTimeout bounds the read of a request's head, from the
	// connection's opening or the end of its idle wait (Server). Zero
	// value means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// BodyTimeout bounds the read of a request's body (Server). Zero
	// value means DefaultBodyTimeout.
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that has sent no request
	// for this long (Server). Zero value means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// Handler serves the operator endpoints. It is an http.Handler; serve it
// with an http.Server on the admin address.
type Handler struct {
	hub     *hub.Hub
	srv     *server.Server
	log     *slog.Logger
	token   [sha256.Size]byte
	noToken bool
	wrong   *clientip.Limiter
	now     func() time.Time
	mux     *http.ServeMux
	started time.Time
	ready   []func() error
	extra   []prometheus.Collector
	results store.Results
	games   *game.Registry
	drain   func(time.Duration) error
	cluster Cluster
	nodeID  string
	urls    func() (string, string)
	bounds  bounds
}

var _ http.Handler = (*Handler)(nil)

// New returns the admin handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Hub == nil || cfg.Server == nil {
		return nil, fmt.Errorf("%w: Hub and Server are required", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "local"
	}
	if cfg.MaxConns < 0 || cfg.HeaderTimeout < 0 || cfg.BodyTimeout < 0 || cfg.IdleTimeout < 0 {
		return nil, fmt.Errorf("%w: MaxConns, HeaderTimeout, BodyTimeout and IdleTimeout may not be negative", ErrConfig)
	}
	h := &Handler{
		hub: cfg.Hub, srv: cfg.Server, log: cfg.Logger,
		token: sha256.Sum256([]byte(cfg.Token)), noToken: cfg.Token == "",
		wrong: clientip.NewLimiter(wrongTokenRate, wrongTokenBurst, wrongTokenAddrs), now: time.Now,
		mux: http.NewServeMux(), started: time.Now(),
		ready: cfg.Ready, extra: cfg.Collectors, results: cfg.Results, games: cfg.Games, drain: cfg.Drain,
		cluster: cfg.Cluster, nodeID: cfg.NodeID, urls: cfg.URLs,
		bounds: bounds{
			maxConns: cmp.Or(cfg.MaxConns, DefaultMaxConns), header: cmp.Or(cfg.HeaderTimeout, DefaultHeaderTimeout),
			body: cmp.Or(cfg.BodyTimeout, DefaultBodyTimeout), idle: cmp.Or(cfg.IdleTimeout, DefaultIdleTimeout),
		},
	}
	m := h.mux
	m.HandleFunc("GET /healthz", h.healthz)
	m.HandleFunc("GET /readyz", h.readyz)
	m.Handle("GET /metrics", h.metricsHandler())
	m.Handle("GET /monitor/", monitorFiles())
	m.Handle("GET /{$}", http.RedirectHandler("/monitor/", http.StatusFound))
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

	m.Handle("GET /v1/admin/nodes", h.auth(h.nodes))
	m.Handle("GET /v1/admin/rooms", h.auth(h.listRooms))
	m.Handle("GET /v1/admin/rooms/{id}", h.auth(h.getRoom))
	m.Handle("GET /v1/admin/rooms/{id}/state", h.auth(h.roomState))
	m.Handle("POST /v1/admin/rooms/{id}/close", h.auth(h.closeRoom))
	m.Handle("GET /v1/admin/players", h.auth(h.listPlayers))
	m.Handle("GET /v1/admin/players/{id}", h.auth(h.getPlayer))
	m.Handle("GET /v1/admin/players/{id}/history", h.auth(h.withResults(h.history)))
	m.Handle("GET /v1/admin/games/{game}/leaderboard", h.auth(h.withResults(h.leaderboard)))
	m.Handle("POST /v1/admin/players/{id}/kick", h.auth(h.kick))
	m.Handle("POST /v1/admin/players/{id}/ban", h.auth(h.ban))
	m.Handle("POST /v1/admin/players/{id}/unban", h.auth(h.unban))
	m.Handle("POST /v1/admin/notify", h.auth(h.notify))
	m.Handle("GET /v1/admin/overview", h.auth(h.overview))
	m.Handle("POST /v1/admin/drain", h.auth(h.startDrain))
	m.Handle("POST /v1/admin/nodes/{id}/drain", h.auth(h.drainNode))
	m.Handle("/v1/admin/", h.auth(h.noEndpoint))

	m.Handle("/debug/pprof/", h.auth(pprof.Index))
	m.Handle("/debug/pprof/cmdline", h.auth(cmdline))
	m.Handle("/debug/pprof/profile", h.auth(pprof.Profile))
	m.Handle("/debug/pprof/symbol", h.auth(pprof.Symbol))
	m.Handle("/debug/pprof/trace", h.auth(pprof.Trace))
	return h, nil
}

// adminMethods are the methods noEndpoint tries a path with.
var adminMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noEndpoint answers an admin request no endpoint takes: 405 with Allow
// when the path is an endpoint's asked with another method (a GET on
// kick), 404 when no endpoint has that path.
func (h *Handler) noEndpoint(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range adminMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := h.mux.Handler(probe); pattern != "" && pattern != "/v1/admin/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeError(w, http.StatusNotFound, "no such admin endpoint")
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here; this endpoint takes %s", r.Method, strings.Join(allow, ", ")))
}

// ServeHTTP serves the operator endpoints. Safe from any goroutine.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// auth lets a request through only with the admin token, or from another
// node (ServePeer).
func (h *Handler) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPeer(r) {
			next(w, r)
			return
		}
		ip := remoteIP(r)
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(tok))
		if !ok || h.noToken || subtle.ConstantTimeCompare(sum[:], h.token[:]) != 1 {
			// A wrong token is answered 401 only once it was counted, in
			// one step: a look at the count before the comparison and a
			// charge after let every request that arrived meanwhile
			// through, so tokens sent at once went past the bound.
			if allowed, wait := h.wrong.Allow(ip, h.now()); !allowed {
				tooManyWrongTokens(w, wait)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="tickroom admin"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token")
			return
		}
		if wait := h.wrong.Wait(ip, h.now()); wait > 0 {
			tooManyWrongTokens(w, wait) // as for a wrong one: a guesser never learns it found it
			return
		}
		httpconns.Protect(r.Context()) // not closed for room (Server)
		next(w, r)
	})
}

// tooManyWrongTokens answers a request from an address whose wrong admin
// tokens are spent: 429, with Retry-After for wait.
func tooManyWrongTokens(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(limits.RetryAfterSeconds(wait), 10))
	writeError(w, http.StatusTooManyRequests, "too many wrong admin tokens from this address; try again later")
}

// Wrong admin tokens a client address may send (Handler.auth): 10 at
// once, then one every 6 s, remembered for the 4,096 addresses seen last.
const (
	wrongTokenRate  = rate.Limit(1.0 / 6)
	wrongTokenBurst = 10
	wrongTokenAddrs = 4096
)

// remoteIP is r's peer address: the admin port trusts no proxy header.
func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// bearerToken returns the token of an Authorization header in the Bearer
// scheme, whose name is case-insensitive (RFC 9110 §11.1).
func bearerToken(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// cmdline answers /debug/pprof/cmdline with the program name and the flag
// names only: flag values may be secrets (-admin-token, -token-key), and
// pprof's own handler would serve them to anyone holding the admin token
// and to anything that logs the response.
func cmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	args := make([]string, 0, len(os.Args))
	for i, a := range os.Args {
		switch {
		case i == 0:
			args = append(args, a)
		case strings.HasPrefix(a, "-"):
			name, _, hasValue := strings.Cut(a, "=")
			if hasValue {
				name += "=[redacted]"
			}
			args = append(args, name)
		default:
			args = append(args, "[redacted]")
		}
	}
	_, _ = w.Write([]byte(strings.Join(args, "\x00")))
}

// healthz is 200 while the process serves; 503 once its WebSocket
// transport stopped on its own (server.Server's Failed), which only a
// restart mends.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.srv.Err(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "%v\n", err)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// readyz is 200 while the hub takes connections and every Config.Ready
// check passes; 503 with the reason once it is shutting down or a check
// fails, so a load balancer stops sending clients.
func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if why := h.notReady(); why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "%s\n", why)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// notReady says why /readyz answers 503 ("shutting down", "draining",
// "not ready: " and a failed check), or "" when it answers 200; the
// monitor's overview shows the same.
func (h *Handler) notReady() string {
	if err := h.srv.Err(); err != nil {
		return err.Error()
	}
	if h.hub.ShuttingDown() {
		return "shutting down"
	}
	if h.hub.Draining() {
		return "draining"
	}
	for _, check := range h.ready {
		if err := check(); err != nil {
			return "not ready: " + err.Error()
		}
	}
	return ""
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is every admin error's JSON.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// maxBody caps an admin request body.
const maxBody = 64 << 10

// readJSON decodes an optional JSON body into v; an empty body leaves v
// as is. A body must be one JSON value: anything after it is refused, so
// that a body that is not what its sender meant ({"seconds":60}
// {"seconds":-1}) is not acted on by its first part.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	if err == nil {
		if _, next := dec.Token(); errors.As(next, &tooLarge) || errors.Is(next, os.ErrDeadlineExceeded) {
			err = next
		} else if !errors.Is(next, io.EOF) {
			err = errors.New("data after the JSON value")
		}
	}
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d KiB", maxBody>>10))
		return false
	case errors.Is(err, os.ErrDeadlineExceeded):
		writeError(w, http.StatusRequestTimeout, "request body not sent in time")
		return false
	case err != nil && !errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}
