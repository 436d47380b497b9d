// Package spectate streams rooms to spectators over Server-Sent Events:
// GET /v1/rooms/{id}/events on the public HTTP port, for a live match in a
// web page or a stream overlay without a WebSocket client.
//
// A stream is an observer of its room (game.Room.Observe): it takes no
// seat, the game does not see it, and the players get no join or leave
// when a stream opens or closes. The first event is a keyframe, then
// deltas, each an SSE event with the state's tick as its id, encoded as
// JSON (whole changed entities and globals, decoded with the game's
// Schema; the stream keeps a statesync.Store of the room to expand
// field-level deltas) or, with ?format=protobuf, as base64 of the
// tickroom.v1.State the players get (a client may declare the protocol
// version it decodes in ?protocol_version=, as on the WebSocket; one the
// server does not serve gets 400 with protocol.CheckVersion's reason). Room notices (joins, leaves, phase
// changes, the result) come as "room" events, in the order the room sent
// them with the states (the result after the state of the tick that
// ended the match), and the end of the room as an "end" event. A reconnecting EventSource sends the last id it saw as
// Last-Event-ID; in both formats the stream resumes with a delta from that
// tick when the room still holds it, else with a keyframe. A JSON stream
// has no state of its own after a reconnect, so it asks the room for its
// state at that tick as well (game.ObserveRequest.ResumeBase), applies it
// unseen, and writes only what changed since. The base comes in a reliable
// frame, behind the room events of its tick, and the stream's sink keeps
// it apart from them (one frame, the newest): it is never dropped with the
// events past the 32 a stream holds, since no delta after it would decode
// without it.
//
// A stream that could not write a state all the same (a delta its store
// cannot apply, a base that does not apply, a frame that does not decode)
// has a client without a state the room counts as sent, and every delta
// from then on builds on it. The room gives no keyframe on request, so the
// stream ends, with an event "lost" whose "id:" line has no value, which
// clears the
// EventSource's last event id: its reconnect, two seconds later (the
// stream's "retry:"), carries no Last-Event-ID and starts with a keyframe
// (like any reconnect, it is refused once a watch pass that opened the
// stream has expired). The spectator sees a short reconnect where the view
// would have stayed frozen, with keep-alives only, until the next one.
//
// A public room's feed is open to anyone. A private room's takes a watch
// pass for that room (?pass=, which a member gets with the tickroom.v1
// GetWatchPass request: for an hour it opens this feed and nothing else;
// it is checked when a stream opens, and a stream it opened lasts while
// it is open)
// or, as before passes existed and discouraged since, a member's session
// token (?token= or a Bearer header), which is that member's whole
// session. Unlike a pass's, a stream a token opened ends when the token
// is revoked, as its connections are closed (Members.WatchToken), with an
// "end" event naming why: "kicked", "banned", or "signed_out" by a new
// password; in a cluster, when the revocation reaches this node. It ends
// when the token expires too, with "token_expired", as the token's
// connections are closed then. So does the stream of a room that needs no token opened with a valid one (such
// a room ignores a token that is not valid or is revoked). A room with a
// password takes it (?password=), or a watch pass for the room, which
// only a member who got in past the password is given; a pass opens a
// listed room's feed without the password too. Authorize says which
// status refuses what.
//
// Nothing a stream does can slow its room. The room's tick worker hands
// frames to the stream's sink, which never blocks: while a state waits to
// be written the sink reports itself congested, the room skips it, and
// when it drains it gets one delta from the last state it took to the
// latest (latest wins). Writes are paced to Config.MaxRate and bounded by
// Config.WriteTimeout; a client that stops reading loses only its stream.
//
// Caps: Config.MaxStreams streams in all (503 over it), MaxStreamsPerIP
// per client address (429; the address comes from clientip, so a client
// behind no trusted proxy cannot dodge the cap with X-Forwarded-For; an
// IPv6 client counts by its /64, and one /48 gets clientip.V6SiteFactor
// times the cap, as clientip.Group says), and
// the room's observer cap, game.Config.MaxObservers (409; a room with no
// spectator seats takes no streams either). An address also opens at most
// Config.OpenBurst streams at once (by default 4 for each it may hold, 16
// at least) and then Config.OpenRate a second (429 with Retry-After):
// each stream starts with a keyframe, the whole room,
// and a client that reopened its streams as soon as it had read one got a
// keyframe at every tick of the room. Wrong room passwords take from
// Config.Guesses, the hub's per-address bucket (429 while it is spent).
//
// The SSE framing is written by hand, with no library: an event is a few
// "id:", "event:" and "data:" lines and a blank line (each payload is
// one line of compact JSON or base64, so no data needs splitting), and
// net/http's ResponseController gives the flushes and write deadlines.
// The SSE libraries for Go (r3labs/sse and the like) bring their own
// broadcast and buffering, which would stand between the room's
// latest-wins sink and the socket and hide the congestion it relies on.
package spectate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/hub"
)

