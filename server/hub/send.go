package hub

import (
	"strconv"
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// encode marshals m into a new pooled frame ready for the transport. The
// caller owns the returned reference.
func encode(m *tickroomv1.ServerMessage) *frame.Frame {
	n := m.SizeVT()
	f := frame.New(n)
	b := f.Buffer()[:frame.Headroom+n]
	if _, err := m.MarshalToSizedBufferVT(b[frame.Headroom:]); err != nil {
		// Only a message that changed under us can fail; send nothing.
		f.Release()
		return nil
	}
	f.SetBuffer(b)
	server.PrepareFrame(f, ws.OpBinary)
	return f
}

// send queues m to the session, reliable class. Safe from any goroutine.
func (s *Session) send(m *tickroomv1.ServerMessage) {
	f := encode(m)
	if f == nil {
		return
	}
	if s.conn.SendFrame(f, server.Reliable) == nil {
		s.h.stats.MessagesOut.Add(1)
	}
	f.Release()
}

// sendError refuses request id with code; a request without an id gets no
// reply (ClientMessage.request_id's contract).
func (s *Session) sendError(id uint32, code protocol.ErrorCode, msg string) {
	s.h.stats.Errors.Add(1)
	if id == 0 {
		return
	}
	if msg == "" {
		msg = code.Description()
	}
	s.send(&tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Error{
		Error: &tickroomv1.Error{Code: tickroomv1.ErrorCode(code), Message: msg},
	}})
}

// sendRateLimited refuses request id for the message rate limit, telling
// the client when one more message will be allowed.
func (s *Session) sendRateLimited(id uint32) {
	s.h.stats.Errors.Add(1)
	if id == 0 {
		return
	}
	s.send(&tickroomv1.ServerMessage{RequestId: id, Body: &tickroomv1.ServerMessage_Error{Error: &tickroomv1.Error{
		Code: tickroomv1.ErrorCode(protocol.ErrorRateLimited), Message: "message rate limit exceeded",
		RetryAfterMs: uint32(1000/s.h.cfg.MessageRate) + 1,
	}}})
}

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
		TokenExpiresAtMs:    s.claims.ExpiresAt.UnixMilli(),
		ResumeWindowMs:      uint32(h.cfg.Runtime.DropGrace / time.Millisecond),
		MaxMessageBytes:     uint32(h.cfg.MaxMessageBytes),
		ProtocolVersion:     1,
	}
	for _, hs := range h.heldSeats(s.claims.UserID, now) {
		w.Seats = append(w.Seats, &tickroomv1.HeldSeat{
			RoomId: hs.roomID, Game: hs.game, Seat: hs.seat, Spectator: hs.spectator,
			ExpiresAtMs: hs.expires.UnixMilli(),
		})
	}
	s.send(&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Welcome{Welcome: w}})
}
