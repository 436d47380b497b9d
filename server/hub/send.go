package hub

import (
	"strconv"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// send queues m to the session, reliable class. Safe from any goroutine.
func (s *Session) send(m *tickroomv1.ServerMessage) { s.h.fan.Reply(s.conn, m) }

// reply sends m as the answer to request id; a request without an id gets
// no reply (ClientMessage.request_id's contract).
func (s *Session) reply(id uint32, m *tickroomv1.ServerMessage) {
	if id == 0 {
		return
	}
	m.RequestId = id
	s.send(m)
}

func (s *Session) sendPong(id uint32, clientTime float64) {
	s.reply(id, &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Pong{
		Pong: &tickroomv1.Pong{ClientTimeMs: clientTime, ServerTimeMs: s.h.cfg.Now().UnixMilli()},
	}})
}

// sendLeft tells the session, unsolicited, that it lost a seat.
func (s *Session) sendLeft(id uint32, roomID string, reason tickroomv1.LeaveReason, msg string) {
	m := leftMessage(roomID, reason, msg)
	m.RequestId = id
	s.send(m)
}

func leftMessage(roomID string, reason tickroomv1.LeaveReason, msg string) *tickroomv1.ServerMessage {
	return &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Left{
		Left: &tickroomv1.Left{RoomId: roomID, Reason: reason, Message: msg},
	}}
}

// sendWelcome greets a new session with the seats held for its user: those
// of a connection it replaced and those kept from dropped connections.
func (h *Hub) sendWelcome(s *Session) {
	now := h.cfg.Now()
	w := &tickroomv1.Welcome{
		UserId:              s.claims.UserID,
		Name:                s.claims.Name,
		Guest:               s.claims.Guest,
		ConnectionId:        strconv.FormatUint(s.conn.ID(), 10),
		ServerTimeMs:        now.UnixMilli(),
		HeartbeatIntervalMs: uint32(h.cfg.HeartbeatInterval / time.Millisecond),
		TokenExpiresAtMs:    s.expires,
		ResumeWindowMs:      uint32(h.cfg.Runtime.DropGrace / time.Millisecond),
		MaxMessageBytes:     uint32(h.srv.MaxMessageSize()),
		ProtocolVersion:     protocol.Version,
	}
	for _, hs := range h.heldSeats(s.claims.UserID, now) {
		w.Seats = append(w.Seats, &tickroomv1.HeldSeat{
			RoomId: hs.roomID, Game: hs.game, Seat: hs.seat, Spectator: hs.spectator,
			ExpiresAtMs: hs.expires.UnixMilli(),
		})
	}
	s.send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Welcome{Welcome: w}})
}