// Pattern is the route the handler serves, in http.ServeMux syntax.
const Pattern = "GET /v1/rooms/{id}/events"

// Sentinel errors.
var (
	// ErrConfig wraps a Config that New refuses.
	ErrConfig = errors.New("spectate: invalid config")
)

// Rooms finds a running room by id; *game.Runtime implements it.
type Rooms interface {
	Room(id string) (*game.Room, bool)
}

// Members lists the user ids of a room's connected members, says which
// session tokens the WebSocket upgrade refuses, and ends the streams of
// the tokens revoked later; *hub.Hub implements it. Private rooms are
// open to their members only.
type Members interface {
	RoomMembers(roomID string) []string
	// Revoked reports why a verified session token with claims c is
	// refused at now (its user was kicked after it was issued, or is
	// banned), as the upgrade refuses it; false when it is not.
	Revoked(c auth.Claims, now time.Time) (string, bool)
	// WatchToken calls end, once, with the reason the stream's end event
	// gives, when a kick, a ban or a sign-out ends the sessions of the
	// token with claims c (hub.Hub's WatchToken); end must not block.
	// stop forgets it.
	WatchToken(c auth.Claims, end func(reason string)) (stop func())
}

// Passes checks the watch passes (tickroom.v1 GetWatchPass) that open a
// private room's feed; *hub.Hub implements it.
type Passes interface {
	// CheckWatchPass returns nil when pass opens roomID's feed now, or
	// one of hub's ErrWatchPass errors.
	CheckWatchPass(pass, roomID string) error
}

var (
	_ Rooms   = (*game.Runtime)(nil)
	_ Members = (*hub.Hub)(nil)
	_ Passes  = (*hub.Hub)(nil)
)

// Config configures the feeds.
type Config struct {
	// Rooms finds rooms. Required.
	Rooms Rooms
	// Members lists room members, for private rooms. Required.
	Members Members
	// Auth verifies the session tokens private rooms take. Required.
	Auth *auth.Authority
	// Passes checks the watch passes private rooms take (?pass=). Zero
	// value means none: a feed asked with a pass is refused with 401.
	Passes Passes
	// Games gives each game's Schema for the JSON format. Zero value means
	// none: entities and globals show as base64 bytes.
	Games *game.Registry
	// TrustedProxies decides the client address for the per-IP cap. Zero
	// value trusts nobody.
	TrustedProxies clientip.Trusted
	// MaxStreams caps open streams in all. Zero value means 1,000.
	MaxStreams int
	// MaxStreamsPerIP caps open streams per client address. Zero value
	// means 4.
	MaxStreamsPerIP int
	// MaxRate caps state events per second and stream; the room's own rate
	// is lower for slow games. Zero value means 10.
	MaxRate int
	// KeepAlive is how often an idle stream gets a comment line, so proxies
	// and browsers keep it open. Zero value means 15 s.
	KeepAlive time.Duration
	// WriteTimeout ends a stream whose client has not taken a write for
	// this long. Zero value means 10 s.
	WriteTimeout time.Duration
	// JoinTimeout bounds the wait for the room to seat the stream. Zero
	// value means 5 s.
	JoinTimeout time.Duration
	// Logger receives stream errors at Debug. Zero value means none.
	Logger *slog.Logger
	// OpenRate and OpenBurst bound how fast a client address opens
	// streams (counted as MaxStreamsPerIP counts them: an IPv6 /64, and
	// its /48 clientip.V6SiteFactor times as many), refused or not once
	// past that cap: each stream starts with a keyframe, the whole room
	// decoded and written at once, so an address reopening its streams as
	// soon as it had read one got one at every tick of the room. Zero
	// values mean 1 a second and 4 for each stream MaxStreamsPerIP lets
	// an address hold, 16 at least (a page's four streams each
	// reconnecting four times), so that raising the cap for the viewers
	// behind one address raises it too; an OpenRate of +Inf turns the
	// bound off.
	OpenRate  float64
	OpenBurst int
	// Guesses bounds the wrong room passwords a client address may try
	// (*hub.Hub implements it: the feeds and the WebSocket joins share
	// its buckets). Zero value means no bound.
	Guesses PasswordGuesses
}

