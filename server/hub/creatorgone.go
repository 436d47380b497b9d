package hub

import (
	"sync"
	"time"
)

// A room whose creator left it is closed Config.CreatorGoneTimeout later
// if it is empty then, instead of waiting out the runtime's EmptyTimeout
// (quota.go: the room counts against its creator's share while it
// lives). The timeout runs on the hub's clock, Config.Now, like kicks,
// bans and held seats: a check of the rooms due reads it, so a clock
// moved forward closes a due room at the next check, within
// creatorGoneCheck of wall time.
//
// A room whose creator's join the game refused at the tick while another
// player's join held a seat in it counts as one its creator left; and
// such a room, while it is kept here, closes at once when a join the game
// refuses at the tick leaves no seat taken in it (Session.joined), as a
// room that refuses its creator with nobody else there does.

// creatorGoneCheck bounds the wall time between two checks of the rooms
// due to close while there are any.
const creatorGoneCheck = time.Second

// creatorGone keeps the rooms whose creator left, each with when it closes
// if it is empty then, and one timer for the hub that checks them. A room
// is kept once, with the deadline of its creator's last leave, and
// forgotten at its deadline, closed or not, so it holds at most the rooms
// whose creator left within the last CreatorGoneTimeout. Safe from any
// goroutine.
type creatorGone struct {
	h *Hub

	mu    sync.Mutex
	due   map[string]time.Time // room id → deadline on Config.Now
	timer *time.Timer          // armed while due is not empty
	armed bool
	done  bool // shutdown: no more timers
}

func newCreatorGone(h *Hub) *creatorGone {
	return &creatorGone{h: h, due: make(map[string]time.Time)}
}

// leftRoom runs when userID gave up its seat in roomID: when it created
// the room, the room is closed CreatorGoneTimeout later if it is empty
// then, instead of waiting out the runtime's EmptyTimeout.
func (h *Hub) leftRoom(userID, roomID string) {
	if h.quota.owns(userID, roomID) {
		h.gone.add(roomID)
	}
}

// add closes roomID CreatorGoneTimeout from now if it is empty then.
func (g *creatorGone) add(roomID string) {
	timeout := g.h.cfg.CreatorGoneTimeout
	at := g.h.cfg.Now().Add(timeout)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	g.due[roomID] = at
	if !g.armed {
		// Every deadline is CreatorGoneTimeout from its leave: an armed
		// timer fires by the new one's.
		g.armLocked(min(timeout, creatorGoneCheck))
	}
}

// has reports whether roomID's creator left it (or its join was refused
// while others' held seats) less than CreatorGoneTimeout ago.
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
// and sets the timer for the next deadline, creatorGoneCheck at most.
func (g *creatorGone) check() {
	now := g.h.cfg.Now()
	var past []string
	g.mu.Lock()
	g.armed = false
	next := creatorGoneCheck
	for id, at := range g.due {
		if left := at.Sub(now); left > 0 {
			next = min(next, left)
			continue
		}
		delete(g.due, id)
		past = append(past, id)
	}
	if len(g.due) > 0 && !g.done {
		g.armLocked(next)
	}
	g.mu.Unlock()
	for _, id := range past {
		if room, ok := g.h.rt.Room(id); ok && room.Seated() == 0 {
			room.Close("empty after its creator left")
		}
	}
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
