package hub

// RoomsOf is roomsOf, for the hub_test package.
func (h *Hub) RoomsOf(userID string) int { return h.roomsOf(userID) }

// TrackedUsers is trackedUsers, for the hub_test package.
func (h *Hub) TrackedUsers() int { return h.trackedUsers() }
