package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Outcomes a ResultPlayer may carry that count in the standings.
const (
	OutcomeWin  = "win"
	OutcomeLoss = "loss"
	OutcomeDraw = "draw"
)

// WriteResults implements Results.
func (db *DB) WriteResults(ctx context.Context, rs []Result) error {
	b := Batch{Results: rs}
	return db.Write(ctx, &b)
}

// insertResults stores rs and updates the standings in few statements:
// one INSERT per result (for its id), then the players of every result in
// multi-row INSERTs, then the standings, summed per player in Go first (a
// multi-row upsert may not touch one row twice), in multi-row upserts.
// It returns the players whose count of results of a game (their
// standing's played) passed a multiple of every with rs, each with how
// many multiples it passed in all its games: those trimResults looks at.
//
// A result whose Key is recorded (by an earlier write of the same batch,
// the queue's retry of a commit that reported an error, or earlier in rs)
// is skipped, its players and standings with it, and gets the recorded
// result's ID.
func insertResults(ctx context.Context, tx *sql.Tx, rs []Result, every int) ([]trimLook, error) {
	type key struct{ game, user string }
	type sum struct {
		name                           string
		win, loss, draw, played, score int64
	}
	var order []key
	sums := map[key]*sum{}
	var players []any
	for i := range rs {
		r := &rs[i]
		var matchKey any // NULL without a key: never a conflict
		if r.Key != "" {
			matchKey = r.Key
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO results (game, room, outcome, started_ms, ended_ms, match_key) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (match_key) DO NOTHING RETURNING id`,
			r.Game, r.Room, r.Outcome, ms(r.Started), ms(r.Ended), matchKey).Scan(&r.ID)
		if errors.Is(err, sql.ErrNoRows) && matchKey != nil {
			// Recorded already: its players and standings too.
			if err := tx.QueryRowContext(ctx, `SELECT id FROM results WHERE match_key = $1`, matchKey).Scan(&r.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, p := range r.Players {
			if seen[p.UserID] {
				continue // one line per player and result
			}
			seen[p.UserID] = true
			players = append(players, r.ID, p.UserID, p.Name, p.Seat, p.Outcome, p.Score)
			k := key{r.Game, p.UserID}
			s := sums[k]
			if s == nil {
				s = &sum{}
				sums[k] = s
				order = append(order, k)
			}
			s.name, s.played, s.score = p.Name, s.played+1, s.score+p.Score
			switch p.Outcome {
			case OutcomeWin:
				s.win++
			case OutcomeLoss:
				s.loss++
			case OutcomeDraw:
				s.draw++
			}
		}
	}
	if err := insertRows(ctx, tx, `INSERT INTO result_players (result_id, user_id, name, seat, outcome, score) VALUES `, "", 6, players); err != nil {
		return nil, err
	}
	standings := make([]any, 0, len(order)*8)
	for _, k := range order {
		s := sums[k]
		standings = append(standings, k.game, k.user, s.name, s.win, s.loss, s.draw, s.played, s.score)
	}
	var look []trimLook
	err := queryRows(ctx, tx, `INSERT INTO standings (game, user_id, name, wins, losses, draws, played, score) VALUES `,
		` ON CONFLICT (game, user_id) DO UPDATE SET name = excluded.name, wins = standings.wins + excluded.wins,
			losses = standings.losses + excluded.losses, draws = standings.draws + excluded.draws,
			played = standings.played + excluded.played, score = standings.score + excluded.score
		RETURNING game, user_id, played`, 8, standings, func(rows *sql.Rows) error {
			var k key
			var played int64
			if err := rows.Scan(&k.game, &k.user, &played); err != nil {
				return err
			}
			s := sums[k]
			if s == nil {
				return nil
			}
			passed := played/int64(every) - (played-s.played)/int64(every)
			if passed == 0 {
				return nil
			}
			if i := slices.IndexFunc(look, func(l trimLook) bool { return l.user == k.user }); i >= 0 {
				look[i].passed += passed
			} else {
				look = append(look, trimLook{k.user, passed})
			}
			return nil
		})
	return look, err
}

// trimLook is a player trimResults looks at, and how many multiples of
// every its counts of results passed in the write.
type trimLook struct {
	user   string
	passed int64
}

// trimResults keeps each player of look, those insertResults names, to
// its newest keep results: it deletes results past a player's newest keep
// that every one of their players has keep newer results than. To spare
// the write most of the statements, a player is looked at only with every
// every-th result of its own in a game (insertResults), and then up to
// 2 × every of its results past its newest keep go for each multiple of
// every passed in the write (a write of the queue holds up to 64 results,
// so one player may pass several): a player of one game holds at most
// about keep + every results. (Looked at with the results
// whose id is a multiple of every, a player whose results never got such
// an id, the matches of two tables ending in turn, kept them all.)
//
// The statement finds the player's candidates (c), their players (o),
// and once for each of those with an account the id of its keep-th
// newest result (t.kth: a player with fewer has none). A candidate goes
// when each of its players' kth is newer than it. A player with no
// account (a guest deleted after GuestTTL, whose name stays in the
// others' history) holds nothing: else each game a kept account played
// with a guest since deleted would stay for good. Reading each player's kth once, rather
// than counting its newer results for each candidate, reads a player's
// index keep times a statement instead of keep for each of its
// candidates (BenchmarkWriteResultsAtTheDefaultBound). MATERIALIZED
// keeps both backends from folding the lists back into the statement.
func trimResults(ctx context.Context, tx *sql.Tx, look []trimLook, keep, every int) error {
	for _, l := range look {
		if _, err := tx.ExecContext(ctx, trimStatement, l.user, keep, 2*int64(every)*l.passed, keep-1); err != nil {
			return err
		}
	}
	return nil
}

// trimStatement deletes up to $3 of player $1's results past its newest
// $2 ($4 is $2 - 1) that every one of their players with an account has
// $2 newer ones than (trimResults).
const trimStatement = `WITH
	c AS MATERIALIZED (SELECT result_id FROM result_players WHERE user_id = $1 ORDER BY result_id DESC LIMIT $3 OFFSET $2),
	o AS MATERIALIZED (SELECT DISTINCT user_id FROM result_players WHERE result_id IN (SELECT result_id FROM c)),
	t AS MATERIALIZED (SELECT o.user_id, (SELECT x.result_id FROM result_players x WHERE x.user_id = o.user_id
		ORDER BY x.result_id DESC LIMIT 1 OFFSET $4) AS kth FROM o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id))
DELETE FROM results WHERE id IN (SELECT c.result_id FROM c WHERE NOT EXISTS (
	SELECT 1 FROM result_players rp JOIN t ON t.user_id = rp.user_id
	WHERE rp.result_id = c.result_id AND COALESCE(t.kth, 0) <= c.result_id))`

// rowsPerStatement keeps a multi-row statement's parameters well under
// both backends' limits (SQLite 32,766; PostgreSQL 65,535).
const rowsPerStatement = 500

// insertRows runs head + "($1, …), (…)" + tail over args, cols values a
// row, in statements of at most rowsPerStatement rows.
func insertRows(ctx context.Context, tx *sql.Tx, head, tail string, cols int, args []any) error {
	return queryRows(ctx, tx, head, tail, cols, args, nil)
}

// queryRows is insertRows handing each row the statements return (a tail
// with RETURNING) to scan; nil scan runs them as Exec.
func queryRows(ctx context.Context, tx *sql.Tx, head, tail string, cols int, args []any, scan func(*sql.Rows) error) error {
	for len(args) > 0 {
		n := min(len(args)/cols, rowsPerStatement)
		var q strings.Builder
		q.WriteString(head)
		for r := range n {
			if r > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for c := range cols {
				if c > 0 {
					q.WriteString(", ")
				}
				q.WriteByte('$')
				q.WriteString(strconv.Itoa(r*cols + c + 1))
			}
			q.WriteByte(')')
		}
		q.WriteString(tail)
		if scan == nil {
			if _, err := tx.ExecContext(ctx, q.String(), args[:n*cols]...); err != nil {
				return err
			}
		} else if err := scanAll(ctx, tx, q.String(), args[:n*cols], scan); err != nil {
			return err
		}
		args = args[n*cols:]
	}
	return nil
}

// scanAll runs query in tx and hands each row it returns to scan.
func scanAll(ctx context.Context, tx *sql.Tx, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// History implements Results.
func (db *DB) History(ctx context.Context, user string, before int64, limit int) ([]Result, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.query(ctx, `SELECT r.id, r.game, r.room, COALESCE(r.match_key, ''), r.outcome, r.started_ms, r.ended_ms FROM result_players p JOIN results r ON r.id = p.result_id
		WHERE p.user_id = $1 AND p.result_id < $2 ORDER BY p.result_id DESC LIMIT $3`, user, before, limit)
	if err != nil {
		return nil, db.fail("reading history", err)
	}
	var out []Result
	for rows.Next() {
		var r Result
		var started, ended int64
		if err := rows.Scan(&r.ID, &r.Game, &r.Room, &r.Key, &r.Outcome, &started, &ended); err != nil {
			rows.Close()
			return nil, db.fail("reading history", err)
		}
		r.Started, r.Ended = fromMS(started), fromMS(ended)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.fail("reading history", err)
	}
	for i := range out {
		if out[i].Players, err = db.resultPlayers(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) resultPlayers(ctx context.Context, id int64) ([]ResultPlayer, error) {
	rows, err := db.query(ctx, `SELECT user_id, name, seat, outcome, score FROM result_players WHERE result_id = $1 ORDER BY seat, user_id`+db.byBytes, id)
	if err != nil {
		return nil, db.fail("reading a result", err)
	}
	defer rows.Close()
	var out []ResultPlayer
	for rows.Next() {
		var p ResultPlayer
		if err := rows.Scan(&p.UserID, &p.Name, &p.Seat, &p.Outcome, &p.Score); err != nil {
			return nil, db.fail("reading a result", err)
		}
		out = append(out, p)
	}
	return out, db.fail("reading a result", rows.Err())
}

const standingCols = "user_id, name, wins, losses, draws, played, score"

func scanStanding(row interface{ Scan(...any) error }) (Standing, error) {
	var s Standing
	err := row.Scan(&s.UserID, &s.Name, &s.Wins, &s.Losses, &s.Draws, &s.Played, &s.Score)
	return s, err
}

// Leaderboard implements Results.
func (db *DB) Leaderboard(ctx context.Context, game string, limit int) ([]Standing, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, `SELECT `+standingCols+` FROM standings WHERE game = $1 ORDER BY wins DESC, score DESC, user_id`+db.byBytes+` LIMIT $2`, game, limit)
	if err != nil {
		return nil, db.fail("reading a leaderboard", err)
	}
	defer rows.Close()
	var out []Standing
	for rows.Next() {
		s, err := scanStanding(rows)
		if err != nil {
			return nil, db.fail("reading a leaderboard", err)
		}
		// Equal wins and score share the rank of the first of them.
		s.Rank = len(out) + 1
		if n := len(out); n > 0 && out[n-1].Wins == s.Wins && out[n-1].Score == s.Score {
			s.Rank = out[n-1].Rank
		}
		out = append(out, s)
	}
	return out, db.fail("reading a leaderboard", rows.Err())
}

// Standing implements Results.
func (db *DB) Standing(ctx context.Context, game, user string) (Standing, error) {
	s, err := scanStanding(db.queryRow(ctx, `SELECT `+standingCols+` FROM standings WHERE game = $1 AND user_id = $2`, game, user))
	if err != nil {
		return Standing{}, db.fail(fmt.Sprintf("standing in %s", game), err)
	}
	// The players ahead are two ranges of the standings_rank index, each
	// walked for RankCounted entries at most (one condition with an OR
	// walked every player of the game). The orders are the index's, so
	// that PostgreSQL walks it rather than the table, whatever its
	// estimates.
	var ahead int
	if err := db.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM standings WHERE game = $1 AND wins > $2 ORDER BY wins DESC, score DESC LIMIT $4) AS more_wins) +
		(SELECT COUNT(*) FROM (SELECT 1 FROM standings WHERE game = $1 AND wins = $2 AND score > $3 ORDER BY score DESC LIMIT $4) AS more_score)`,
		game, s.Wins, s.Score, RankCounted).Scan(&ahead); err != nil {
		return Standing{}, db.fail("ranking", err)
	}
	s.Rank = min(ahead, RankCounted) + 1
	s.RankBeyond = ahead >= RankCounted
	return s, nil
}
