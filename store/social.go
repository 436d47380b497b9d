package store

import (
	"context"
	"fmt"
	"time"
)

// pair orders two user ids the way the friendships table keys them.
func pair(a, b string) (string, string) {
	if a < b {
		return a, b
	}
	return b, a
}

// PutFriendship implements Social.
func (db *DB) PutFriendship(ctx context.Context, f Friendship) error {
	if f.From == "" || f.To == "" || f.From == f.To {
		return fmt.Errorf("%w: a friendship needs two different users", ErrInvalid)
	}
	if f.State != FriendPending && f.State != FriendAccepted {
		return fmt.Errorf("%w: friendship state %q", ErrInvalid, f.State)
	}
	if f.Since.IsZero() {
		f.Since = time.Now()
	}
	a, b := pair(f.From, f.To)
	_, err := db.exec(ctx, "storing a friendship", putFriendshipSQL, a, b, f.From, f.To, string(f.State), ms(f.Since), f.FromAddr, f.FromSite)
	return err
}

// The graph's writes, shared by the methods and by Batch.Graph. A pending
// request never replaces an accepted friendship: in a cluster the request
// and its acceptance are written by the two users' nodes, each through its
// own queue, so the request may land last; ending a friendship deletes the
// row first.
const (
	putFriendshipSQL = `INSERT INTO friendships (user_a, user_b, from_id, to_id, state, since_ms, from_addr, from_site) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_a, user_b) DO UPDATE SET from_id = excluded.from_id, to_id = excluded.to_id, state = excluded.state, since_ms = excluded.since_ms,
			from_addr = excluded.from_addr, from_site = excluded.from_site
		WHERE friendships.state <> 'accepted' OR excluded.state = 'accepted'`
	deleteFriendshipSQL = `DELETE FROM friendships WHERE user_a = $1 AND user_b = $2`
	blockSQL            = `INSERT INTO blocks (blocker, blocked, since_ms) VALUES ($1, $2, $3) ON CONFLICT (blocker, blocked) DO NOTHING`
	unblockSQL          = `DELETE FROM blocks WHERE blocker = $1 AND blocked = $2`
)

// DeleteFriendship implements Social.
func (db *DB) DeleteFriendship(ctx context.Context, x, y string) error {
	a, b := pair(x, y)
	_, err := db.exec(ctx, "deleting a friendship", deleteFriendshipSQL, a, b)
	return err
}

// Friendships implements Social.
func (db *DB) Friendships(ctx context.Context, user string) ([]Friendship, error) {
	return db.friendships(ctx, `SELECT `+db.friendshipCols()+` FROM friendships WHERE user_a = $1
		UNION ALL SELECT `+db.friendshipCols()+` FROM friendships WHERE user_b = $1 ORDER BY 4, 1, 2`, user)
}

// friendshipCols selects the columns friendships scans, the user ids
// sorting by bytes (an ORDER BY of a UNION names its columns alone).
func (db *DB) friendshipCols() string {
	return "from_id" + db.byBytes + " AS from_id, to_id" + db.byBytes + " AS to_id, state, since_ms"
}

// friendships runs query, which selects from_id, to_id, state and
// since_ms of friendships with user as $1.
func (db *DB) friendships(ctx context.Context, query, user string) ([]Friendship, error) {
	rows, err := db.query(ctx, query, user)
	if err != nil {
		return nil, db.fail("listing friendships", err)
	}
	defer rows.Close()
	var out []Friendship
	for rows.Next() {
		var f Friendship
		var state string
		var since int64
		if err := rows.Scan(&f.From, &f.To, &state, &since); err != nil {
			return nil, db.fail("listing friendships", err)
		}
		f.State, f.Since = FriendState(state), fromMS(since)
		out = append(out, f)
	}
	return out, db.fail("listing friendships", rows.Err())
}

// OwnFriendships returns user's accepted friendships and the friend
// requests it made, oldest first: every edge Friendships returns but the
// requests standing for user, which FriendRequestsTo reads with a bound.
func (db *DB) OwnFriendships(ctx context.Context, user string) ([]Friendship, error) {
	return db.friendships(ctx, `SELECT `+db.friendshipCols()+` FROM friendships WHERE user_a = $1 AND (state = 'accepted' OR from_id = $1)
		UNION ALL SELECT `+db.friendshipCols()+` FROM friendships WHERE user_b = $1 AND (state = 'accepted' OR from_id = $1) ORDER BY 4, 1, 2`, user)
}

// FriendRequest is a friend request standing for a user, with its
// sender's name (empty when the sender's account is gone).
type FriendRequest struct {
	From, FromName string
	Since          time.Time
}

// FriendRequestsTo returns the oldest limit friend requests standing for
// user, oldest first, in one query: each sender's name comes with it.
func (db *DB) FriendRequestsTo(ctx context.Context, user string, limit int) ([]FriendRequest, error) {
	rows, err := db.query(ctx, `SELECT f.from_id, COALESCE(u.name, ''), f.since_ms FROM friendships f LEFT JOIN users u ON u.id = f.from_id
		WHERE f.to_id = $1 AND f.state = 'pending' ORDER BY f.since_ms, f.from_id`+db.byBytes+` LIMIT $2`, user, limit)
	if err != nil {
		return nil, db.fail("listing friend requests", err)
	}
	defer rows.Close()
	var out []FriendRequest
	for rows.Next() {
		var r FriendRequest
		var since int64
		if err := rows.Scan(&r.From, &r.FromName, &since); err != nil {
			return nil, db.fail("listing friend requests", err)
		}
		r.Since = fromMS(since)
		out = append(out, r)
	}
	return out, db.fail("listing friend requests", rows.Err())
}

