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
	kept = notIn(kept, since)
	if len(kept) > 0 {
		c.nextID = max(c.nextID, channelLineIDs(kept))
		all := append(kept, since...)
		c.history = all[max(0, len(all)-so.cfg.HistoryLines):]
		c.head = 0
	}
	c.loaded = true
	so.answerWaitingLocked(c)
}

// notIn returns kept without the lines since holds: the same sender, time
// and text, each line of since standing for one kept line.
func notIn(kept, since []*tickroomv1.Chat) []*tickroomv1.Chat {
	if len(kept) == 0 || len(since) == 0 {
		return kept
	}
	type key struct {
		from, text string
		at         int64
	}
	posted := make(map[key]int, len(since))
	for _, l := range since {
		posted[key{l.FromUserId, l.Text, l.SentAtMs}]++
	}
	out := kept[:0]
	for _, l := range kept {
		if k := (key{l.FromUserId, l.Text, l.SentAtMs}); posted[k] > 0 {
			posted[k]--
			continue
		}
		out = append(out, l)
	}
	return out
}
