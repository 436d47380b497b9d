package store

import (
	"context"
	"strconv"
	"strings"
)

// AppendLines implements Chat.
func (db *DB) AppendLines(ctx context.Context, lines []Line) error {
	b := Batch{Lines: lines}
	return db.Write(ctx, &b)
}

// ChannelLines implements Chat.
func (db *DB) ChannelLines(ctx context.Context, channel string, before int64, limit int) ([]Line, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	return db.lines(ctx, "reading a channel", `SELECT id, channel, '', from_id, from_name, text, at_ms FROM channel_lines
		WHERE channel = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, channel, before, limit)
}

// Inbox implements Chat.
func (db *DB) Inbox(ctx context.Context, user string) ([]Line, error) {
	return db.lines(ctx, "reading an inbox", `SELECT id, '', to_id, from_id, from_name, text, at_ms FROM inbox WHERE to_id = $1 ORDER BY id`, user)
}

// AckInbox implements Chat. It deletes the messages named, never one
// below them it did not name: on PostgreSQL ids are taken as rows are
// inserted, not as they commit, so a message with a lower id may commit
// after Inbox read a higher one (two nodes' write queues keeping messages
// for one user) and must wait for the next read.
func (db *DB) AckInbox(ctx context.Context, user string, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), rowsPerStatement)
		var q strings.Builder
		q.WriteString(`DELETE FROM inbox WHERE to_id = $1 AND id IN (`)
		args := make([]any, 0, n+1)
		args = append(args, user)
		for i, id := range ids[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("$" + strconv.Itoa(i+2))
			args = append(args, id)
		}
		q.WriteByte(')')
		if _, err := db.exec(ctx, "acknowledging an inbox", q.String(), args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (db *DB) lines(ctx context.Context, op, query string, args ...any) ([]Line, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, db.fail(op, err)
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		var l Line
		var at int64
		if err := rows.Scan(&l.ID, &l.Channel, &l.To, &l.From, &l.FromName, &l.Text, &at); err != nil {
			return nil, db.fail(op, err)
		}
		l.At = fromMS(at)
		out = append(out, l)
	}
	return out, db.fail(op, rows.Err())
}
