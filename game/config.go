package game

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/internal/limits"
)

// Client is a room member's connection as the runtime sees it. Its methods
// are called from the tick worker and must be safe from any goroutine.
type Client interface {
	// Congested reports that the connection is over its outbound high-water
	// mark: the runtime skips its state frames and catches it up later with
	// a delta from the last tick it got (or a keyframe). The state of the
	// tick that ended the match is not skipped: it goes before the result.
	Congested() bool
}

// Transport delivers encoded frames to clients. Deliver is called on a tick
// worker and must not block. Each recipient that keeps f takes its own
// reference (f.Retain); the runtime releases its reference after Deliver
// returns. to is reused by the runtime after the call and must not be kept.
// reliable is false for state frames (latest wins; may be dropped for a
// congested client) and true for events, game messages and the notices
// of dropped inputs (tickroom.v1.InputDropped). Frames come in the order
// a member is to see them (the state of the tick that ended the match
// before its MATCH_ENDED), which a transport keeps for each recipient. On a runtime
// that reads the system clock, f.Made says when the tick that made it
// began (a frame.Stamp; 0 on any other Clock, and for frames sent outside
// a tick), for a transport that measures how long frames wait to be
// written.
type Transport interface {
	Deliver(f *frame.Frame, to []Client, reliable bool)
}

// RemoveReason says why a member's seat was released.
type RemoveReason uint8

// Remove reasons.
const (
	// RemovedLeft: the member left (Room.Leave).
	RemovedLeft RemoveReason = iota + 1
	// RemovedGraceExpired: a dropped member did not resume in time.
	RemovedGraceExpired
	// RemovedRefused: the game refused the join.
	RemovedRefused
	// RemovedRoomClosed: the room was closed or disposed.
	RemovedRoomClosed
	// RemovedReplaced: the member resumed on a new connection; the old
	// client is no longer a member.
	RemovedReplaced
	// RemovedMoved: the room was saved (Room.Handoff) to be restored
	// elsewhere; the member's seat goes with it.
	RemovedMoved
)

// String returns the reason's name.
func (r RemoveReason) String() string {
	switch r {
	case RemovedLeft:
		return "left"
	case RemovedGraceExpired:
		return "grace_expired"
	case RemovedRefused:
		return "refused"
	case RemovedRoomClosed:
		return "room_closed"
	case RemovedReplaced:
		return "replaced"
	case RemovedMoved:
		return "moved"
	}
	return "unknown"
}

// Removal tells the server that a client is no longer a room member.
type Removal struct {
	// RoomID, Seat and UserID say whose seat was released.
	RoomID string
	Seat   uint32
	UserID string
	// Client is the connection that held the seat; nil when it had dropped.
	Client Client
	// Reason says why.
	Reason RemoveReason
}

// Config configures a Runtime.
type Config struct {
	// Registry holds the games rooms are created from. Zero value means an
	// empty registry: every CreateRoom fails with ErrUnknownGame.
	Registry *Registry
	// Transport delivers frames. Zero value means frames are encoded and
	// discarded (useful in benchmarks).
	Transport Transport
	// Shards is the number of tick workers. Zero value means GOMAXPROCS.
	Shards int
	// Clock tells the time. Zero value means the system clock. With a
	// *ManualClock no workers run: the caller drives ticks with Advance.
	Clock Clock
	// Logger receives the runtime's logs. Zero value means no logging.
	Logger *slog.Logger
	// InboxSize bounds a room's pending inputs; a full inbox drops and
	// counts. A seated player's share, InboxSize over the game's
	// MaxPlayers, is kept for it whatever the others send (in a game of
	// at most InboxSize players: past that a share is 1 and the shares do
	// not all fit). Zero value means 256.
	InboxSize int
	// MaxInputSize bounds one input's bytes. Zero value means 4096.
	MaxInputSize int
	// MaxStateBytes bounds a room's state as its game writes it in
	// Encode (for a Viewer, each member's view): the entities' and
	// globals' bytes, and 15 bytes an entity for its id and length. A
	// room whose game writes a larger one sends it to no one and is
	// closed as if its game had panicked (a running match ends with
	// Reason "error"). It also bounds a game's messages (Context.Send,
	// Broadcast, an InputError: text and data), which are not sent past
	// it and logged (once every 10 s at most), and a match result's
	// reason (itself cut at MaxReasonLen) and data, sent without its data
	// past it. Zero value means
	// 1 MiB, the largest message the server takes from a client.
	MaxStateBytes int
	// DropGrace is how long a dropped member's seat is held for a resume.
	// Zero value means 30 seconds.
	DropGrace time.Duration
	// EmptyTimeout is how long a room with no members lives before it is
	// disposed. Zero value means 30 seconds.
	EmptyTimeout time.Duration
	// ResumeTicks is the number of past ticks a room keeps so that a
	// resuming or congested client can get a delta. Zero value means 16.
	// A room whose game is a Viewer keeps each member's last two views
	// instead, and only its newest two shared states.
	ResumeTicks int
	// MaxObservers caps a room's seatless observers (Room.Observe), which
	// cost its tick worker a frame hand-off each per state. Zero value
	// means 256.
	MaxObservers int
	// MaxCatchUp is the number of extra steps a late room runs in one go
	// before it records an overrun and skips the missed ticks. Zero value
	// means 2.
	MaxCatchUp int
	// Resolution is the tick wheel's slot width. Zero value means 500µs.
	Resolution time.Duration
	// OnRemoved is called on the tick worker when a member's seat is
	// released; it must be quick and must not block. Zero value means no
	// call.
	OnRemoved func(Removal)
	// OnResult is called on the tick worker when a match that was running
	// ends (Context.End, or the room closing), with who played and how it
	// ended; it must be quick and must not block: a store queues the
	// Result and writes it elsewhere. A panic in it is logged with its
	// stack and goes no further. Zero value means no call.
	OnResult func(Result)
}