// PasswordGuesses bounds the wrong room passwords tried from a client
// address: without it a listed room's password could be guessed through
// its feed at the request rate. Both methods may wait on the network
// (the hub's buckets of a cluster are in Redis) under ctx, the request's.
type PasswordGuesses interface {
	// PasswordWait returns how long until ip may try a room password
	// again, 0 when it may now.
	PasswordWait(ctx context.Context, ip netip.Addr) time.Duration
	// WrongPassword charges ip for a password a room refused.
	WrongPassword(ctx context.Context, ip netip.Addr)
}

// Feeds serves the spectator streams. Safe from any goroutine.
type Feeds struct {
	cfg     Config
	open    atomic.Int64
	dropped atomic.Uint64 // room events dropped by every stream's sink
	lost    atomic.Uint64 // streams ended for a state they could not write
	nextID  atomic.Uint64
	closing chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu    sync.Mutex
	perIP clientip.Counts // open streams per clientip.Group key and /48 site

	opens *clientip.Limiter // stream opens per clientip.Group key and /48 site
}

// openKeys bounds the addresses, and apart from them the /48s, whose
// stream opens are remembered (Config.OpenRate): one forgotten has long
// refilled its bucket, as the hub's session opens are remembered.
const openKeys = 16_384

// maxOpenBurst bounds Config.OpenBurst: 16M streams opened at once is no
// bound at all, and 16 times it still fits an int.
const maxOpenBurst = 1 << 24

// New validates cfg and returns the feeds.
func New(cfg Config) (*Feeds, error) {
	if cfg.Rooms == nil || cfg.Members == nil || cfg.Auth == nil {
		return nil, fmt.Errorf("%w: Rooms, Members and Auth are required", ErrConfig)
	}
	if cfg.MaxStreams < 0 || cfg.MaxStreamsPerIP < 0 || cfg.MaxRate < 0 || cfg.KeepAlive < 0 || cfg.WriteTimeout < 0 || cfg.JoinTimeout < 0 || cfg.OpenRate < 0 || cfg.OpenBurst < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrConfig)
	}
	if math.IsNaN(cfg.OpenRate) {
		return nil, fmt.Errorf("%w: OpenRate is not a number (NaN)", ErrConfig)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxStreams, 1000)
	def(&cfg.MaxStreamsPerIP, 4)
	def(&cfg.MaxRate, 10)
	// The burst follows the per-address cap; it is held to maxOpenBurst,
	// a bound no one reaches, so that its /48's (V6SiteFactor times it)
	// cannot overflow.
	def(&cfg.OpenBurst, max(16, 4*min(cfg.MaxStreamsPerIP, maxOpenBurst)))
	cfg.OpenBurst = min(cfg.OpenBurst, maxOpenBurst)
	if cfg.OpenRate == 0 {
		cfg.OpenRate = 1
	}
	defDur(&cfg.KeepAlive, 15*time.Second)
	defDur(&cfg.WriteTimeout, 10*time.Second)
	defDur(&cfg.JoinTimeout, 5*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	}
	return &Feeds{
		cfg: cfg, closing: make(chan struct{}), perIP: make(clientip.Counts),
		opens: clientip.NewLimiter(rate.Limit(cfg.OpenRate), cfg.OpenBurst, openKeys),
	}, nil
}

