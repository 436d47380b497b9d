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
	h.pruneHeldLocked(userID, now)
	list := h.held[userID]
	for i := range list {
		if list[i].roomID == hs.roomID {
			list[i] = hs // the same room: counted already
			return
		}
	}
	h.refRoomLocked(userID, hs.roomID)
	h.held[userID] = append(list, hs)
}

// dropHeld forgets a held seat once it was resumed or given up; it reports
// whether there was one.
func (h *Hub) dropHeld(userID, roomID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.dropHeldLocked(userID, roomID, time.Time{})
	return ok
}

// dropHeldLocked forgets userID's seat held in roomID whose window ends
// after at (the zero time: any), with its count in the user's rooms, and
// returns it; false when there is none. The caller holds h.mu.
func (h *Hub) dropHeldLocked(userID, roomID string, at time.Time) (heldSeat, bool) {
	list := h.held[userID]
	i := slices.IndexFunc(list, func(x heldSeat) bool { return x.roomID == roomID })
	if i < 0 || !list[i].expires.After(at) {
		return heldSeat{}, false
	}
	hs := list[i]
	h.unrefRoomLocked(userID, roomID)
	if list = slices.Delete(list, i, i+1); len(list) == 0 {
		delete(h.held, userID)
	} else {
		h.held[userID] = list
	}
	return hs, true
}

// giveUpHeld gives up userID's seat held in roomID, as the user asked
// from a later connection, and reports whether it was a spectator's; ok
// is false when none is held, or its window has passed. The seat is
// looked up and taken in one step under h.mu, so a resume or another
// leave at the same time takes it or finds it gone. The room lets the
// seat go at its next tick, and its other members see the player leave.
func (h *Hub) giveUpHeld(userID, roomID string) (spectator, ok bool) {
	h.mu.Lock()
	hs, ok := h.dropHeldLocked(userID, roomID, h.cfg.Now())
	h.mu.Unlock()
	if !ok {
		return false, false
	}
	if room, ok := h.rt.Room(roomID); ok {
		_ = room.LeaveAs(hs.seat, userID, nil)
		h.leftRoom(userID, roomID)
	}
	return hs.spectator, true
}

// pruneHeldLocked forgets userID's held seats whose window has passed,
// with their count in the user's rooms, and reports whether there were
// any. The caller holds h.mu.
func (h *Hub) pruneHeldLocked(userID string, now time.Time) bool {
	list := h.held[userID]
	n := len(list)
	list = slices.DeleteFunc(list, func(x heldSeat) bool {
		if x.expires.After(now) {
			return false
		}
		h.unrefRoomLocked(userID, x.roomID)
		return true
	})
	if len(list) == 0 {
		delete(h.held, userID)
	} else {
		h.held[userID] = list
	}
	return len(list) < n
}

// takeHeldLocked forgets every held seat of userID and returns them (a
// kick or a ban frees them at once). The caller holds h.mu.
func (h *Hub) takeHeldLocked(userID string) []heldSeat {
	held := h.held[userID]
	delete(h.held, userID)
	for _, hs := range held {
		h.unrefRoomLocked(userID, hs.roomID)
	}
	return held
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

// The rooms a user is a member of on this node, for Config.MaxRoomsPerUser,
// are counted across all of the user's connections, and the seats held for
// its dropped or replaced ones: Hub.userRooms keeps, for each user with at
// least one, the rooms and how many records name each, one for every
// membership a session lists (pending joins included, spectators too) and
// one for every held seat. A room counts once however many records name
// it: a connection that takes back a held seat, or a second socket that
// takes over the seat of a first, holds the one seat the room gives a
// user. Each record adds its reference where it is made and removes it
// where it is forgotten, under Hub.mu, so the count never needs a scan of
// the sessions; a user with none has no entry.

// roomRefs is a room a user is a member of and how many records name it.
type roomRefs struct {
	id   string
	refs int32
}

// refRoomLocked adds a record of userID's membership in roomID. The
// caller holds h.mu.
func (h *Hub) refRoomLocked(userID, roomID string) {
	list := h.userRooms[userID]
	for i := range list {
		if list[i].id == roomID {
			list[i].refs++
			return
		}
	}
	h.userRooms[userID] = append(list, roomRefs{id: roomID, refs: 1})
}

// unrefRoomLocked removes a record refRoomLocked added; the room stops
// counting with its last one, and the user's entry with its last room.
// The caller holds h.mu.
func (h *Hub) unrefRoomLocked(userID, roomID string) {
	list := h.userRooms[userID]
	for i := range list {
		if list[i].id != roomID {
			continue
		}
		if list[i].refs--; list[i].refs > 0 {
			return
		}
		list = slices.Delete(list, i, i+1)
		if len(list) == 0 {
			delete(h.userRooms, userID)
		} else {
			h.userRooms[userID] = list
		}
		return
	}
}

// mayJoinLocked reports whether userID may become a member of roomID: it
// is one already (a resume, or a seat taken over from another of its
// connections, adds no room), or it is in fewer than MaxRoomsPerUser
// rooms. An empty roomID asks about a room not made yet. The caller holds
// h.mu.
func (h *Hub) mayJoinLocked(userID, roomID string) bool {
	list := h.userRooms[userID]
	if len(list) < h.cfg.MaxRoomsPerUser {
		return true
	}
	// A held seat past its window no longer counts, though nothing may
	// have removed it: one held just as its room let the seat go (a login
	// replacing its connection while the room closed) is never resumed or
	// dropped. A second past it, so that the room's own release of a seat
	// held to the end (onRemoved) still finds it and tells the user.
	if h.pruneHeldLocked(userID, h.cfg.Now().Add(-time.Second)) {
		list = h.userRooms[userID]
		if len(list) < h.cfg.MaxRoomsPerUser {
			return true
		}
	}
	return roomID != "" && slices.ContainsFunc(list, func(r roomRefs) bool { return r.id == roomID })
}

// roomsOf returns how many rooms userID is a member of on this node, as
// Config.MaxRoomsPerUser counts them: through any of its connections, or
// by a seat held for a resume.
func (h *Hub) roomsOf(userID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.userRooms[userID])
}

// trackedUsers returns how many users have a room counted (for tests:
// entries go away at zero).
func (h *Hub) trackedUsers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.userRooms)
}
