package game

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Game is what a game developer implements: the rules of one room's match.
//
// The runtime calls a Game's methods only on the room's tick worker, one at a
// time, so a Game needs no locking. Every method must be quick and must not
// block: it runs inside the tick of many rooms sharing one worker.
type Game interface {
	// Accept decides whether p may take the seat it reserved. A non-nil
	// error refuses the join; use Refuse to give the player a reason.
	Accept(ctx *Context, p Player) error
	// Notice tells the game a member joined, left, dropped (its connection
	// was lost; the seat is held for a grace window) or resumed.
	Notice(ctx *Context, kind NoticeKind, p Player)
	// Input applies one input sent by the player in seat. data is the game's
	// own input message and is valid only during the call. Returning an
	// *InputError refuses the input, sends the player a GameMessage, and must
	// leave the state unchanged. It is called in every phase, so a game
	// refuses inputs before the start and after the end in its own words.
	Input(ctx *Context, seat uint32, data []byte) error
	// Update advances the match by one tick of fixed length dt. It is called
	// only while the room is running.
	Update(ctx *Context, dt time.Duration)
	// Encode writes the whole state, every entity and the globals, into s.
	// The runtime diffs it against earlier ticks itself.
	Encode(s *Snapshot)
}

// Viewer is implemented by a game that sends each member its own view of
// the state (area of interest, hidden cards). View runs on the tick worker
// after Encode, once per member that is sent state this tick; v starts
// empty, with the shared globals, and Share copies entities from the shared
// snapshot. Every observer (Room.Observe) is viewed as the same Player,
// Seat 0, Spectator true and Name "observer": View runs once a tick for
// all the observers that are sent state, however many there are, and
// must give the same view for the same Player within a tick.
type Viewer interface {
	View(ctx *Context, p Player, v *Snapshot)
}

// Versioned is implemented by a game that can tell when its state has not
// moved, such as a turn-based game whose state changes only with its
// inputs. On a tick where the version is the one of the last state the
// room sent, and no member's acknowledged input changed, the runtime skips
// Encode and the diff: the room keeps its last state, as it does for a
// tick whose state came out equal, at the cost of one call. A game without
// it is encoded every tick.
type Versioned interface {
	// StateVersion returns a number that changes whenever what Encode
	// would write changes (a counter bumped on every change will do). It
	// runs on the tick worker after Update.
	StateVersion() uint64
}

// Sleeper is implemented by a game whose Update does nothing on
// most ticks, such as a turn-based game between moves: a room whose game
// sleeps is taken off its tick until something arrives for it (an input, a
// join, a drop, a leave, an observer, a close, a State or Handoff call) or
// until the tick Wake names, so a room waiting for a move costs nothing.
// Its ticks keep their numbers and its phase: the tick that wakes it runs
// at the time and with the number it would have had, so Context.Tick,
// deadlines counted in ticks and the inputs' latency are what they are
// for a room that never slept. A room sleeps only while it runs, has a
// member, sends every member the same shared state (the game has no
// Viewer) and every connected member and observer already has its newest
// state and keeps up; a dropped member's grace window wakes it when it
// runs out, and a sleep with no wake tick ends after a minute with one
// empty tick.
type Sleeper interface {
	// Wake returns the tick at which Update must next run when no input
	// or membership change comes before it: NeverWake when none must
	// (no clock is running), or a tick at or before the next one when
	// Update must run every tick. It runs on the tick worker after sync.
	Wake() uint64
}

// NeverWake is what Sleeper.Wake returns when no tick needs Update until
// something arrives for the room.
const NeverWake = ^uint64(0)

// Marshaler is a protobuf message that can encode itself into a buffer of
// its exact size, as vtprotobuf's generated code does.
type Marshaler interface {
	SizeVT() int
	MarshalToSizedBufferVT(b []byte) (int, error)
}

// Player describes a room member to its game.
type Player struct {
	// Seat is the member's seat: 1..MaxPlayers for players, above that for
	// spectators. Seat 0 is never used.
	Seat uint32
	// UserID is the server's stable id for the user.
	UserID string
	// Name is the display name.
	Name string
	// Spectator is true for members that receive state and send no input.
	Spectator bool
}

// NoticeKind says what happened to a member.
type NoticeKind uint8

