package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Batch is a set of writes stored in one transaction: what a WriteQueue
// collects between flushes. DB.Write refuses the whole batch with
// ErrInvalid when one item is invalid: a result without a game, with more
// than MaxResultPlayers players or with a score past ±MaxScore, a line
// longer than MaxLineLen, a graph change without two different users, or
// any of their strings holding a NUL byte or bytes that are not UTF-8. A
// WriteQueue drops such an item when it is added, so it never takes others
// down with it.
type Batch struct {
	Results []Result
	Lines   []Line
	// Graph holds social graph changes, applied in order after the
	// results and lines.
	Graph []GraphOp

	// writer and seq mark a WriteQueue's batch (DB.Write): the queue's
	// id and the batch's number, from 1, the same for each write of the
	// batch. A batch without a writer is not marked.
	writer string
	seq    int64
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
	// Done, when not nil, is called once the op is written or given up
	// (dropped past the queue's bound or at shutdown, or refused by the
	// database): by WriteQueue, on its goroutine, or on the caller's when
	// AddGraph drops it. A BatchWriter ignores it.
	Done func()
}

// graphDone calls the Done of each op and forgets it.
func graphDone(ops []GraphOp) {
	for i := range ops {
		if f := ops[i].Done; f != nil {
			ops[i].Done = nil
			f()
		}
	}
}

// linesDone calls the Done of each line and forgets it: with the line's
// ID when written, with 0 when given up.
func linesDone(lines []Line, written bool) {
	for i := range lines {
		if f := lines[i].Done; f != nil {
			lines[i].Done = nil
			var id int64
			if written {
				id = lines[i].ID
			}
			f(id)
		}
	}
}