// Open returns the number of open streams.
func (f *Feeds) Open() int { return int(f.open.Load()) }

// Dropped returns how many room events streams have dropped because more
// than maxPendingEvents (32) came between two writes; /metrics shows it as
// tickroom_spectator_room_events_dropped_total.
func (f *Feeds) Dropped() uint64 { return f.dropped.Load() }

var droppedDesc = prometheus.NewDesc("tickroom_spectator_room_events_dropped_total",
	"Room events (joins, leaves, phase changes) spectator streams dropped because too many came between two writes.", nil, nil)

var lostDesc = prometheus.NewDesc("tickroom_spectator_streams_lost_total",
	"Spectator streams ended for a state they could not write (their client reconnects for a keyframe).", nil, nil)

var _ prometheus.Collector = (*Feeds)(nil)

// Describe implements prometheus.Collector.
func (f *Feeds) Describe(ch chan<- *prometheus.Desc) { ch <- droppedDesc; ch <- lostDesc }

// Collect implements prometheus.Collector: the figures are read from the
// feeds' atomics at scrape time.
func (f *Feeds) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(f.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, float64(f.lost.Load()))
}

// Close ends every stream (each gets an "end" event) and refuses new ones
// with 503; it returns once the streams' handlers have returned or ctx is
// done. Call it before http.Server.Shutdown, which would otherwise wait
// for streams that never go idle.
func (f *Feeds) Close(ctx context.Context) error {
	// Under mu, as ServeHTTP's check and Add: a stream is counted before
	// the Wait below begins, or refused.
	f.mu.Lock()
	f.once.Do(func() { close(f.closing) })
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Register adds the route to mux, and the answer to its CORS preflight.
func (f *Feeds) Register(mux *http.ServeMux) {
	mux.Handle(Pattern, f)
	mux.HandleFunc(preflightPattern, preflight)
}

// preflightPattern is the route of a feed's CORS preflight.
const preflightPattern = "OPTIONS /v1/rooms/{id}/events"

// preflight answers the CORS preflight of a feed from any origin, as the
// feed itself answers any origin (stream.run). EventSource sends none, but
// an SSE client built on fetch (an overlay that reads the status of a
// refusal) sets Last-Event-ID itself to resume, or sends its member's
// token as a Bearer header, and the browser asks first: without this, the
// HTTP API's preflight answered it, for the -origins only and without
// Last-Event-ID. No credentials are allowed: the feed reads no cookies.
func preflight(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET")
	h.Set("Access-Control-Allow-Headers", "Last-Event-ID, Authorization")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// ServeHTTP streams the room named by the {id} path value.
func (f *Feeds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The check and the Add under mu, as Close's close: an Add racing the
	// Wait of Close is a misuse of the WaitGroup (a panic at shutdown).
	f.mu.Lock()
	select {
	case <-f.closing:
		f.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	default:
	}
	f.wg.Add(1)
	f.mu.Unlock()
	defer f.wg.Done()
	ip := f.cfg.TrustedProxies.FromRequest(r)
	if st, msg := f.acquire(ip); st != 0 {
		w.Header().Set("Retry-After", "5")
		httpError(w, st, msg)
		return
	}
	defer f.release(ip)
	if ok, wait := f.opens.Allow(ip, time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.FormatInt(limits.RetryAfterSeconds(wait), 10))
		httpError(w, http.StatusTooManyRequests, "streams opened too fast from this address; try again later")
		return
	}
	password := r.URL.Query().Get("password")
	if password != "" && f.cfg.Guesses != nil {
		// Before the room looks at it, as a JoinRoom's: a right password
		// past the bound is refused too.
		if wait := f.cfg.Guesses.PasswordWait(r.Context(), ip); wait > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(limits.RetryAfterSeconds(wait), 10))
			httpError(w, http.StatusTooManyRequests, "too many wrong room passwords; try again later")
			return
		}
	}

	id := r.PathValue("id")
	room, ok := f.cfg.Rooms.Room(id)
	if !ok {
		httpError(w, http.StatusNotFound, "no such room")
		return
	}
	format := FormatJSON
	switch r.URL.Query().Get("format") {
	case "", "json":
	case "protobuf":
		format = FormatProtobuf
	default:
		httpError(w, http.StatusBadRequest, "format must be json or protobuf")
		return
	}
	if format == FormatProtobuf {
		// The protobuf data is the players' tickroom.v1.State, whose
		// layout the protocol version names; a JSON event's is its own.
		if reason, ok := protocol.CheckVersion(r.URL.Query().Get(protocol.VersionParam), r.URL.Query().Has(protocol.VersionParam)); !ok {
			httpError(w, http.StatusBadRequest, reason)
			return
		}
	}
	byPass := false
	var revoked *revocation // set when a session token opened the stream
	if info := room.Info(); info.Private || info.HasPassword {
		var st int
		var msg string
		if st, msg, byPass, revoked = f.authorize(r, id, info.Private); st != 0 {
			httpError(w, st, msg)
			return
		}
	}
	if tok := bearer(r); revoked == nil && tok != "" && r.URL.Query().Get("pass") == "" {
		// A room that needs no token (or a listed room's password) ignores
		// one that is not valid or is revoked; a valid one ties the stream
		// to it all the same. A pass is judged alone.
		if rev, _, st, _ := f.watchToken(tok); st == 0 {
			revoked = rev
		}
	}
	if revoked != nil {
		defer revoked.stop()
	}
	// Both formats resume from the last tick the client saw. The protobuf
	// client applies the delta to the state it kept. A JSON event shows
	// whole entities, which the stream builds from the room's state: it
	// asks the room for the state at that tick too (ResumeBase), applies
	// it without writing it, and writes what changed since.
	var resume uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		resume, _ = strconv.ParseUint(v, 10, 64) // junk means none: a keyframe
	}
	var schema game.Schema
	if f.cfg.Games != nil {
		if d, ok := f.cfg.Games.Lookup(room.Game()); ok {
			schema = d.Schema
		}
	}

	s := newSink(&f.dropped)
	defer s.finish()
	joined := make(chan error, 1)
	err := room.Observe(game.ObserveRequest{
		Client: s, Password: password, SkipPassword: byPass,
		ResumeTick: resume, ResumeBase: format == FormatJSON && resume != 0,
	}, func(err error) { joined <- err })
	if err != nil {
		if errors.Is(err, game.ErrWrongPassword) && f.cfg.Guesses != nil {
			f.cfg.Guesses.WrongPassword(r.Context(), ip)
		}
		joinError(w, err)
		return
	}
	// The room forgets the observer when the stream ends, however it ends
	// (an Unobserve of an observer the room already dropped does nothing).
	defer room.Unobserve(s)
	// The wait ends with the client and with Close too: a room whose tick
	// worker is busy or stuck would otherwise hold a gone viewer's slots
	// of the caps, and a shutdown, for the whole JoinTimeout.
	timer := time.NewTimer(f.cfg.JoinTimeout)
	defer timer.Stop()
	select {
	case err := <-joined:
		if err != nil {
			joinError(w, err)
			return
		}
	case <-timer.C:
		httpError(w, http.StatusServiceUnavailable, "the room did not take the stream in time")
		return
	case <-r.Context().Done():
		return
	case <-f.closing:
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	if hook := beforeRun.Load(); hook != nil {
		(*hook)(id)
	}
	st := &stream{f: f, w: w, rc: http.NewResponseController(w), sink: s, format: format, schema: schema, revoked: revoked}
	if format == FormatJSON {
		st.base = resume
	}
	reason := st.run(r.Context())
	f.cfg.Logger.Debug("spectator stream ended", "room", id, "ip", ip, "reason", reason)
}