// Notice kinds.
const (
	// NoticeJoined: the member took its seat.
	NoticeJoined NoticeKind = iota + 1
	// NoticeLeft: the seat is free again.
	NoticeLeft
	// NoticeDropped: the connection was lost; the seat is held.
	NoticeDropped
	// NoticeResumed: a dropped (or reconnecting) member is back.
	NoticeResumed
)

// String returns the kind's name.
func (k NoticeKind) String() string {
	switch k {
	case NoticeJoined:
		return "joined"
	case NoticeLeft:
		return "left"
	case NoticeDropped:
		return "dropped"
	case NoticeResumed:
		return "resumed"
	}
	return "unknown"
}

// MatchResult is how a match ended.
type MatchResult struct {
	// WinnerSeats is empty for a draw.
	WinnerSeats []uint32
	// Reason is a short machine-readable word ("five_in_a_row", "draw",
	// "timeout", "closed"). One longer than MaxReasonLen bytes is cut to
	// it (on a UTF-8 boundary) and logged; bytes that are not UTF-8, and
	// a NUL, become U+FFFD.
	Reason string
	// Data is the game's own encoded result message.
	Data []byte
	// Scores are the players' scores, one per seat that has one, for the
	// match history and the per-game standings (which add them up). A game
	// that keeps no score leaves it empty: its players score 0. A score
	// past ±MaxScore is left out (logged as the game's bug), so that
	// seat scores 0; the rest of the result stands.
	Scores []SeatScore
}

// MaxScore bounds a SeatScore either way: a match history's standings
// add scores up, and a sum past an int64's range would fail there. It is
// the store's own bound (store.MaxScore).
const MaxScore = 1_000_000_000_000

// MaxReasonLen bounds a MatchResult's Reason in bytes, as its members get
// it and as a match history keeps it.
const MaxReasonLen = 128

// SeatScore is one seat's score in a MatchResult.
type SeatScore struct {
	Seat  uint32
	Score int64
}

// Message is a game-specific reliable message to one or all members.
type Message struct {
	// Code is the game's own message code.
	Code uint32
	// Text is human-readable text. Bytes that are not UTF-8 are sent
	// as U+FFFD.
	Text string
	// Data is the game's own encoded payload.
	Data []byte
}

// Setup is what a game's constructor receives for a new room.
type Setup struct {
	// RoomID is the new room's id.
	RoomID string
	// Options are the game-specific options from RoomOptions, the game's
	// own copy: it may change them.
	Options map[string]string
	// MaxPlayers and TickRate are the room's effective limits.
	MaxPlayers int
	TickRate   int
	// Seed is a per-room random seed; games that want determinism use it
	// instead of a global source.
	Seed uint64
	// Logger is the room's logger, never nil.
	Logger *slog.Logger
}

// Definition registers a game under a name.
type Definition struct {
	// Name is the name rooms are created with: at most MaxNameLen bytes
	// of UTF-8, as clients name it.
	Name string
	// New creates the game for a new room. An error refuses the room; it is
	// wrapped in ErrInvalidOptions. A nil Game (or nil pointer) with no
	// error refuses it too, with ErrInvalidOptions, and is logged (at
	// most once every 10 s: a client reaches New at its message rate).
	New func(Setup) (Game, error)
	// TickRate is the default tick rate in Hz, 1..120. Zero value means 20.
	TickRate int
	// MaxPlayers is the default and largest number of player seats. Zero
	// value means 8.
	MaxPlayers int
	// MinPlayers is how many joined players start the match (waiting →
	// running). Zero value means 1.
	MinPlayers int
	// MaxSpectators is the number of spectator seats. Zero value means 16;
	// a negative value means none.
	MaxSpectators int
	// InputRate is the per-seat input limit in inputs per second, with a
	// burst of one second's worth. Zero value means twice the tick rate.
	InputRate int
	// Cost is what a room with the given options costs, in cost units,
	// of its creator's room budget (the server's per-user and per-address
	// room budgets); it is asked before the room is made, with only
	// Options, MaxPlayers and TickRate of the Setup filled in, and must
	// not fail: options New would refuse may cost anything (the refused
	// creation is given back). DefaultCost prices a small 20 Hz room at
	// one unit; a game whose work grows with its options (map size,
	// entities, bots) prices them here, so that a guest cannot run its
	// dearest rooms for the price of cheap ones. Zero value means
	// DefaultCost. A result below 1 counts as 1.
	Cost func(Setup) int
	// Schema names the protobuf types of the game's state, so what shows
	// a room's state to people (the spectator feed's JSON) can decode it.
	// Zero value means none: the state shows as raw bytes.
	Schema Schema
}

