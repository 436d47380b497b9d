package hub

import (
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
)

// errDraining refuses a new room or match on a draining hub.
var errDraining = protocol.NewError(protocol.ErrorDraining, "this server is draining; create or quick-match through another")

// Drain stops the hub from starting matches: from now on CreateRoom and
// QuickMatch are refused with ERROR_CODE_DRAINING (in a cluster, QuickMatch
// goes to another node instead), and new players may no longer join a room that
// waits for its match to start. Resumes, spectators and running matches go
// on. Calling it again does nothing. Safe from any goroutine.
func (h *Hub) Drain() {
	if h.draining.CompareAndSwap(false, true) {
		h.log.Info("draining: no new rooms; running matches finish")
	}
}

// CloseWaiting closes the rooms still waiting for their match to start:
// their members get Left with LEAVE_REASON_SERVER_SHUTDOWN and may match
// again elsewhere. A drain calls it once the rooms that can move have
// moved. Safe from any goroutine.
func (h *Hub) CloseWaiting() {
	for _, info := range h.rt.Rooms(game.RoomFilter{Private: true}) {
		if info.Phase != game.PhaseWaiting {
			continue
		}
		if room, ok := h.rt.Room(info.ID); ok {
			room.Close("server draining")
		}
	}
}

// Draining reports whether Drain was called. Safe from any goroutine.
func (h *Hub) Draining() bool { return h.draining.Load() }

// Playing returns the number of rooms whose match runs: what a drain waits
// for. A room whose tick worker is stuck in a game's call (game.Room.Stuck)
// is left out, since its match never ends. Safe from any goroutine.
func (h *Hub) Playing() int {
	n := 0
	for _, info := range h.rt.Rooms(game.RoomFilter{Private: true}) {
		if info.Phase != game.PhaseRunning {
			continue
		}
		if room, ok := h.rt.Room(info.ID); ok && !room.Stuck() {
			n++
		}
	}
	return n
}

// drainRefusal refuses userID joining room as a new player while
// draining, and returns nil otherwise: a room that has not started takes
// no new players, but a member may always come back.
func (h *Hub) drainRefusal(room *game.Room, userID string, spectator bool) error {
	if !h.draining.Load() || spectator || room.Phase() != game.PhaseWaiting {
		return nil
	}
	for _, o := range room.Players() {
		if o.UserID == userID {
			return nil
		}
	}
	return errDraining
}

// CloseRunning closes every room whose match still runs, at its next
// tick: the match ends with reason "closed" and its members are told so
// (MATCH_ENDED, then Left with LEAVE_REASON_SERVER_SHUTDOWN) while their
// connections are still open. A drain whose deadline passed calls it
// before the shutdown. Safe from any goroutine.
func (h *Hub) CloseRunning(reason string) {
	for _, info := range h.rt.Rooms(game.RoomFilter{Private: true}) {
		if info.Phase != game.PhaseRunning {
			continue
		}
		if room, ok := h.rt.Room(info.ID); ok {
			room.Close(reason)
		}
	}
}
