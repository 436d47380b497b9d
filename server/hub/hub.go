// Package hub is tickroom's application layer over the WebSocket transport:
// it authenticates connections with session tokens, keeps one session per
// user, and serves the lobby (list, create, join, quick-match, spectate,
// leave), play (inputs in, state out) and resume of tickroom.v1.
//
// Concurrency: Handler methods run on the connection's event loop. A
// session's own message state (rate limiter, decode buffer) is touched only
// there; its room memberships are guarded by the session's mutex because
// join results and removals arrive on tick workers. The user registry is
// guarded by Hub.mu. Lock order: Hub.mu before Session.mu; never call into
// a Room while holding either (rooms call back on their own goroutines).
// Chat, presence and contacts have their own locks (see social), never
// taken while Hub.mu or a Session.mu is held.
//
// Chat (room chat, lobby channels, direct messages), presence and operator
// notifications are Reliable frames: never skipped like stale state; a
// connection too slow to take them is closed by the transport with its
// slow-client code.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
)

// Path is where the hub is served by default.
const Path = "/v1/ws"

var (
	// ErrConfig wraps a Config that New refuses.
	ErrConfig = errors.New("hub: invalid config")
	// ErrNoSession is returned for an operation on a user with no session.
	ErrNoSession = errors.New("hub: user has no session")
)

// Config configures a Hub.
type Config struct {
	// Server is the transport the hub is served on; it is used to broadcast
	// frames grouped by event loop. Required.
	Server *server.Server
	// Auth verifies session tokens. Required.
	Auth *auth.Authority
	// Games holds the games rooms can run. Zero value means an empty
	// registry: every create fails with ERROR_CODE_UNKNOWN_GAME.
	Games *game.Registry
	// Runtime configures the room runtime the hub creates; its Registry,
	// Transport and OnRemoved are set by the hub. Its DropGrace is the
	// resume window.
	Runtime game.Config
	// MultipleSockets lets a user hold several connections at once. Zero
	// value means one socket per user: a second login closes the first with
	// CLOSE_CODE_DUPLICATE_LOGIN.
	MultipleSockets bool
	// MessageRate is the number of messages a connection may send per
	// second, with a burst of twice that. A connection over it gets
	// ERROR_CODE_RATE_LIMITED for each message dropped; one that keeps
	// sending past another burst's worth is closed with
	// CLOSE_CODE_RATE_LIMITED. Zero value means 120.
	MessageRate int
	// HeartbeatInterval is the application ping interval told to clients in
	// Welcome. Zero value means 10 s.
	HeartbeatInterval time.Duration
	// MaxMessageBytes is told to clients in Welcome; it should equal the
	// server's MaxMessageSize. Zero value means 64 KiB.
	MaxMessageBytes int
	// MaxRoomsPerUser caps the rooms one user is a member of at once. Zero
	// value means 4.
	MaxRoomsPerUser int
	// MaxRooms caps the rooms the server runs at once; a create beyond it
	// gets ERROR_CODE_ROOM_LIMIT. Zero value means 10,000.
	MaxRooms int
	// ListLimit caps the rooms in one RoomList. Zero value means 100.
	ListLimit int
	// Social limits chat, direct messages, contact lists and presence
	// queries. Zero value means the defaults SocialConfig documents.
	Social SocialConfig
	// Logger receives session events: connections at Debug, operator
	// actions at Info. Zero value means no logging.
	Logger *slog.Logger
	// Now tells the time. Zero value means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Games == nil {
		c.Games = game.NewRegistry()
	}
	if c.MessageRate <= 0 {
		c.MessageRate = 120
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 10 * time.Second
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.MaxRoomsPerUser <= 0 {
		c.MaxRoomsPerUser = 4
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = 10_000
	}
	if c.ListLimit <= 0 {
		c.ListLimit = 100
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Runtime.DropGrace <= 0 {
		c.Runtime.DropGrace = 30 * time.Second
	}
	return c
}

// Hub serves tickroom.v1 on a WebSocket path. It implements
// server.Handler and game.Transport.
type Hub struct {
	cfg Config
	srv *server.Server
	rt  *game.Runtime
	log *slog.Logger

	mu       sync.Mutex
	users    map[string][]*Session // live sessions per user
	held     map[string][]heldSeat // seats kept for dropped users
	matches  map[string][]string   // quick-match key → room ids, oldest first
	created  int                   // indexed rooms created, for sweeping matches
	shutting bool

	social     *social
	nextDirect atomic.Uint64
	stats      Stats
	closes     closeCounts
}

var (
	_ server.Handler = (*Hub)(nil)
	_ game.Transport = (*Hub)(nil)
	_ game.Client    = (*Session)(nil)
)

// heldSeat is a seat the runtime keeps for a user whose connection dropped.
type heldSeat struct {
	roomID    string
	game      string
	seat      uint32
	spectator bool
	expires   time.Time
}

// New returns a hub and the room runtime it drives; call Start to start
// the runtime's tick workers.
func New(cfg Config) (*Hub, error) {
	cfg = cfg.withDefaults()
	if cfg.Server == nil || cfg.Auth == nil {
		return nil, fmt.Errorf("%w: Server and Auth are required", ErrConfig)
	}
	h := &Hub{
		cfg:     cfg,
		srv:     cfg.Server,
		log:     cfg.Logger,
		users:   make(map[string][]*Session),
		held:    make(map[string][]heldSeat),
		matches: make(map[string][]string),
	}
	h.social = newSocial(h, cfg.Social)
	rc := cfg.Runtime
	rc.Registry = cfg.Games
	rc.Transport = h
	rc.OnRemoved = h.onRemoved
	rt, err := game.NewRuntime(rc)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	h.rt = rt
	return h, nil
}

// Runtime returns the room runtime the hub drives.
func (h *Hub) Runtime() *game.Runtime { return h.rt }

// Start starts the room runtime's tick workers.
func (h *Hub) Start() { h.rt.Start() }

// Shutdown closes every session with CLOSE_CODE_SERVER_SHUTDOWN (a
// resumable code: clients reconnect to the next server), then shuts the
// room runtime down. Call it before the transport's Shutdown, which then
// drains what is left.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shutting = true
	var all []*Session
	for _, ss := range h.users {
		all = append(all, ss...)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.close(protocol.CloseServerShutdown, "")
	}
	return h.rt.Shutdown(ctx)
}