// Schema describes the protobuf messages a game writes in Encode. The
// runtime never uses it; it is for tools that show state to people.
type Schema struct {
	// Globals is the type written with Snapshot.Globals. Zero value means
	// unknown.
	Globals protoreflect.MessageType
	// Entity returns the type of the entity with the given id. Zero value
	// (or a nil result) means unknown.
	Entity func(id uint64) protoreflect.MessageType
}

// DefaultCost is the cost of a room of a game whose Definition has no
// Cost: one unit per 20 Hz of tick rate and 8 player seats (each rounded
// up, so a small 20 Hz room costs 1), plus one for every 4 option entries.
func DefaultCost(s Setup) int {
	return ceilDiv(max(s.TickRate, 1), 20)*ceilDiv(max(s.MaxPlayers, 1), 8) + len(s.Options)/4
}

// RoomCost is what a room of this game created with opts costs: its Cost,
// or DefaultCost, at least 1. A tick rate or seat count of zero in opts
// means the Definition's.
func (d Definition) RoomCost(opts RoomOptions) int {
	cost, _ := d.price(opts)
	return cost
}

// price is RoomCost, and the error of a panic in the game's Cost (a bug
// that a client's room options reached), which CheckOptions reports: the
// room is refused and the process goes on, as for a panic in New. Such
// options are priced with DefaultCost.
func (d Definition) price(opts RoomOptions) (cost int, err error) {
	d = d.withDefaults()
	s := Setup{Options: maps.Clone(opts.Options), MaxPlayers: cmp.Or(opts.MaxPlayers, d.MaxPlayers), TickRate: cmp.Or(opts.TickRate, d.TickRate)}
	if d.Cost == nil {
		return max(DefaultCost(s), 1), nil
	}
	defer func() {
		if v := recover(); v != nil {
			// A client reaches Cost at its message rate, before any budget
			// is spent: one stack every costPanicLogEvery is enough.
			if now := time.Now().UnixNano(); now-costPanicLogged.Load() >= int64(costPanicLogEvery) {
				costPanicLogged.Store(now)
				slog.Error("game panicked in Cost: room refused (logged at most once every 10 s)", "game", d.Name, "panic", v, "stack", string(debug.Stack()))
			}
			cost, err = max(DefaultCost(s), 1), fmt.Errorf("%w: %s: %w in Cost: %v", ErrInvalidOptions, d.Name, ErrGamePanicked, v)
		}
	}()
	return max(d.Cost(s), 1), nil
}

// costPanicLogged is when a panic in a game's Cost was last logged (Unix
// ns); costPanicLogEvery spaces those logs.
var costPanicLogged atomic.Int64

const costPanicLogEvery = 10 * time.Second

// CheckOptions reports whether a room of d could be made with opts' sizes
// and rate (ErrInvalidOptions when not), before anything is spent on it:
// RoomCost prices a request as asked, so one past the game's bounds would
// otherwise be refused for its price rather than for its options. A panic
// in the game's Cost on opts refuses them too (ErrInvalidOptions wrapping
// ErrGamePanicked), logged with its stack. The game's own check of
// opts.Options comes later, in its New.
func (d Definition) CheckOptions(opts RoomOptions) error {
	if _, _, _, err := opts.resolve(d.withDefaults()); err != nil {
		return err
	}
	_, err := d.price(opts)
	return err
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (d Definition) withDefaults() Definition {
	if d.TickRate == 0 {
		d.TickRate = 20
	}
	if d.MaxPlayers == 0 {
		d.MaxPlayers = 8
	}
	if d.MinPlayers == 0 {
		d.MinPlayers = 1
	}
	if d.MaxSpectators == 0 {
		d.MaxSpectators = 16
	} else if d.MaxSpectators < 0 {
		d.MaxSpectators = 0
	}
	return d
}