// validate refuses negative limits (wrapping ErrInvalidOptions); zero
// means their default.
func (c Config) validate() error {
	err := errors.Join(
		limits.NonNegative("InboxSize", c.InboxSize),
		limits.NonNegative("MaxInputSize", c.MaxInputSize),
		limits.NonNegative("MaxStateBytes", c.MaxStateBytes),
		limits.NonNegative("DropGrace", c.DropGrace),
		limits.NonNegative("EmptyTimeout", c.EmptyTimeout),
		limits.NonNegative("ResumeTicks", c.ResumeTicks),
		limits.NonNegative("MaxCatchUp", c.MaxCatchUp),
		limits.NonNegative("MaxObservers", c.MaxObservers),
	)
	if err != nil {
		return fmt.Errorf("%w: config: %w", ErrInvalidOptions, err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Registry == nil {
		c.Registry = NewRegistry()
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	limits.Default(&c.InboxSize, 256)
	limits.Default(&c.MaxInputSize, 4096)
	limits.Default(&c.MaxStateBytes, 1<<20)
	limits.Default(&c.DropGrace, 30*time.Second)
	limits.Default(&c.EmptyTimeout, 30*time.Second)
	limits.Default(&c.ResumeTicks, 16)
	if c.ResumeTicks < 2 {
		c.ResumeTicks = 2
	}
	limits.Default(&c.MaxCatchUp, 2)
	limits.Default(&c.MaxObservers, 256)
	limits.Default(&c.Resolution, 500*time.Microsecond)
	return c
}

// RoomOptions describe a room to create.
type RoomOptions struct {
	// Game is the registered game name.
	Game string
	// Options are passed to the game's constructor. Zero value means none.
	Options map[string]string
	// MaxPlayers caps player seats. Zero value means the game's MaxPlayers;
	// larger than it is an error.
	MaxPlayers int
	// MaxSpectators caps spectator seats. Zero value means the game's.
	MaxSpectators int
	// Password, when set, must match every join (resumes excepted).
	Password string
	// Private rooms are left out of Rooms listings unless asked for.
	Private bool
	// Metadata is free-form lobby data, copied. Zero value means none.
	Metadata map[string]string
	// TickRate overrides the game's tick rate, 1..120 Hz. Zero value means
	// the game's.
	TickRate int
	// Seed is the room's random seed (Setup.Seed), for replaying a match
	// or a test that wants the same deal twice. Zero value means a random
	// seed.
	Seed uint64
}

// JoinRequest asks for a seat in a room.
type JoinRequest struct {
	// UserID identifies the user; a join with the UserID of a current or
	// dropped member resumes that member's seat.
	UserID string
	// Name is the display name.
	Name string
	// Password must match the room's password for a new join.
	Password string
	// Spectator asks for a spectator seat.
	Spectator bool
	// Client receives the room's frames.
	Client Client
	// ResumeTick is the last tick the client saw, for a delta on resume;
	// a new seat takes it too (a spectator stream that reconnects has the
	// state at that tick). A tick the room no longer holds, or has not run,
	// gets a keyframe. Zero value means none: the client gets a keyframe.
	ResumeTick uint64
}

// JoinResult is the outcome of a join, given to its callback on the tick
// worker.
type JoinResult struct {
	// Seat is the member's seat when Err is nil.
	Seat uint32
	// Resumed is true when the join took back an existing seat.
	Resumed bool
	// Spectator is true when the seat is a spectator seat; on a resume it
	// is the seat's, whatever the request asked.
	Spectator bool
	// LastSeq, on a resumed player seat, is the last input sequence number
	// the room applied for it, counting the inputs queued for the tick that
	// resumed it, which the room applies after the resume: the next input
	// numbered above it is never dropped as a resend.
	LastSeq uint32
	// Err is nil, a *RefusedError (ErrRefused), or ErrFinished when the room
	// ended before the join was confirmed.
	Err error
}
