package hub

import (
	"slices"
	"time"
)

// heldSeat is a seat the runtime keeps for a user whose connection dropped.
type heldSeat struct {
	roomID    string
	game      string
	seat      uint32
	spectator bool
	expires   time.Time
}

// holdSeat records that userID's seat in a room is kept for a resume, and
// forgets the user's records whose window has passed.
func (h *Hub) holdSeat(userID string, hs heldSeat) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	list := slices.DeleteFunc(h.held[userID], func(x heldSeat) bool { return !x.expires.After(now) })
	for i := range list {
		if list[i].roomID == hs.roomID {
			list[i] = hs
			return
		}
	}
	h.held[userID] = append(list, hs)
}

// dropHeld forgets a held seat once it was resumed or given up; it reports
// whether there was one.
func (h *Hub) dropHeld(userID, roomID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.held[userID]
	found := false
	for i := range list {
		if list[i].roomID == roomID {
			list = append(list[:i], list[i+1:]...)
			found = true
			break
		}
	}
	if len(list) == 0 {
		delete(h.held, userID)
	} else {
		h.held[userID] = list
	}
	return found
}

// heldSeats returns userID's held seats that have not expired.
func (h *Hub) heldSeats(userID string, now time.Time) []heldSeat {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []heldSeat
	for _, hs := range h.held[userID] {
		if hs.expires.After(now) {
			out = append(out, hs)
		}
	}
	return out
}
