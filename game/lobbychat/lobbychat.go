// Package lobbychat is a chat-only room type for lobbies: no entities, no
// match. A member's input is a UTF-8 line of text, broadcast to every member
// as a GameMessage with Code ChatCode, the text, and the sender's user id
// as Data. Bad text is refused with Code ErrorCode; a line past the room's
// line rate (LineRate, LineBurst) with Code BusyCode, whose Data says when
// to send again. A member sends at most InputRate lines a second.
package lobbychat

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tickroom/tickroom/game"
)

// Message codes.
const (
	// ChatCode marks a chat line.
	ChatCode = 1
	// ErrorCode marks a line refused for its text (empty, too long, not
	// UTF-8): sending it again will not help.
	ErrorCode = 2
	// BusyCode marks a line refused because the room took all the lines
	// its rate allows from its members (LineRate): the line was good, and
	// may be sent again once the room takes lines again. Data is that
	// wait in whole milliseconds, as decimal digits ("150"), as a lobby
	// channel's ERROR_CODE_RATE_LIMITED gives retry_after_ms.
	BusyCode = 3
)

// MaxText is the longest line in bytes.
const MaxText = 500

// LineRate and LineBurst bound the lines a room takes from all its
// members together, a second and at once, as a lobby channel's
// (docs/limits.md): each line goes to every member, so that without it
// what each member got, and the deliveries a room cost, grew with the
// members who chatted (200 members at their seats' 5 lines a second sent
// each member 1,000 lines a second, 200,000 deliveries). A line past it
// is refused to its sender alone.
const (
	LineRate  = 20
	LineBurst = 40
)

// InputRate is the lines a second one member sends, with a burst of as
// many: the rate of a lobby channel's member (its chat rate). The room's
// LineRate is shared by all its members, so that at a seat's rate of 5,
// 4 members chatting at their own rate used it up and shut every other
// member out; at 2, 10 members take it.
const InputRate = 2

// Definition registers the chat room: 200 members at 5 Hz, InputRate lines
// a second each.
func Definition() game.Definition {
	return game.Definition{Name: "lobbychat", New: New, TickRate: 5, MaxPlayers: 200, MaxSpectators: -1, InputRate: InputRate}
}

// Game is a chat room: its line bucket (LineRate) as of the tick time
// last, full before the first line.
type Game struct {
	tokens float64
	last   time.Time
}

var _ game.Game = (*Game)(nil)

// New creates a chat room; it takes no options.
func New(game.Setup) (game.Game, error) { return &Game{}, nil }

// Accept takes anyone.
func (*Game) Accept(*game.Context, game.Player) error { return nil }

// Notice does nothing: the runtime already tells members who came and went.
func (*Game) Notice(*game.Context, game.NoticeKind, game.Player) {}

var (
	errEmpty   = &game.InputError{Code: ErrorCode, Text: "empty message"}
	errTooLong = &game.InputError{Code: ErrorCode, Text: "message too long"}
	errUTF8    = &game.InputError{Code: ErrorCode, Text: "message is not UTF-8 text"}
)

// Input broadcasts one line, within the room's line rate.
func (g *Game) Input(ctx *game.Context, seat uint32, data []byte) error {
	switch {
	case len(data) == 0:
		return errEmpty
	case len(data) > MaxText:
		return errTooLong
	case !utf8.Valid(data):
		return errUTF8
	}
	p, ok := ctx.Player(seat)
	if !ok {
		return nil
	}
	switch now := ctx.Now(); {
	case g.last.IsZero():
		g.tokens, g.last = LineBurst, now
	case now.After(g.last):
		g.tokens = min(g.tokens+now.Sub(g.last).Seconds()*LineRate, LineBurst)
		g.last = now
	}
	if g.tokens < 1 {
		wait := math.Ceil((1 - g.tokens) / LineRate * 1000)
		return &game.InputError{Code: BusyCode, Text: "the room takes no more lines now: try again in a moment", Data: strconv.AppendInt(nil, int64(wait), 10)}
	}
	g.tokens--
	ctx.Broadcast(game.Message{Code: ChatCode, Text: string(data), Data: []byte(p.UserID)})
	return nil
}

// Update does nothing.
func (*Game) Update(*game.Context, time.Duration) {}

// Encode writes nothing: a chat room has no state.
func (*Game) Encode(*game.Snapshot) {}
