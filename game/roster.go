package game

import (
	"maps"
	"time"
)

// Occupant is a taken seat as a lobby sees it.
type Occupant struct {
	Seat      uint32
	UserID    string
	Name      string
	Spectator bool
	// Connected is false while the member is within its resume window.
	Connected bool
	// HeldUntil, while not Connected, is when the seat stops being held;
	// zero until the room's tick has processed the drop.
	HeldUntil time.Time
}

// Players returns the occupied player seats (spectators excluded), joined
// or dropped, in seat order. Safe from any goroutine.
func (r *Room) Players() []Occupant {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Occupant
	for i := range r.seats[:r.maxPlayers] {
		s := &r.seats[i]
		if s.state == seatJoined || s.state == seatDropped {
			o := Occupant{Seat: uint32(i + 1), UserID: s.userID, Name: s.name, Connected: s.state == seatJoined}
			if !o.Connected && s.heldUntil != 0 {
				o.HeldUntil = r.rt.timeAt(s.heldUntil)
			}
			out = append(out, o)
		}
	}
	return out
}

// Options returns a copy of the game options the room was created with.
// Safe from any goroutine.
func (r *Room) Options() map[string]string { return maps.Clone(r.options) }
