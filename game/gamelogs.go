package game

import "github.com/tickroom/tickroom/internal/logspace"

// gameLogs spaces the log lines of one game's bugs, each at most once
// every logspace.Every with the number left out: a New that panics or
// returns no game (a client reaches New at its message rate), a game
// message over Config.MaxStateBytes (an input may cause one at its
// seat's rate), an Encode or View that fails (again at every tick of
// every room of the game), a match result with a score past MaxScore
// (at every match's end).
//
// They are per game, not per runtime nor per room: one game failing at
// every tick would otherwise hide every other game's failure from the
// log, while a game's rooms, which share its code, share its spacing, so
// that a thousand rooms of a broken game log one line every 10 s, not a
// thousand. The games are the Registry's, which no client adds to, so
// the spacers are bounded by them however many rooms come and go.
type gameLogs struct {
	newPanic, newNil, bigMessage, encode, badScore logspace.Spacer
}

// logsOf returns game's spacers, made on its first line. It is looked up
// on a line's way rather than held by each Room, which would take a
// larger size class (TestRoomFitsItsSizeClass). Safe from any goroutine.
func (rt *Runtime) logsOf(game string) *gameLogs {
	if l, ok := rt.logs.Load(game); ok {
		return l.(*gameLogs)
	}
	l, _ := rt.logs.LoadOrStore(game, new(gameLogs))
	return l.(*gameLogs)
}
