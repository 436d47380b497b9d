package social

import (
	"context"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// ChannelStore keeps lobby channel lines across restarts. Recent runs on
// a goroutine of its own when a channel opens on this node and may wait on
// a database; Keep is called on a member's loop and must never block (a
// store queues the line and writes it later).
type ChannelStore interface {
	// Recent returns the newest n lines of the channel, oldest first.
	Recent(ctx context.Context, channel string, n int) ([]*tickroomv1.Chat, error)
	// Keep records one line.
	Keep(line *tickroomv1.Chat)
}

// channelLoadTimeout bounds one channel's load.
const channelLoadTimeout = 10 * time.Second

// keepLine records a lobby channel line when there is a ChannelStore.
func (so *Social) keepLine(line *tickroomv1.Chat) {
	if so.cfg.Channels != nil {
		so.cfg.Channels.Keep(line)
	}
}

// loadChannel puts the lines kept for lobby channel c before the lines
// posted since it opened, then answers the joins that waited for them. A
// failed load answers them with what there is. It runs on a goroutine of
// its own. A line posted since the channel opened may be among the kept
// ones too (written, or waiting in the store's queue, before they were
// read: a member may post before the load ends): it is kept once, as
// posted.
func (so *Social) loadChannel(name string, c *channel) {
	ctx, cancel := context.WithTimeout(context.Background(), channelLoadTimeout)
	kept, err := so.cfg.Channels.Recent(ctx, name, so.cfg.HistoryLines)
	cancel()
	if err != nil {
		so.stats.ChannelLoadErrors.Add(1)
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	since := c.lines()
	kept = WithoutLines(kept, since)
	if len(kept) > 0 {
		c.nextID = max(c.nextID, channelLineIDs(kept))
		all := append(kept, since...)
		c.history = all[max(0, len(all)-so.cfg.HistoryLines):]
		c.head = 0
	}
	c.loaded = true
	so.answerWaitingLocked(c)
}

// WithoutLines returns lines without those seen holds, a line being the
// same sender, time and text, each line of seen standing for one of lines.
// It reuses lines' array. The store's lines have no id of the channel's
// own (channelLineIDs numbers them), so this is how one found both kept
// and posted, or written and still waiting to be, is kept once.
func WithoutLines(lines, seen []*tickroomv1.Chat) []*tickroomv1.Chat {
	if len(lines) == 0 || len(seen) == 0 {
		return lines
	}
	type key struct {
		from, text string
		at         int64
	}
	held := make(map[key]int, len(seen))
	for _, l := range seen {
		held[key{l.FromUserId, l.Text, l.SentAtMs}]++
	}
	out := lines[:0]
	for _, l := range lines {
		if k := (key{l.FromUserId, l.Text, l.SentAtMs}); held[k] > 0 {
			held[k]--
			continue
		}
		out = append(out, l)
	}
	return out
}
