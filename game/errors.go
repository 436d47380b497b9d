package game

import (
	"errors"
	"time"
)

// Sentinel errors. Join, Input and the other Room methods return them
// directly, or wrapped with %w; compare with errors.Is.
var (
	// ErrUnknownGame is returned for a game name that no Definition registered.
	ErrUnknownGame = errors.New("game: unknown game")
	// ErrDuplicateGame is returned when a name is registered twice.
	ErrDuplicateGame = errors.New("game: game already registered")
	// ErrInvalidDefinition is returned for a Definition without a name or
	// constructor, or with an out-of-range limit.
	ErrInvalidDefinition = errors.New("game: invalid definition")
	// ErrInvalidOptions is returned when room options are out of range or a
	// game's constructor refuses them.
	ErrInvalidOptions = errors.New("game: invalid room options")
	// ErrRuntimeClosed is returned once Shutdown has begun.
	ErrRuntimeClosed = errors.New("game: runtime is shut down")
	// ErrRoomFull is returned when no player (or spectator) seat is free.
	ErrRoomFull = errors.New("game: room is full")
	// ErrWrongPassword is returned when a join's password does not match.
	ErrWrongPassword = errors.New("game: wrong room password")
	// ErrLocked is returned for a new join to a locked room; resumes are
	// still accepted.
	ErrLocked = errors.New("game: room is locked")
	// ErrFinished is returned for a join to a room whose match has ended or
	// that is being disposed.
	ErrFinished = errors.New("game: room is finished")
	// ErrRefused is wrapped by RefusedError, the game's refusal of a join.
	ErrRefused = errors.New("game: join refused by the game")
	// ErrInboxFull is returned when a room's input inbox is full; the input
	// is dropped and counted.
	ErrInboxFull = errors.New("game: room inbox is full")
	// ErrControlFull is returned when a room's queue of joins, leaves and
	// drops is full: the request is refused and may be retried after a
	// tick. It is not an input inbox drop.
	ErrControlFull = errors.New("game: room control queue is full")
	// ErrRateLimited is returned when a seat sends inputs faster than its
	// limit; the input is dropped and counted.
	ErrRateLimited = errors.New("game: input rate limit exceeded")
	// ErrNotSeated is returned for input or a leave from a seat that holds no
	// joined member.
	ErrNotSeated = errors.New("game: seat holds no joined member")
	// ErrSpectator is returned for input from a spectator seat.
	ErrSpectator = errors.New("game: spectators cannot send input")
	// ErrInputTooLarge is returned for an input longer than the room's limit.
	ErrInputTooLarge = errors.New("game: input too large")
	// ErrNoClient is returned for a JoinRequest without a Client.
	ErrNoClient = errors.New("game: join request has no client")
	// ErrGamePanicked wraps the value of a panic in a game's New, Cost
	// (Definition.CheckOptions) or Restore: the room was refused, and the
	// process goes on.
	ErrGamePanicked = errors.New("game: the game panicked")
	// ErrNotSaver is returned by Room.Handoff for a room whose game does
	// not implement Saver, and by Runtime.RestoreRoom for a saved room of
	// such a game.
	ErrNotSaver = errors.New("game: game cannot be saved")
	// ErrMoving is returned by Room.Handoff when a handoff is already
	// under way, and for a new join to a room being handed off.
	ErrMoving = errors.New("game: room is being moved")
	// ErrRoomExists is returned by Runtime.RestoreRoom when a room with the
	// saved room's id is already live.
	ErrRoomExists = errors.New("game: room already exists")
	// ErrBadSave wraps a SavedRoom that RestoreRoom cannot restore: an
	// unknown version, limits out of range, seats that do not fit, or the
	// game's Restore refusing its state.
	ErrBadSave = errors.New("game: saved room cannot be restored")
	// ErrNoManualClock is returned by Advance when the runtime does not run
	// on a ManualClock.
	ErrNoManualClock = errors.New("game: runtime clock is not a ManualClock")
	// ErrWorkerStuck is returned by Runtime.Shutdown when it gave up on a
	// tick worker stuck in a game's call that never returned (see
	// StuckAfter and StuckWorkers).
	ErrWorkerStuck = errors.New("game: a tick worker is stuck in a game's call")
)

// RefusedError is a game's refusal of a join, with a reason the player can
// be shown. It wraps ErrRefused.
type RefusedError struct {
	// Reason is a short human-readable explanation.
	Reason string
}

// Error implements error.
func (e *RefusedError) Error() string { return "game: join refused: " + e.Reason }

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// RateLimitedError is an input over its seat's input rate, with how long
// until the seat's next input would pass. It wraps ErrRateLimited.
type RateLimitedError struct {
	// RetryAfter is how long until the seat has an input's worth again.
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitedError) Error() string { return ErrRateLimited.Error() }

// Unwrap returns ErrRateLimited.
func (e *RateLimitedError) Unwrap() error { return ErrRateLimited }

// Refuse returns a RefusedError with reason, for Game.Accept.
func Refuse(reason string) error { return &RefusedError{Reason: reason} }

// InputError is a game's refusal of an input. The runtime sends it to the
// player as a GameMessage with the same code, text and data; the game's
// state must be unchanged.
type InputError struct {
	// Code is the game's own error code.
	Code uint32
	// Text is a short human-readable explanation.
	Text string
	// Data is optional game-specific detail.
	Data []byte
}

// Error implements error.
func (e *InputError) Error() string { return "game: input refused: " + e.Text }