// Kick closes every connection of userID with CLOSE_CODE_KICKED and gives up
// its seats at once, those held from dropped connections included (no
// resume window). It returns ErrNoSession when the user has neither a
// connection nor a held seat. Safe from any goroutine.
func (h *Hub) Kick(userID, reason string) error {
	h.mu.Lock()
	ss := append([]*Session(nil), h.users[userID]...)
	held := h.held[userID]
	delete(h.held, userID)
	h.mu.Unlock()
	if len(ss) == 0 && len(held) == 0 {
		return ErrNoSession
	}
	for _, s := range ss {
		s.kicked.Store(true)
		s.close(protocol.CloseKicked, reason)
	}
	for _, hs := range held {
		if room, ok := h.rt.Room(hs.roomID); ok {
			_ = room.LeaveAs(hs.seat, userID, nil)
		}
	}
	return nil
}

// Online reports whether userID has a live session. Safe from any
// goroutine.
func (h *Hub) Online(userID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.users[userID]) > 0
}

// Accept authenticates the upgrade request with its session token (query
// parameter "token" or an Authorization bearer header): a missing, forged
// or expired token is refused with 401 before the 101. It runs on the
// connection's loop.
func (h *Hub) Accept(c *server.Conn, r *server.Request) error {
	tok := r.Query("token")
	if tok == "" {
		tok = auth.BearerToken(r.Header("Authorization"))
	}
	if tok == "" {
		h.stats.AuthRefused.Add(1)
		return &server.HTTPError{Status: 401, Message: "missing session token"}
	}
	now := h.cfg.Now()
	claims, err := h.cfg.Auth.Verify(tok, now)
	if err != nil {
		h.stats.AuthRefused.Add(1)
		msg := "invalid session token"
		if errors.Is(err, auth.ErrTokenExpired) {
			msg = "session token expired"
		}
		return &server.HTTPError{Status: 401, Message: msg}
	}
	s := newSession(h, c, claims)
	h.mu.Lock()
	if h.shutting {
		h.mu.Unlock()
		return &server.HTTPError{Status: 503, Message: "server shutting down"}
	}
	var replaced []*Session
	if !h.cfg.MultipleSockets {
		replaced = h.users[claims.UserID]
		h.users[claims.UserID] = nil
	}
	h.users[claims.UserID] = append(h.users[claims.UserID], s)
	h.mu.Unlock()
	// Before the replaced sessions close, so that the user stays online
	// and keeps its lists.
	h.social.connected(s)
	for _, old := range replaced {
		// The replaced connection's seats are held for this one to resume.
		old.replaced.Store(true)
		for _, m := range old.memberships() {
			h.holdSeat(claims.UserID, heldSeat{
				roomID: m.id, game: m.room.Game(), seat: m.seat, spectator: m.spectator,
				expires: now.Add(h.cfg.Runtime.DropGrace),
			})
		}
		old.close(protocol.CloseDuplicateLogin, "")
	}
	c.SetValue(s)
	s.startExpiry(now)
	h.stats.Sessions.Add(1)
	h.sendWelcome(s)
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("session open", "conn", c.ID(), "ip", c.ClientIP(), "user", claims.UserID)
	}
	return nil
}