func checkGraphOp(op *GraphOp) error {
	switch op.Kind {
	case GraphPutFriendship:
		f := op.Friendship
		if f.From == "" || f.To == "" || f.From == f.To || (f.State != FriendPending && f.State != FriendAccepted) {
			return fmt.Errorf("%w: friendship %q→%q %q", ErrInvalid, f.From, f.To, f.State)
		}
		if badText(f.From, f.To) {
			return errText
		}
	case GraphDeleteFriendship, GraphBlock, GraphUnblock:
		if op.A == "" || op.B == "" || op.A == op.B {
			return fmt.Errorf("%w: a graph change needs two different users", ErrInvalid)
		}
		if badText(op.A, op.B) {
			return errText
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
			_, err = tx.ExecContext(ctx, putFriendshipSQL, a, b, f.From, f.To, string(f.State), ms(f.Since), f.FromAddr, f.FromSite)
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
//
// A WriteQueue writes a batch again whole when its write reported an
// error, and a commit that reached the database can report one (the
// connection lost during the commit, a timeout once the server had it).
// So a queue's batch is marked: the transaction first records it as its
// queue's last batch written (the table batch_marks, one row per queue),
// and a write that finds it recorded already commits nothing more, its
// IDs left as the write that committed filled them in. Each of its
// channel lines, direct messages, results and graph changes is thus
// stored once, whatever it holds (markBatch). A batch written by another
// caller (AppendLines, WriteResults) is not marked: written twice, it
// records its keyed results once (Result.Key) and leaves the social graph
// as one write does, but stores its lines, and its keyless results, twice.
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
	var evicted channelEviction
	err := db.tx(ctx, "writing a batch", func(tx *sql.Tx) error {
		if b.writer != "" {
			switch written, err := db.markBatch(ctx, tx, b); {
			case err != nil:
				return err
			case written:
				return nil
			}
		}
		look, err := insertResults(ctx, tx, b.Results, db.cfg.trimEvery)
		if err != nil {
			return err
		}
		if err := trimResults(ctx, tx, look, db.cfg.ResultKeep, db.cfg.trimEvery); err != nil {
			return err
		}
		var channels, inboxes []string
		var senders []inboxSender
		var lastIDs []int64 // per channel, its newest line in b
		for i := range b.Lines {
			l := &b.Lines[i]
			var err error
			if l.Channel != "" {
				err = tx.QueryRowContext(ctx, `INSERT INTO channel_lines (channel, from_id, from_name, text, at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
					l.Channel, l.From, l.FromName, l.Text, ms(l.At)).Scan(&l.ID)
				if j := slices.Index(channels, l.Channel); j >= 0 {
					lastIDs[j] = l.ID
				} else {
					channels = append(channels, l.Channel)
					lastIDs = append(lastIDs, l.ID)
				}
			} else {
				err = tx.QueryRowContext(ctx, `INSERT INTO inbox (to_id, from_id, from_name, text, at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
					l.To, l.From, l.FromName, l.Text, ms(l.At)).Scan(&l.ID)
				if !slices.Contains(inboxes, l.To) {
					inboxes = append(inboxes, l.To)
				}
				if s := (inboxSender{l.To, l.From}); !slices.Contains(senders, s) {
					senders = append(senders, s)
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
		if len(channels) > 0 {
			var err error
			if evicted, err = db.boundChannels(ctx, tx, channels, lastIDs); err != nil {
				return err
			}
		}
		// A sender's own oldest go first, so that it never pushes
		// another's out of the recipient's InboxKeep.
		for _, s := range senders {
			if _, err := tx.ExecContext(ctx, `DELETE FROM inbox WHERE to_id = $1 AND from_id = $2 AND id <= (SELECT id FROM inbox WHERE to_id = $1 AND from_id = $2 ORDER BY id DESC LIMIT 1 OFFSET $3)`, s.to, s.from, db.cfg.InboxPerSender); err != nil {
				return err
			}
		}
		// Then the strangers' oldest, so that many senders each within
		// its share never push a friend's out either.
		for _, u := range inboxes {
			if _, err := tx.ExecContext(ctx, trimStrangersSQL, u, db.cfg.InboxStrangers); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM inbox WHERE to_id = $1 AND id <= (SELECT id FROM inbox WHERE to_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`, u, db.cfg.InboxKeep); err != nil {
				return err
			}
		}
		return writeGraph(ctx, tx, b.Graph)
	})
	if err == nil && evicted.ran {
		db.channelsOver.Store(evicted.full)
	}
	if err == nil {
		db.boundWAL(ctx)
	}
	return err
}

// trimStrangersSQL deletes, from the inbox of $1, the messages of senders
// who are not its friends but their newest $2 (Config.InboxStrangers).
var trimStrangersSQL = `DELETE FROM inbox WHERE to_id = $1 AND NOT EXISTS (` + friendOfSQL("inbox") + `)
	AND id <= (SELECT s.id FROM inbox s WHERE s.to_id = $1 AND NOT EXISTS (` + friendOfSQL("s") + `) ORDER BY s.id DESC LIMIT 1 OFFSET $2)`

// friendOfSQL selects the accepted friendship of $1 with the sender of
// the inbox row named row, if they are friends.
func friendOfSQL(row string) string {
	return `SELECT 1 FROM friendships f WHERE f.state = 'accepted' AND ((f.user_a = ` + row + `.from_id AND f.user_b = $1) OR (f.user_a = $1 AND f.user_b = ` + row + `.from_id))`
}

// inboxSender is a sender's messages in one recipient's inbox.
type inboxSender struct{ to, from string }

// markTTL is how long a write queue's mark is kept after its last batch:
// a queue that has written nothing for as long (a node long out of reach
// of the database, or one that stopped) may lose it to the first batch of
// a queue started since. Such a queue's next batch marks it again, and a
// retry of a batch committed more than markTTL before would be written
// again.
const markTTL = 7 * 24 * time.Hour

// markBacklog is how many expired marks the first batch of a queue
// deletes: each queue adds one row, so the table holds about a row for
// each queue started within markTTL.
const markBacklog = 16

// markBatch records b as its queue's last batch written, in tx, and
// reports whether it was already (then tx must write nothing more). A
// queue writes its batches one at a time, in order, each until it is
// written or given up, so its last mark tells every batch of it written
// from any other: one upsert of the queue's row, an index lookup, per
// batch. On PostgreSQL a retry whose first write is still committing (its
// connection lost as the commit went) waits for that transaction's lock on
// the row, then finds the mark or, the first rolled back, writes; a session
// the server never saw closed holds it at most Config.IdleInTransaction. The
// first batch of a queue also deletes up to markBacklog marks not written
// for markTTL, walking batch_marks_at.
func (db *DB) markBatch(ctx context.Context, tx *sql.Tx, b *Batch) (written bool, err error) {
	now := ms(db.cfg.now())
	res, err := tx.ExecContext(ctx, `INSERT INTO batch_marks (writer, seq, at_ms) VALUES ($1, $2, $3)
		ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, at_ms = excluded.at_ms WHERE batch_marks.seq < excluded.seq`, b.writer, b.seq, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 0 {
		return true, nil
	}
	if b.seq == 1 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM batch_marks WHERE writer IN (SELECT writer FROM batch_marks WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)`,
			now-markTTL.Milliseconds(), markBacklog); err != nil {
			return false, err
		}
	}
	return false, nil
}

// evictBacklog is how many channels past ChannelHistories, and how many
// expired ones, one write drops besides those its own new channels push
// out: each dropped channel holds at most ChannelKeep lines, so a write
// deletes at most (new channels + 2 × evictBacklog) × ChannelKeep lines.
const evictBacklog = 16

// channelEviction is what boundChannels did, applied to DB.channelsOver
// once its transaction commits.
type channelEviction struct {
	ran  bool // it looked for channels past ChannelHistories
	full bool // and found as many as it may drop at once: there may be more
}

// boundChannels records the channels a write added lines to (with their
// newest line's id) and keeps the channels that have history within
// their bounds: at most ChannelHistories, the least recently written
// dropped first, and none whose last line was written more than
// ChannelTTL ago. Each step is an index lookup or walk of channel_heads
// plus deletes by channel_lines' channel index, and it drops a bounded
// number of channels, so a write of channel lines stays short.
func (db *DB) boundChannels(ctx context.Context, tx *sql.Tx, channels []string, lastIDs []int64) (channelEviction, error) {
	now := ms(db.cfg.now())
	added := 0
	for i, c := range channels {
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM channel_heads WHERE channel = $1`, c).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			added++
		case err != nil:
			return channelEviction{}, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO channel_heads (channel, last_id, last_ms) VALUES ($1, $2, $3)
			ON CONFLICT (channel) DO UPDATE SET last_id = excluded.last_id, last_ms = excluded.last_ms`, c, lastIDs[i], now); err != nil {
			return channelEviction{}, err
		}
	}
	var ev channelEviction
	var drop []string
	if added > 0 || db.channelsOver.Load() {
		// Channels past the newest ChannelHistories, walked on
		// channel_heads_last_id: the n a write added pushes out, and up
		// to evictBacklog more. There are more than n when a backlog
		// waits (a start with more than ChannelHistories kept), and
		// after k nodes' writes added channels at once on PostgreSQL:
		// each saw its own new channel and not the others', and all
		// pushed out the same one, leaving up to k − 1 over the bound,
		// which a write that dropped only its n kept for good; the next
		// write that adds a channel sheds them.
		limit := added + evictBacklog
		var err error
		if drop, err = txStrings(ctx, tx, `SELECT channel FROM channel_heads ORDER BY last_id DESC LIMIT $1 OFFSET $2`, limit, db.cfg.ChannelHistories); err != nil {
			return channelEviction{}, err
		}
		ev = channelEviction{ran: true, full: len(drop) == limit && limit > added}
	}
	// Channels silent for ChannelTTL, walked on channel_heads_last_ms.
	expired, err := txStrings(ctx, tx, `SELECT channel FROM channel_heads WHERE last_ms < $1 ORDER BY last_ms LIMIT $2`, now-db.cfg.ChannelTTL.Milliseconds(), evictBacklog)
	if err != nil {
		return channelEviction{}, err
	}
	for _, c := range expired {
		if !slices.Contains(drop, c) {
			drop = append(drop, c)
		}
	}
	for _, c := range drop {
		if _, err := tx.ExecContext(ctx, `DELETE FROM channel_lines WHERE channel = $1`, c); err != nil {
			return channelEviction{}, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM channel_heads WHERE channel = $1`, c); err != nil {
			return channelEviction{}, err
		}
	}
	return ev, nil
}

// txStrings returns the first column of query's rows, read within tx.
func txStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
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
	if badText(l.Channel, l.To, l.From, l.FromName, l.Text) {
		return errText
	}
	return nil
}

// MaxResultPlayers caps the players of one result.
const MaxResultPlayers = 1024

// MaxScore bounds a result player's score either way. A player's
// standing adds its scores up in a 64-bit column: at the bound, 9 million
// results of one game before it could overflow, where one score near 2^63
// overflowed the next sum, which PostgreSQL refuses and SQLite keeps as a
// REAL that its reads then fail on.
const MaxScore = 1_000_000_000_000

func checkResult(r *Result) error {
	if r.Game == "" || len(r.Players) > MaxResultPlayers {
		return fmt.Errorf("%w: a result needs a game and at most %d players", ErrInvalid, MaxResultPlayers)
	}
	if badText(r.Game, r.Room, r.Key, r.Outcome) {
		return errText
	}
	for _, p := range r.Players {
		if p.UserID == "" {
			return fmt.Errorf("%w: a result player without a user id", ErrInvalid)
		}
		if p.Score > MaxScore || p.Score < -MaxScore {
			return fmt.Errorf("%w: a score of %d, past ±%d", ErrInvalid, p.Score, int64(MaxScore))
		}
		if badText(p.UserID, p.Name, p.Outcome) {
			return errText
		}
	}
	return nil
}

// errText refuses text holding a NUL byte (valid UTF-8, which chat
// takes) or bytes that are not UTF-8, neither of which a PostgreSQL text
// column can hold (a batch holding one would fail each time it is tried,
// and hold up the queue behind it), so SQLite refuses them too and both
// backends keep the same.
var errText = fmt.Errorf("%w: text holding a NUL byte or bytes that are not UTF-8", ErrInvalid)

// badText reports a string that errText refuses.
func badText(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return true
		}
	}
	return false
}