// CountFriendRequestsTo counts the friend requests standing for user from
// anyone but except (who may be asking again: a request stored once more
// adds no row), stopping at limit: a count of limit means limit or more.
func (db *DB) CountFriendRequestsTo(ctx context.Context, user, except string, limit int) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM friendships WHERE to_id = $1 AND state = 'pending' AND from_id <> $2 LIMIT $3) r`, user, except, limit).Scan(&n)
	return n, db.fail("counting friend requests", err)
}

// GuestRequestSendersTo returns the senders of the friend requests
// standing for user from guests (accounts with neither a claimed name nor
// a linked identity, as GuestTTL deletes them) but except. It reads the
// user's standing requests on their index, at most the friend list's
// bound of them, and each sender's account by its id: written as a join,
// SQLite's planner (with no statistics) walked every account with no
// linked identity, on the subject index, each time.
func (db *DB) GuestRequestSendersTo(ctx context.Context, user, except string) ([]string, error) {
	return db.strings(ctx, "listing friend requests from guests", `SELECT f.from_id FROM friendships f
		WHERE f.to_id = $1 AND f.state = 'pending' AND f.from_id <> $2
		AND EXISTS (SELECT 1 FROM users u WHERE u.id = f.from_id AND u.name_key IS NULL AND u.subject IS NULL)`, user, except)
}

// FriendRequestSendersFromAddr returns the senders of the friend
// requests standing for user, but except, that were sent from addr (a
// Friendship.FromAddr), and apart from that those sent from site (a
// FromSite; none when site is empty). It reads the user's standing
// requests on their index, at most the friend list's bound of them.
func (db *DB) FriendRequestSendersFromAddr(ctx context.Context, user, except, addr, site string) (fromAddr, fromSite []string, err error) {
	if addr == "" {
		return nil, nil, nil
	}
	rows, err := db.query(ctx, `SELECT from_id, from_addr, from_site FROM friendships
		WHERE to_id = $1 AND state = 'pending' AND from_id <> $2 AND (from_addr = $3 OR from_site = $4 AND from_site <> '')`, user, except, addr, site)
	if err != nil {
		return nil, nil, db.fail("listing friend requests from an address", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, a, s string
		if err := rows.Scan(&from, &a, &s); err != nil {
			return nil, nil, db.fail("listing friend requests from an address", err)
		}
		if a == addr {
			fromAddr = append(fromAddr, from)
		}
		if site != "" && s == site {
			fromSite = append(fromSite, from)
		}
	}
	return fromAddr, fromSite, db.fail("listing friend requests from an address", rows.Err())
}

// CountOwnFriendships counts user's friendships and the friend requests
// it made, as OwnFriendships lists them, but for any with except, up to
// limit (it stops there).
func (db *DB) CountOwnFriendships(ctx context.Context, user, except string, limit int) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM friendships WHERE user_a = $1 AND user_b <> $2 AND (state = 'accepted' OR from_id = $1)
		UNION ALL SELECT 1 FROM friendships WHERE user_b = $1 AND user_a <> $2 AND (state = 'accepted' OR from_id = $1) LIMIT $3) r`, user, except, limit).Scan(&n)
	return n, db.fail("counting friendships", err)
}

// CountBlocks counts the users user blocks but except, up to limit (it
// stops there).
func (db *DB) CountBlocks(ctx context.Context, user, except string, limit int) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM blocks WHERE blocker = $1 AND blocked <> $2 LIMIT $3) r`, user, except, limit).Scan(&n)
	return n, db.fail("counting blocks", err)
}

// Block implements Social.
func (db *DB) Block(ctx context.Context, blocker, blocked string) error {
	if blocker == "" || blocked == "" || blocker == blocked {
		return fmt.Errorf("%w: a block needs two different users", ErrInvalid)
	}
	_, err := db.exec(ctx, "storing a block", blockSQL, blocker, blocked, time.Now().UnixMilli())
	return err
}

// Unblock implements Social.
func (db *DB) Unblock(ctx context.Context, blocker, blocked string) error {
	_, err := db.exec(ctx, "deleting a block", unblockSQL, blocker, blocked)
	return err
}

// Blocks implements Social.
func (db *DB) Blocks(ctx context.Context, user string) ([]string, error) {
	return db.strings(ctx, "listing blocks", `SELECT blocked FROM blocks WHERE blocker = $1 ORDER BY since_ms, blocked`+db.byBytes, user)
}

func (db *DB) strings(ctx context.Context, op, query string, args ...any) ([]string, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, db.fail(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, db.fail(op, err)
		}
		out = append(out, s)
	}
	return out, db.fail(op, rows.Err())
}
