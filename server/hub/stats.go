package hub

import (
	"sync/atomic"

	"github.com/tickroom/tickroom/server/social"
)

// Stats counts the hub's events; the embedded social.Stats counts chat,
// presence and notifications. Every field is safe to read from any
// goroutine; the metrics layer exports them.
type Stats struct {
	Sessions    atomic.Uint64 // sessions accepted
	AuthRefused atomic.Uint64 // handshakes refused for a missing, bad or expired token
	// SessionsUserRate and SessionsAddressRate count upgrades with a
	// valid token refused with 429: the user, or its client address,
	// opened sessions faster than Config.SessionRate or
	// SessionAddressRate.
	SessionsUserRate    atomic.Uint64
	SessionsAddressRate atomic.Uint64
	// RoomListsConnectionRate and RoomListsAddressRate count ListRooms
	// and WatchRooms refused with ERROR_CODE_RATE_LIMITED: past the
	// connection's own bucket of that request (Config.ListRoomsRate,
	// RoomWatchRate), or past the room lists of its client address
	// (RoomListAddressRate).
	RoomListsConnectionRate atomic.Uint64
	RoomListsAddressRate    atomic.Uint64
	MessagesIn              atomic.Uint64 // client messages received
	MessagesOut             atomic.Uint64 // replies and notices sent (state excluded)
	Inputs                  atomic.Uint64 // inputs queued to rooms
	InputsRefused           atomic.Uint64 // inputs refused (not seated, rate, inbox full, size)
	RateLimited             atomic.Uint64 // messages dropped by the per-connection rate limit
	ProtocolErrors          atomic.Uint64 // undecodable messages (connection closed)
	Unsupported             atomic.Uint64 // message kinds this server does not serve
	Errors                  atomic.Uint64 // Error replies due
	FramesDelivered         atomic.Uint64 // room frames handed to connections
	Joins                   atomic.Uint64 // seats taken
	Resumes                 atomic.Uint64 // seats resumed
	ResumeAttempts          atomic.Uint64 // joins that asked to resume
	Redirects               atomic.Uint64 // requests answered with a Redirect to another node
	social.Stats
}

// Stats returns the hub's counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// Closes returns how many connections closed with each close code, as the
// transport counted them (1006 for a lost connection, the slow-client code
// for one the transport closed for not reading). Safe from any goroutine.
func (h *Hub) Closes() map[int]uint64 { return h.srv.Stats().Closed }

// OpenSessions returns the number of live sessions. Safe from any
// goroutine.
func (h *Hub) OpenSessions() int { return len(h.reg.All()) }
