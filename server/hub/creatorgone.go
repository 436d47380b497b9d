package hub

import (
	"context"
	"sync"
	"time"

	"github.com/tickroom/tickroom/game"
)

// A room whose creator left it is closed Config.CreatorGoneTimeout later
// if it is empty then, instead of waiting out the runtime's EmptyTimeout
// (quota.go: the room counts against its creator's share while it
// lives). Empty means no player seat is taken (playersIn): spectators do
// not keep it, or a stranger watching it would hold its creator's share
// for as long as it watched; they are told the room closed. The timeout
// runs on the hub's clock, Config.Now, like kicks,
// bans and held seats: a check of the rooms due reads it, so a clock
// moved forward closes a due room at the next check, within
// creatorGoneCheck of wall time.
//
// A room whose creator's join the game refused at the tick while another
// player's join held a seat in it counts as one its creator left; and
// such a room, while it is kept here, closes at once when a join the game
// refuses at the tick leaves no seat taken in it (Session.joined), as a
// room that refuses its creator with nobody else there does.
//
// On a node of a cluster, a room nobody sits in may still hold seats the
// directory reserved in it for players on their way here, whom another
// node sent with a token (Cluster.Reserved): closed, it would answer them
// ROOM_NOT_FOUND for the seat they were given. Such a room is kept, and
// the directory asked again reservedRecheck later, or when the last
// reservation lapses if that is sooner, until none is held; then, still
// empty, it closes. A room a refused join left empty is closed from the
// check too (closeEmpty), off its tick worker, once the directory has
// answered: within the round trip. A directory that does not answer
// (Cluster.Unreachable, or the call fails) keeps no room open: it closes
// as on a single node.

// creatorGoneCheck bounds the wall time between two checks of the rooms
// due to close while there are any.
const creatorGoneCheck = time.Second

// reservedRecheck bounds the time between two questions to the directory
// about a room kept open for seats reserved in it: a player who took its
// seat, or gave it back, lets the room go within that.
const reservedRecheck = 5 * time.Second

// creatorGone keeps the rooms whose creator left, each with when it closes
// if it is empty then, and one timer for the hub that checks them. A room
// is kept once, with the deadline of its creator's last leave, and
// forgotten at its deadline, closed or not, so it holds at most the rooms
// whose creator left within the last CreatorGoneTimeout, and on a cluster
// those kept for seats reserved in them (each until its reservations
// lapse, a reservation's TTL after the last was made). Safe from any
// goroutine.
type creatorGone struct {
	h *Hub

	mu    sync.Mutex
	due   map[string]goneRoom // room id → when and why it closes
	timer *time.Timer         // armed while due is not empty
	armed bool
	done  bool // shutdown: no more timers
}

// goneRoom is a room of creatorGone: its deadline on Config.Now, the
// reason it closes with, and the user whose leave or refused join left it
// empty, whose own reservation of a seat there (one the directory counts
// until the node writes the room again) keeps nothing open.
type goneRoom struct {
	at   time.Time
	why  string
	user string
	// refused marks a room a refused join left empty, to close at once
	// (closeEmpty): one that another join holds a seat in by the check
	// is kept as a room its creator left, as Session.joined keeps it.
	refused bool
}

func newCreatorGone(h *Hub) *creatorGone {
	return &creatorGone{h: h, due: make(map[string]goneRoom)}
}

// leftRoom runs when userID gave up its seat in roomID: when it created
// the room, the room is closed CreatorGoneTimeout later if it is empty
// then, instead of waiting out the runtime's EmptyTimeout.
func (h *Hub) leftRoom(userID, roomID string) {
	if h.quota.owns(userID, roomID) {
		h.gone.add(roomID, userID)
	}
}

// closeEmpty closes room, which nobody sits in since userID's join was
// refused or its seat given up, at once: on a single node here, on a
// node of a cluster from the check, once the directory said no seat is
// reserved in it (closing it waits for them otherwise). It runs on the
// room's tick worker.
func (h *Hub) closeEmpty(room *game.Room, why, userID string) {
	if h.cluster == nil {
		room.Close(why)
		return
	}
	h.gone.addIn(room.ID(), goneRoom{why: why, user: userID, refused: true}, 0)
}

// add closes roomID CreatorGoneTimeout from now if it is empty then;
// userID, its creator, left it.
func (g *creatorGone) add(roomID, userID string) {
	g.addIn(roomID, goneRoom{why: "empty after its creator left", user: userID}, g.h.cfg.CreatorGoneTimeout)
}

// addIn keeps roomID to close d from now (r.at is set here) if it is
// empty then.
func (g *creatorGone) addIn(roomID string, r goneRoom, d time.Duration) {
	r.at = g.h.cfg.Now().Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	g.due[roomID] = r
	switch {
	case d == 0:
		g.armLocked(0)
	case !g.armed:
		// An armed timer fires within creatorGoneCheck, and then
		// rearms for the nearest deadline.
		g.armLocked(min(d, creatorGoneCheck))
	}
}

// has reports whether roomID's creator left it (or its join was refused
// while others' held seats) less than CreatorGoneTimeout ago, or the room
// is kept, empty, for seats reserved in it.
func (g *creatorGone) has(roomID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.due[roomID]
	return ok
}

// armLocked sets the timer to check in d. The caller holds g.mu.
func (g *creatorGone) armLocked(d time.Duration) {
	g.armed = true
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.check)
		return
	}
	g.timer.Reset(d)
}

// check closes the rooms past their deadline that are empty, forgets them,
// and sets the timer for the next deadline, creatorGoneCheck at most. On
// a node of a cluster it asks the directory first (open): it runs on the
// timer's goroutine, never a loop's or a tick's.
func (g *creatorGone) check() {
	now := g.h.cfg.Now()
	var past map[string]goneRoom
	g.mu.Lock()
	g.armed = false
	next := creatorGoneCheck
	for id, r := range g.due {
		if left := r.at.Sub(now); left > 0 {
			next = min(next, left)
			continue
		}
		delete(g.due, id)
		if past == nil {
			past = make(map[string]goneRoom)
		}
		past[id] = r
	}
	if len(g.due) > 0 && !g.done {
		g.armLocked(next)
	}
	g.mu.Unlock()
	for id, r := range past {
		room, ok := g.h.rt.Room(id)
		if !ok {
			continue
		}
		if playersIn(room) > 0 {
			if r.refused {
				g.add(id, r.user)
			}
			continue
		}
		if wait := g.reserved(id, r.user); wait > 0 {
			g.addIn(id, r, min(wait, reservedRecheck))
			continue
		}
		if playersIn(room) == 0 { // nobody joined while the directory answered
			room.Close(r.why)
		}
	}
}

// reserved returns how long the directory holds seats in roomID for
// players on their way here, other than userID (Cluster.Reserved): 0 on a
// single node, and when the directory does not answer.
func (g *creatorGone) reserved(roomID, userID string) time.Duration {
	c := g.h.cluster
	if c == nil || c.Unreachable() {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	wait, err := c.Reserved(ctx, roomID, userID)
	if err != nil {
		return 0
	}
	return wait
}

// shutdown stops the timer for good.
func (g *creatorGone) shutdown() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	if g.timer != nil {
		g.timer.Stop()
	}
}

// playersIn counts the player seats taken in room (reserved, joined or
// held for a dropped player), spectators left out.
func playersIn(room *game.Room) int { return room.Info().Players }
