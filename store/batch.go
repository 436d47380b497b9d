package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Batch is a set of writes stored in one transaction: what a WriteQueue
// collects between flushes.
type Batch struct {
	Results []Result
	Lines   []Line
	// Graph holds social graph changes, applied in order after the
	// results and lines.
	Graph []GraphOp
}

// Len returns the number of items in b.
func (b *Batch) Len() int { return len(b.Results) + len(b.Lines) + len(b.Graph) }

// GraphOpKind is what a GraphOp changes.
type GraphOpKind uint8

const (
	// GraphPutFriendship stores GraphOp.Friendship (a request or an
	// accepted friendship), replacing any edge between the two users.
	GraphPutFriendship GraphOpKind = iota + 1
	// GraphDeleteFriendship removes any edge between A and B.
	GraphDeleteFriendship
	// GraphBlock records that A blocks B; GraphUnblock lifts it.
	GraphBlock
	GraphUnblock
)

// GraphOp is one change to the social graph, queued like results and
// lines so that the hub never waits on the database for it.
type GraphOp struct {
	Kind       GraphOpKind
	Friendship Friendship // GraphPutFriendship
	A, B       string     // the others
	At         time.Time  // GraphBlock: since when; zero means now
}

func checkGraphOp(op *GraphOp) error {
	switch op.Kind {
	case GraphPutFriendship:
		f := op.Friendship
		if f.From == "" || f.To == "" || f.From == f.To || (f.State != FriendPending && f.State != FriendAccepted) {
			return fmt.Errorf("%w: friendship %q→%q %q", ErrInvalid, f.From, f.To, f.State)
		}
	case GraphDeleteFriendship, GraphBlock, GraphUnblock:
		if op.A == "" || op.B == "" || op.A == op.B {
			return fmt.Errorf("%w: a graph change needs two different users", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: graph change kind %d", ErrInvalid, op.Kind)
	}
	return nil
}

// writeGraph applies ops in order.
func writeGraph(ctx context.Context, tx *sql.Tx, ops []GraphOp) error {
	for _, op := range ops {
		var err error
		switch op.Kind {
		case GraphPutFriendship:
			f := op.Friendship
			if f.Since.IsZero() {
				f.Since = time.Now()
			}
			a, b := pair(f.From, f.To)
			_, err = tx.ExecContext(ctx, putFriendshipSQL, a, b, f.From, f.To, string(f.State), ms(f.Since))
		case GraphDeleteFriendship:
			a, b := pair(op.A, op.B)
			_, err = tx.ExecContext(ctx, deleteFriendshipSQL, a, b)
		case GraphBlock:
			at := op.At
			if at.IsZero() {
				at = time.Now()
			}
			_, err = tx.ExecContext(ctx, blockSQL, op.A, op.B, ms(at))
		case GraphUnblock:
			_, err = tx.ExecContext(ctx, unblockSQL, op.A, op.B)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

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
	for i := range b.Graph {
		if err := checkGraphOp(&b.Graph[i]); err != nil {
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
		return writeGraph(ctx, tx, b.Graph)
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
