package hub

import (
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// A room whose game saves and restores itself (game.Saver) moves to
// another node when this one drains (package cluster's Migrator): the
// room hands itself off (game.Room.Handoff), every member is removed with
// game.RemovedMoved, the room is restored elsewhere under the same id, and
// the members connected here are sent an unsolicited Redirect to the new
// node, where they resume their seats. A move is not a loss: its members
// get no Left and the others no leave notice, the room's creator keeps no
// "empty room" timer here, and no result is recorded.

// movedOut runs on the tick worker for a member removed because its room
// moved: the seat goes with the room, so the session forgets it without a
// Left and waits for MovedTo to say where the room went.
func (h *Hub) movedOut(rm game.Removal) {
	h.dropHeld(rm.UserID, rm.RoomID)  // the seat is held where the room is restored
	defer h.social.EndRoom(rm.RoomID) // its chat went with it (SaveChat)
	s, _ := rm.Client.(*Session)
	if s == nil || !s.forget(rm.RoomID, rm.Seat) {
		return
	}
	h.social.ExitRoom(s.member, rm.RoomID)
	h.mu.Lock()
	h.moved[rm.RoomID] = append(h.moved[rm.RoomID], s)
	h.mu.Unlock()
}

// MovedTo tells the sessions that played in roomID here, when it moved
// away, where it lives now: each gets an unsolicited Redirect (request id
// 0) with the reservation to(userID) returns, and reconnects there to
// resume its seat. With to nil, or when to returns ok false, the room is
// lost instead: the session gets Left with LEAVE_REASON_SERVER_SHUTDOWN.
// It returns how many sessions were redirected. Safe from any goroutine.
func (h *Hub) MovedTo(roomID string, to func(userID string) (r Reservation, ok bool)) int {
	h.mu.Lock()
	list := h.moved[roomID]
	delete(h.moved, roomID)
	h.mu.Unlock()
	n := 0
	for _, s := range list {
		if s.closed.Load() {
			continue // it resumes through whichever node it reaches
		}
		var r Reservation
		ok := false
		if to != nil {
			r, ok = to(s.claims.UserID)
		}
		if !ok {
			s.sendLeft(0, roomID, tickroomv1.LeaveReason_LEAVE_REASON_SERVER_SHUTDOWN, "the room could not be moved off a draining server")
			continue
		}
		h.stats.Redirects.Add(1)
		s.send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Redirect{Redirect: &tickroomv1.Redirect{
			Url: r.URL, Reservation: r.Token, RoomId: roomID, NodeId: r.NodeID,
			ExpiresInMs: uint32(r.TTL / time.Millisecond),
		}}})
		n++
	}
	return n
}

// Adopt records the seats of a room just restored here
// (game.Runtime.RestoreRoom) as held for their users until the drop grace
// ends, as if they had dropped here: a resume (resume_tick set) is
// accepted, and the Welcome of a user who connects here lists the seat.
// Safe from any goroutine.
func (h *Hub) Adopt(room *game.Room, members []*tickroomv1.SavedMember) {
	expires := h.cfg.Now().Add(h.cfg.Runtime.DropGrace)
	for _, m := range members {
		h.holdSeat(m.UserId, heldSeat{
			roomID: room.ID(), game: room.Game(), seat: m.Seat, spectator: m.Spectator, expires: expires,
		})
	}
}

// SaveChat puts the history of the room chat of s.RoomId into s, a room
// its Handoff just saved to move it: call it from the Handoff's callback,
// on the tick worker, before the room's members are removed here (which
// ends its chat on this node). Safe from any goroutine.
func (h *Hub) SaveChat(s *tickroomv1.SavedRoom) {
	s.Chat = h.social.RoomHistory(s.RoomId)
}

// AdoptChat opens the chat of a room just restored here with the history
// it had on the node it moved from (SavedRoom.chat, SaveChat there), ids
// kept, so that members who resume here get its lines. A room that ended
// meanwhile keeps no chat. Safe from any goroutine.
func (h *Hub) AdoptChat(room *game.Room, lines []*tickroomv1.Chat) {
	h.social.SeedRoom(room.ID(), lines)
	if r, ok := h.rt.Room(room.ID()); !ok || r != room || room.Seated() == 0 {
		h.social.EndRoom(room.ID())
	}
}
