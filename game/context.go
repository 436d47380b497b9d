package game

import (
	"iter"
	"log/slog"
	"time"
)

// Context is a game's handle on its room during a call from the runtime.
// It is valid only on the tick worker, during that call.
type Context struct {
	r *Room
}

// RoomID returns the room's id.
func (c *Context) RoomID() string { return c.r.id }

// Tick returns the number of the tick being run (1 for the first).
func (c *Context) Tick() uint64 { return c.r.w.tickNo }

// Now returns the time the tick was due.
func (c *Context) Now() time.Time { return c.r.w.now }

// TickRate returns the room's tick rate in Hz.
func (c *Context) TickRate() int { return c.r.tickRate }

// Phase returns the room's phase.
func (c *Context) Phase() Phase { return c.r.Phase() }

// Logger returns the room's logger.
func (c *Context) Logger() *slog.Logger { return c.r.log }

// Players yields every member, players and spectators, connected or
// dropped, in seat order.
func (c *Context) Players() iter.Seq[Player] {
	return func(yield func(Player) bool) {
		for _, m := range c.r.w.members {
			if m != nil && !yield(m.Player) {
				return
			}
		}
	}
}

// Player returns the member in seat.
func (c *Context) Player(seat uint32) (Player, bool) {
	m := c.r.w.member(seat)
	if m == nil {
		return Player{}, false
	}
	return m.Player, true
}

// Connected reports whether the member in seat has a live connection.
func (c *Context) Connected(seat uint32) bool {
	m := c.r.w.member(seat)
	return m != nil && m.client != nil
}

// Send sends msg reliably to the member in seat, if it is connected.
func (c *Context) Send(seat uint32, msg Message) {
	m := c.r.w.member(seat)
	if m == nil || m.client == nil {
		return
	}
	c.r.w.recips = append(c.r.w.recips[:0], m.client)
	c.r.sendMessage(msg)
}

// Broadcast sends msg reliably to every connected member.
func (c *Context) Broadcast(msg Message) {
	c.r.collectAll()
	c.r.sendMessage(msg)
}

// Start moves a waiting room to running before MinPlayers have joined.
func (c *Context) Start() {
	if c.r.Phase() == PhaseWaiting {
		c.r.setPhase(PhaseRunning)
	}
}

// CloseSeats takes no new player from now on, for a game whose match
// cannot take one once it began (cards dealt, a race started) though seats
// are free: a player's join is refused at once with ErrLocked (a
// quick-match passes such a room over and finds or makes another), while
// spectators still join and seated players still resume. Without it a
// quick-match sends players into the room only for Accept to refuse them.
// It lasts for the room's life, a move to another node (Room.Handoff)
// included.
func (c *Context) CloseSeats() {
	c.r.mu.Lock()
	c.r.closed = true
	c.r.mu.Unlock()
}

// End ends the match with res: the room becomes finished, every member gets
// the result, Update is no longer called and no new player may join. The
// result (RoomEvent MATCH_ENDED) goes after the tick's game messages and its
// state, so that a member has the state that decided the match when the
// result comes. A member removed later in the same tick (a leave after the
// one that ended it) gets the result before its removal, without that state.
// A room that ends in the tick as its game fails (a panic or a state over
// the limit after End) or as it is removed empty sends the result without
// that state, before it removes its members. res's slices are copied: the game may reuse
// them once End returns. It does nothing once the match has ended.
func (c *Context) End(res MatchResult) { c.r.end(res) }
