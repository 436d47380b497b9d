package game

import (
	"runtime/debug"
	"time"
)

// Result is a finished match as the runtime reports it to Config.OnResult:
// the record a store persists as match history.
//
// A game reports how its match ended with Context.End(MatchResult); the
// runtime adds who played, when, and for how long. A room closed while its
// match runs (Room.Close, an operator's close, server shutdown) reports a
// Result with Reason "closed" and no winners; one whose game panicked
// (the room alone is ended: Room.Close's way) reports Reason "error". A
// room that ends before its match started (closed while waiting for
// players) reports nothing.
type Result struct {
	// RoomID and Game identify the room and the registered game name. A
	// room plays one match, so RoomID identifies the match as well: a
	// store keys the match's record by it (a room restored on another
	// node keeps its id and its match).
	RoomID string
	Game   string
	// Players are the room's player members when the match ended, dropped
	// ones included, and the one whose leaving ended it (a game that ends
	// its match on NoticeLeft, a forfeit), in seat order. Spectators are
	// left out.
	Players []Player
	// Outcome is what the game passed to Context.End.
	Outcome MatchResult
	// Started is when the room went from waiting to running; Ended is the
	// tick time of the End call. Both come from the runtime's Clock.
	Started, Ended time.Time
	// Ticks is the number of the tick during which the match ended.
	Ticks uint64
}

// Winners returns the winning players, in seat order; none for a draw.
func (r Result) Winners() []Player {
	var out []Player
	for _, p := range r.Players {
		for _, s := range r.Outcome.WinnerSeats {
			if p.Seat == s {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// report calls OnResult, if set, for a match that ended at the current
// tick. It runs on the tick worker.
func (r *Room) report(res MatchResult, started bool) {
	fn := r.rt.cfg.OnResult
	if fn == nil || !started {
		return
	}
	w := &r.w
	out := Result{RoomID: r.id, Game: r.def.Name, Outcome: res, Started: w.started, Ended: w.now, Ticks: w.tickNo}
	l := w.leaving                // a player whose leaving ends the match: it played it
	for i, m := range w.members { // index seat-1; the leaver's is free
		if l != nil && uint32(i+1) >= l.Seat {
			out.Players = append(out.Players, *l)
			l = nil
		}
		if m != nil && !m.Spectator {
			out.Players = append(out.Players, m.Player)
		}
	}
	if l != nil {
		out.Players = append(out.Players, *l)
	}
	out.Outcome.WinnerSeats = append([]uint32(nil), res.WinnerSeats...)
	out.Outcome.Data = append([]byte(nil), res.Data...)
	out.Outcome.Scores = append([]SeatScore(nil), res.Scores...)
	r.tell(fn, out)
}

// tell calls fn, Config.OnResult, with out. A panic in it (a bug of the
// server's code that a result reached: the first winner of a draw, say)
// is logged with its stack and goes no further: raised while the room of
// a game that failed was ended (Room.crashed), it escaped that recover and
// ended the process, every room with it.
func (r *Room) tell(fn func(Result), out Result) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("OnResult panicked: the result went no further", "reason", out.Outcome.Reason, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	fn(out)
}
