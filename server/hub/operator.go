package hub

import (
	"errors"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/social"
)

// The operator's views of users and notices are social's.
type (
	// PlayerInfo describes an online user for the operator.
	PlayerInfo = social.PlayerInfo
	// ConnInfo is one connection of a user.
	ConnInfo = social.ConnInfo
	// Notice is an operator's notification and where it goes.
	Notice = social.Notice
	// NoticeResult tells what Notify did.
	NoticeResult = social.NoticeResult
	// SocialConfig limits chat, direct messages, contact lists and
	// presence queries.
	SocialConfig = social.Config
)

var (
	// ErrBadNotice wraps a Notice that Notify refuses.
	ErrBadNotice = social.ErrBadNotice
	// ErrNoRoom is returned for an operation on a room that does not exist.
	ErrNoRoom = errors.New("hub: no such room")
	// ErrUnavailable is returned by Notify when the user's node cannot be
	// reached (a cluster only).
	ErrUnavailable = social.ErrUnavailable
)

// Players returns every online user, sorted by id. Safe from any
// goroutine.
func (h *Hub) Players() []PlayerInfo { return h.social.Players() }

// PlayerPage returns the online users that match keeps (every one when
// nil), sorted by id: at most limit of them from the offset-th, and how
// many matched. It builds the records of that page only; match runs
// outside the lock the social operations share. Safe from any goroutine.
func (h *Hub) PlayerPage(match func(userID, name string) bool, offset, limit int) ([]PlayerInfo, int) {
	return h.social.PlayerPage(match, offset, limit)
}

// Player returns one online user; false when the user is offline. Safe
// from any goroutine.
func (h *Hub) Player(userID string) (PlayerInfo, bool) { return h.social.Player(userID) }

// RoomMembers returns the user ids of a room's connected members (players
// and spectators), sorted. Safe from any goroutine.
func (h *Hub) RoomMembers(roomID string) []string { return h.social.RoomMembers(roomID) }

// Presence returns a user's current status. Safe from any goroutine.
func (h *Hub) Presence(userID string) *tickroomv1.Presence { return h.social.Presence(userID) }

// Notify pushes a Notification, encoded once, to its recipients' every
// connection, Reliable: it arrives exactly once on each connection that
// stays open. It returns ErrNoSession for an offline user, ErrNoRoom for an
// unknown room and ErrBadNotice for a notice without exactly one target or
// with more than 16 KiB of text. Safe from any goroutine.
func (h *Hub) Notify(n Notice) (NoticeResult, error) {
	if err := n.Check(); err != nil {
		return NoticeResult{}, err
	}
	if n.RoomID != "" {
		if _, ok := h.rt.Room(n.RoomID); !ok {
			return NoticeResult{}, ErrNoRoom
		}
	}
	res, err := h.social.Notify(n)
	if errors.Is(err, social.ErrOffline) {
		return NoticeResult{}, ErrNoSession
	}
	if err != nil {
		return NoticeResult{}, err
	}
	h.log.Info("notification sent", "id", res.ID, "user", n.UserID, "room", n.RoomID, "delivered", res.Delivered)
	return res, nil
}

// CloseRoom closes a room at its next tick: its members get Left with
// LEAVE_REASON_ROOM_CLOSED. It returns ErrNoRoom for an unknown room. Safe
// from any goroutine.
func (h *Hub) CloseRoom(roomID, reason string) error {
	room, ok := h.rt.Room(roomID)
	if !ok {
		return ErrNoRoom
	}
	room.Close(reason)
	h.log.Info("room closed by operator", "room", roomID, "reason", reason)
	return nil
}

// ShuttingDown reports whether Shutdown has started. Safe from any
// goroutine.
func (h *Hub) ShuttingDown() bool { return h.isShutting() }
