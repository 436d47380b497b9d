package social

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
	ErrBadNotice = errors.New("social: invalid notice")
	// ErrOffline is returned by Notify for a user with no connection.
	ErrOffline = errors.New("social: user is offline")
	// ErrUnavailable is returned by Notify when the user's node cannot be
	// reached (a cluster only).
	ErrUnavailable = errors.New("social: cluster unavailable")
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

// Check refuses a notice without exactly one target, with text that is not
// UTF-8 or with more than 16 KiB of text (ErrBadNotice).
func (n Notice) Check() error {
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
		return fmt.Errorf("%w: set exactly one of user_id, room_id and everyone", ErrBadNotice)
	case !valid:
		return fmt.Errorf("%w: text is not UTF-8", ErrBadNotice)
	case size > maxNoticeBytes:
		return fmt.Errorf("%w: over %d bytes", ErrBadNotice, maxNoticeBytes)
	}
	return nil
}

// Notify pushes a Notification, encoded once, to its recipients' every
// connection, Reliable: it arrives exactly once on each connection that
// stays open; a user's on every node of a cluster where it is connected,
// this one included (SharedUsers), waiting for their answers. A room's
// recipients are the members of its chat (a room that does not exist has
// none: the caller checks rooms). It returns ErrBadNotice for a notice
// Check refuses and ErrOffline for a user with no connection. Safe from
// any goroutine.
func (so *Social) Notify(n Notice) (NoticeResult, error) {
	if err := n.Check(); err != nil {
		return NoticeResult{}, err
	}
	var conns []*server.Conn
	so.mu.Lock()
	switch {
	case n.UserID != "":
		if p := so.users[n.UserID]; p != nil {
			for _, m := range p.members {
				conns = append(conns, m.conn)
			}
		}
	case n.RoomID != "":
		if c := so.rooms[n.RoomID]; c != nil {
			c.mu.Lock()
			for _, m := range c.members {
				conns = append(conns, m.conn)
			}
			c.mu.Unlock()
		}
	default:
		for _, p := range so.users {
			for _, m := range p.members {
				conns = append(conns, m.conn)
			}
		}
	}
	so.mu.Unlock()
	var id [8]byte
	_, _ = rand.Read(id[:])
	res := NoticeResult{ID: hex.EncodeToString(id[:]), Delivered: len(conns)}
	m := &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Notification{Notification: &tickroomv1.Notification{
		Id: res.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, SentAtMs: so.host.Now().UnixMilli(),
		Data: maps.Clone(n.Data), RoomId: n.RoomID,
	}}}
	if so.peers != nil {
		switch {
		case n.UserID != "" && len(conns) == 0:
			return so.notifyRemote(n.UserID, m, res)
		case n.Everyone:
			// Other nodes deliver to theirs; Delivered counts this node's.
			so.peers.Cast(&RemoteOp{Kind: OpNotice, Message: encodeMessage(m)})
		}
	}
	if n.UserID != "" && len(conns) == 0 {
		return NoticeResult{}, ErrOffline
	}
	if !so.host.Send(m, conns) {
		return NoticeResult{}, fmt.Errorf("%w: cannot encode", ErrBadNotice)
	}
	if n.UserID != "" && so.shared() {
		// The user may be connected on other nodes too; Delivered counts
		// theirs once they answer (a node out of reach counts none).
		answer := make(chan RemoteAnswer, 1)
		so.call(&RemoteOp{Kind: OpNotice, To: n.UserID, Message: encodeMessage(m), Elsewhere: true}, func(a RemoteAnswer) { answer <- a })
		if a := <-answer; a.Err == nil && a.Code == 0 {
			res.Delivered += a.Delivered
		}
	}
	so.stats.Notifications.Add(1)
	return res, nil
}

// notifyRemote delivers a user's notice on the nodes where it is
// connected and waits for their answer.
func (so *Social) notifyRemote(userID string, m *tickroomv1.ServerMessage, res NoticeResult) (NoticeResult, error) {
	answer := make(chan RemoteAnswer, 1)
	so.call(&RemoteOp{Kind: OpNotice, To: userID, Message: encodeMessage(m)}, func(a RemoteAnswer) { answer <- a })
	a := <-answer
	switch {
	case a.Err != nil:
		return NoticeResult{}, fmt.Errorf("%w: %w", ErrUnavailable, a.Err)
	case a.Code != 0 || a.Delivered == 0:
		return NoticeResult{}, ErrOffline
	}
	res.Delivered = a.Delivered
	so.stats.Notifications.Add(1)
	return res, nil
}