// OnMessage decodes one client message and serves it. It runs on the
// connection's loop.
func (h *Hub) OnMessage(c *server.Conn, op ws.OpCode, payload []byte) {
	s, _ := c.Value().(*Session)
	if s == nil {
		return
	}
	if s.replaced.Load() {
		return // a newer login took over; this connection is closing
	}
	if op != ws.OpBinary {
		s.close(protocol.CloseProtocolError, "tickroom.v1 messages are binary")
		return
	}
	s.handle(payload)
}

// OnClose gives up the session: its seats are held for the resume window
// (or freed at once after a kick). It runs on the connection's loop.
func (h *Hub) OnClose(c *server.Conn, code ws.StatusCode, _ string) {
	s, _ := c.Value().(*Session)
	if s == nil {
		return
	}
	h.closes.add(int(code))
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("session closed", "conn", c.ID(), "user", s.claims.UserID, "code", int(code))
	}
	h.mu.Lock()
	list := h.users[s.claims.UserID]
	for i, x := range list {
		if x == s {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(h.users, s.claims.UserID)
	} else {
		h.users[s.claims.UserID] = list
	}
	h.mu.Unlock()
	s.gone()
	h.social.disconnected(s)
}

// onRemoved runs on a tick worker when a member's seat is released. The
// session that held it (if it still counts the seat as its own) learns why
// with an unsolicited Left; a seat held for a dropped user is reported to
// the user's live connections.
func (h *Hub) onRemoved(rm game.Removal) {
	wasHeld := h.dropHeld(rm.UserID, rm.RoomID)
	reason, msg := h.leaveReason(rm.Reason)
	s, _ := rm.Client.(*Session)
	if s == nil {
		if wasHeld && reason != tickroomv1.LeaveReason_LEAVE_REASON_UNSPECIFIED {
			for _, live := range h.sessions(rm.UserID) {
				live.sendLeft(0, rm.RoomID, reason, msg)
			}
		}
		return
	}
	if !s.forget(rm.RoomID, rm.Seat) {
		return // the session already gave the seat up itself
	}
	h.social.exitRoom(s, rm.RoomID)
	if reason != tickroomv1.LeaveReason_LEAVE_REASON_UNSPECIFIED && !s.closed.Load() {
		s.sendLeft(0, rm.RoomID, reason, msg)
	}
}

// leaveReason maps a runtime removal to the Left a client is told;
// UNSPECIFIED means no Left is due (the join was refused, and the refusal
// answered the request).
func (h *Hub) leaveReason(r game.RemoveReason) (tickroomv1.LeaveReason, string) {
	switch r {
	case game.RemovedRefused:
		return tickroomv1.LeaveReason_LEAVE_REASON_UNSPECIFIED, ""
	case game.RemovedLeft:
		return tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, "left from another connection"
	case game.RemovedReplaced:
		return tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED, "seat taken back by another connection of this user"
	case game.RemovedGraceExpired:
		return tickroomv1.LeaveReason_LEAVE_REASON_SEAT_EXPIRED, ""
	case game.RemovedRoomClosed:
		if h.isShutting() {
			return tickroomv1.LeaveReason_LEAVE_REASON_SERVER_SHUTDOWN, ""
		}
		return tickroomv1.LeaveReason_LEAVE_REASON_ROOM_CLOSED, ""
	}
	return tickroomv1.LeaveReason_LEAVE_REASON_KICKED, ""
}

// sessions returns userID's live sessions.
func (h *Hub) sessions(userID string) []*Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Session(nil), h.users[userID]...)
}

func (h *Hub) isShutting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shutting
}

// holdSeat records that userID's seat in a room is kept for a resume, and
// forgets the user's records whose window has passed.
func (h *Hub) holdSeat(userID string, hs heldSeat) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	list := slices.DeleteFunc(h.held[userID], func(x heldSeat) bool { return !x.expires.After(now) })
	for i := range list {
		if list[i].roomID == hs.roomID {
			list[i] = hs
			return
		}
	}
	h.held[userID] = append(list, hs)
}

// dropHeld forgets a held seat once it was resumed or given up; it reports
// whether there was one.
func (h *Hub) dropHeld(userID, roomID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.held[userID]
	found := false
	for i := range list {
		if list[i].roomID == roomID {
			list = append(list[:i], list[i+1:]...)
			found = true
			break
		}
	}
	if len(list) == 0 {
		delete(h.held, userID)
	} else {
		h.held[userID] = list
	}
	return found
}

// heldSeats returns userID's held seats that have not expired.
func (h *Hub) heldSeats(userID string, now time.Time) []heldSeat {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []heldSeat
	for _, hs := range h.held[userID] {
		if hs.expires.After(now) {
			out = append(out, hs)
		}
	}
	return out
}
