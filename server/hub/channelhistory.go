package hub

import (
	"context"
	"errors"
	"fmt"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

// ChannelLog answers GetChannelHistory from the store. *store.DB
// implements it; the server's adds the lines still waiting in the store's
// write queue, with ids above the store's (the tickroom package's
// storeChannels). ChannelLines returns the lines with ids below before
// (0: from the newest), newest first; it waits on the database and runs
// on a lookup worker, never on a loop.
type ChannelLog interface {
	ChannelLines(ctx context.Context, channel string, before int64, limit int) ([]store.Line, error)
}

var _ ChannelLog = (*store.DB)(nil)

// ErrOlderUnread is returned (wrapped) by a ChannelLog with the newest
// lines below before that it could give without the store, when the store
// could not be read: the page holds them and its next_before is the
// oldest one's id, so the client pages on to the stored lines later.
var ErrOlderUnread = errors.New("older channel lines unavailable")

// Page size of GetChannelHistory: a zero limit means the default; one past
// the maximum is refused (docs/limits.md).
const (
	channelPageDefault = 50
	channelPageMax     = store.MaxPage
)

// channelHistory serves GetChannelHistory: a page of older lines of a lobby
// channel the caller joined, read by a lookup worker.
func (s *Session) channelHistory(id uint32, q *tickroomv1.GetChannelHistory) error {
	h := s.h
	if h.cfg.ChannelLog == nil {
		return protocol.NewError(protocol.ErrorUnsupported, "this server keeps no channel history")
	}
	if q.Limit > channelPageMax {
		return protocol.NewError(protocol.ErrorBadRequest, fmt.Sprintf("limit %d is past the most, %d", q.Limit, channelPageMax))
	}
	if !h.social.InChannel(s.member, q.Channel) {
		return protocol.NewError(protocol.ErrorChannelNotFound, "join the channel before reading its history")
	}
	limit := pageSize(q.Limit, channelPageDefault, channelPageMax)
	before := int64(min(q.Before, 1<<63-1))
	channel := q.Channel
	blocks := h.social.Blocks(s.member) // their lines are left out, as live
	return h.lookups.submit(s, id, func(ctx context.Context) (*tickroomv1.ServerMessage, error) {
		// One more than the page tells whether another page follows;
		// the store caps a read at store.MaxPage.
		ls, err := h.cfg.ChannelLog.ChannelLines(ctx, channel, before, min(limit+1, store.MaxPage))
		out := &tickroomv1.ChannelHistoryPage{Channel: channel}
		switch {
		case err != nil && errors.Is(err, ErrOlderUnread) && len(ls) > 0:
			h.logStoreReadFailed("channel history", err)
			ls = ls[:min(len(ls), limit)]
			out.NextBefore = uint64(ls[len(ls)-1].ID)
		case err != nil:
			h.logStoreReadFailed("channel history", err)
			return nil, protocol.NewError(protocol.ErrorInternal, "channel history unavailable; retry later")
		case len(ls) > limit || (len(ls) == limit && limit == store.MaxPage):
			ls = ls[:limit]
			out.NextBefore = uint64(ls[limit-1].ID)
		}
		// The store answers newest first; a page reads oldest first.
		out.Lines = make([]*tickroomv1.Chat, 0, len(ls))
		for i := len(ls) - 1; i >= 0; i-- {
			l := &ls[i]
			if _, blocked := blocks[l.From]; blocked {
				continue
			}
			out.Lines = append(out.Lines, &tickroomv1.Chat{
				Id: uint64(l.ID), Channel: channel, FromUserId: l.From, FromName: l.FromName,
				Text: l.Text, SentAtMs: l.At.UnixMilli(),
			})
		}
		return &tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_ChannelHistoryPage{ChannelHistoryPage: out}}, nil
	})
}
