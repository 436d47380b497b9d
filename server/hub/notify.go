package hub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"unicode/utf8"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

var (
	// ErrBadNotice wraps a Notice that Notify refuses.
	ErrBadNotice = errors.New("hub: invalid notice")
	// ErrNoRoom is returned for an operation on a room that does not exist.
	ErrNoRoom = errors.New("hub: no such room")
)

// Notice is an operator's notification and where it goes: exactly one of
// UserID, RoomID and Everyone.
type Notice struct {
	// UserID sends the notice to every connection of one user.
	UserID string `json:"user_id,omitempty"`
	// RoomID sends the notice to every member of one room, spectators
	// included.
	RoomID string `json:"room_id,omitempty"`
	// Everyone sends the notice to every connection.
	Everyone bool `json:"everyone,omitempty"`
	// Kind is a short machine-readable category ("maintenance").
	Kind string `json:"kind"`
	// Title is a short headline.
	Title string `json:"title"`
	// Body is the text.
	Body string `json:"body"`
	// Data carries kind-specific fields.
	Data map[string]string `json:"data,omitempty"`
}

// NoticeResult tells what Notify did.
type NoticeResult struct {
	// ID is the notification's id, as clients see it.
	ID string `json:"id"`
	// Delivered is the number of connections it was queued on.
	Delivered int `json:"delivered"`
}

// maxNoticeBytes caps a notice's text, data included.
const maxNoticeBytes = 16 << 10

// Notify pushes a Notification, encoded once, to its recipients' every
// connection, Reliable: it arrives exactly once on each connection that
// stays open. It returns ErrNoSession for an offline user, ErrNoRoom for an
// unknown room and ErrBadNotice for a notice without exactly one target or
// with more than 16 KiB of text. Safe from any goroutine.
func (h *Hub) Notify(n Notice) (NoticeResult, error) {
	targets := 0
	for _, set := range []bool{n.UserID != "", n.RoomID != "", n.Everyone} {
		if set {
			targets++
		}
	}
	size := len(n.Kind) + len(n.Title) + len(n.Body)
	valid := utf8.ValidString(n.Kind) && utf8.ValidString(n.Title) && utf8.ValidString(n.Body)
	for k, v := range n.Data {
		size += len(k) + len(v)
		valid = valid && utf8.ValidString(k) && utf8.ValidString(v)
	}
	switch {
	case targets != 1:
		return NoticeResult{}, fmt.Errorf("%w: set exactly one of user_id, room_id and everyone", ErrBadNotice)
	case !valid:
		return NoticeResult{}, fmt.Errorf("%w: text is not UTF-8", ErrBadNotice)
	case size > maxNoticeBytes:
		return NoticeResult{}, fmt.Errorf("%w: over %d bytes", ErrBadNotice, maxNoticeBytes)
	}
	var conns []*server.Conn
	switch {
	case n.UserID != "":
		h.mu.Lock()
		for _, s := range h.users[n.UserID] {
			conns = append(conns, s.conn)
		}
		h.mu.Unlock()
		if len(conns) == 0 {
			return NoticeResult{}, ErrNoSession
		}
	case n.RoomID != "":
		if _, ok := h.rt.Room(n.RoomID); !ok {
			return NoticeResult{}, ErrNoRoom
		}
		so := h.social
		so.mu.Lock()
		if c := so.rooms[n.RoomID]; c != nil {
			c.mu.Lock()
			for _, s := range c.members {
				conns = append(conns, s.conn)
			}
			c.mu.Unlock()
		}
		so.mu.Unlock()
	default:
		h.mu.Lock()
		for _, ss := range h.users {
			for _, s := range ss {
				conns = append(conns, s.conn)
			}
		}
		h.mu.Unlock()
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	res := NoticeResult{ID: hex.EncodeToString(id[:]), Delivered: len(conns)}
	m := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Notification{Notification: &tickroomv1.Notification{
		Id: res.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, SentAtMs: h.cfg.Now().UnixMilli(),
		Data: maps.Clone(n.Data), RoomId: n.RoomID,
	}}}
	if !h.broadcast(m, conns) {
		return NoticeResult{}, fmt.Errorf("%w: cannot encode", ErrBadNotice)
	}
	h.stats.Notifications.Add(1)
	h.log.Info("notification sent", "id", res.ID, "user", n.UserID, "room", n.RoomID, "delivered", res.Delivered)
	return res, nil
}