// beforeRun, a test's (SetBeforeRun), runs in each stream's handler with
// its room's id once the room took the stream, before it writes anything.
var beforeRun atomic.Pointer[func(roomID string)]

// acquire counts a stream against the caps; a non-zero status refuses it.
// An IPv6 client counts by its /64, and the /64s of one /48 share
// clientip.V6SiteFactor times the per-address cap.
func (f *Feeds) acquire(ip netip.Addr) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.perIP.Take(ip, f.cfg.MaxStreamsPerIP, f.cfg.MaxStreamsPerIP*clientip.V6SiteFactor) {
		return http.StatusTooManyRequests, "too many open streams from this address"
	}
	if f.open.Load() >= int64(f.cfg.MaxStreams) {
		f.perIP.Give(ip)
		return http.StatusServiceUnavailable, "too many open streams"
	}
	f.open.Add(1)
	return 0, ""
}

func (f *Feeds) release(ip netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perIP.Give(ip)
	f.open.Add(-1)
}

// authorize admits a stream to a private room or a room with a password:
// a watch pass for the room (the pass query parameter; GetWatchPass), or,
// to a private room, as before passes, a session token of one of the
// room's members (the token query parameter, since EventSource cannot
// send headers, or a Bearer Authorization header) that the WebSocket
// upgrade would take (Members.Revoked). A token is the member's whole
// session, so a link that carries one lets whoever gets it
// play and chat as the member; a pass only watches. A pass is checked
// alone: a request with one is refused when the pass is, whatever token or
// password it carries besides. A pass is given only to a member, who got
// in past the room's password, so byPass, true when a pass admitted the
// stream, lets it in without the password; a token does not (nor does
// nothing, to a listed room), and the room then asks for the password.
// A stream a token admitted ends when the token is revoked: rev, which
// the caller stops when the stream ends.
func (f *Feeds) authorize(r *http.Request, roomID string, private bool) (status int, msg string, byPass bool, rev *revocation) {
	if pass := r.URL.Query().Get("pass"); pass != "" {
		if f.cfg.Passes == nil {
			return http.StatusUnauthorized, "this server takes no watch passes", false, nil
		}
		switch err := f.cfg.Passes.CheckWatchPass(pass, roomID); {
		case err == nil:
			return 0, "", true, nil
		case errors.Is(err, hub.ErrWatchPassExpired):
			return http.StatusUnauthorized, "watch pass expired; ask a member for a new one", false, nil
		case errors.Is(err, hub.ErrWatchPassOtherRoom):
			return http.StatusForbidden, "the watch pass is for another room", false, nil
		case errors.Is(err, hub.ErrWatchPassRevoked):
			return http.StatusForbidden, "the watch pass's member was kicked or banned, or changed its password since", false, nil
		default:
			return http.StatusUnauthorized, "watch pass refused", false, nil
		}
	}
	if !private {
		return 0, "", false, nil
	}
	rev, st, msg := f.memberToken(r, roomID)
	return st, msg, false, rev
}

// joinError answers a refused spectator join.
func joinError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, game.ErrRoomFull):
		httpError(w, http.StatusConflict, "the room takes no more spectators")
	case errors.Is(err, game.ErrWrongPassword):
		httpError(w, http.StatusForbidden, "wrong room password")
	case errors.Is(err, game.ErrLocked), errors.Is(err, game.ErrFinished), errors.Is(err, game.ErrRefused):
		httpError(w, http.StatusConflict, "the room takes no spectators now")
	default:
		httpError(w, http.StatusServiceUnavailable, "the room could not seat the stream")
	}
}

// httpError answers a refused stream. Like the stream (stream.run), it is
// readable from any origin, its Retry-After too, so that a client on an
// overlay's origin built on fetch can tell the refusal from a network
// failure and wait as asked rather than retry blindly.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
