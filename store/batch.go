package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// Batch is a set of writes stored in one transaction: what a WriteQueue
// collects between flushes.
type Batch struct {
	Results []Result
	Lines   []Line
}

// Len returns the number of items in b.
func (b *Batch) Len() int { return len(b.Results) + len(b.Lines) }

// Write stores every result and line of b in one transaction, updates the
// standings and trims the channels and inboxes it touched to their bounds.
// It fills in the IDs.
func (db *DB) Write(ctx context.Context, b *Batch) error {
	for i := range b.Results {
		if err := checkResult(&b.Results[i]); err != nil {
			return err
		}
	}
	for i := range b.Lines {
		if err := checkLine(&b.Lines[i]); err != nil {
			return err
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return db.tx(ctx, "writing a batch", func(tx *sql.Tx) error {
		if err := insertResults(ctx, tx, b.Results); err != nil {
			return err
		}
		var channels, inboxes []string
		for i := range b.Lines {
			l := &b.Lines[i]
			var err error
			if l.Channel != "" {
				err = tx.QueryRowContext(ctx, `INSERT INTO channel_lines (channel, from_id, from_name, text, at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
					l.Channel, l.From, l.FromName, l.Text, ms(l.At)).Scan(&l.ID)
				if !slices.Contains(channels, l.Channel) {
					channels = append(channels, l.Channel)
				}
			} else {
				err = tx.QueryRowContext(ctx, `INSERT INTO inbox (to_id, from_id, from_name, text, at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
					l.To, l.From, l.FromName, l.Text, ms(l.At)).Scan(&l.ID)
				if !slices.Contains(inboxes, l.To) {
					inboxes = append(inboxes, l.To)
				}
			}
			if err != nil {
				return err
			}
		}
		for _, c := range channels {
			if _, err := tx.ExecContext(ctx, `DELETE FROM channel_lines WHERE channel = $1 AND id <= (SELECT id FROM channel_lines WHERE channel = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`, c, db.cfg.ChannelKeep); err != nil {
				return err
			}
		}
		for _, u := range inboxes {
			if _, err := tx.ExecContext(ctx, `DELETE FROM inbox WHERE to_id = $1 AND id <= (SELECT id FROM inbox WHERE to_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`, u, db.cfg.InboxKeep); err != nil {
				return err
			}
		}
		return nil
	})
}

// MaxLineLen caps a stored chat line's text in bytes.
const MaxLineLen = 4096

func checkLine(l *Line) error {
	if (l.Channel == "") == (l.To == "") {
		return fmt.Errorf("%w: a line goes to a channel or to a user, not both or neither", ErrInvalid)
	}
	if l.From == "" || len(l.Text) > MaxLineLen || len(l.FromName) > MaxNameLen {
		return fmt.Errorf("%w: a line needs a sender and at most %d bytes of text", ErrInvalid, MaxLineLen)
	}
	return nil
}

// MaxResultPlayers caps the players of one result.
const MaxResultPlayers = 1024

func checkResult(r *Result) error {
	if r.Game == "" || len(r.Players) > MaxResultPlayers {
		return fmt.Errorf("%w: a result needs a game and at most %d players", ErrInvalid, MaxResultPlayers)
	}
	for _, p := range r.Players {
		if p.UserID == "" {
			return fmt.Errorf("%w: a result player without a user id", ErrInvalid)
		}
	}
	return nil
}
