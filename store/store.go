package store

import (
	"context"
	"time"
)

// User is one durable account. A guest account has neither a claimed name
// nor an identity; claiming a name with a password, or linking an external
// identity, makes it a full account with the same ID.
type User struct {
	// ID is the account's permanent id, the session token's user id.
	ID string
	// Name is the display name. For a claimed account it is unique among
	// claimed names, compared case-insensitively.
	Name string
	// Claimed is true once the name is the account's own (ClaimName).
	Claimed bool
	// PasswordHash is the encoded password hash (empty when none is set).
	// The store keeps it as given; hashing is the caller's.
	PasswordHash string
	// Subject is the linked external identity's "sub", empty when none.
	Subject string
	// CreatedAt is when the account was made.
	CreatedAt time.Time
}

// Guest asks CreateGuest for a new guest account.
type Guest struct {
	// ID is the new account's id. Required.
	ID string
	// Name is the display name, not reserved until claimed. Required.
	Name string
	// DeviceHash is a hash of the device secret the client presents to
	// come back as this account. Required; the store never sees the secret.
	DeviceHash []byte
}

// Users keeps accounts.
type Users interface {
	// CreateGuest stores a new guest account.
	CreateGuest(ctx context.Context, g Guest) (User, error)
	// UserByID, UserByDevice, UserByName and UserBySubject find one
	// account, or return ErrNotFound. UserByName matches claimed names
	// only, case-insensitively.
	UserByID(ctx context.Context, id string) (User, error)
	UserByDevice(ctx context.Context, deviceHash []byte) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	UserBySubject(ctx context.Context, subject string) (User, error)
	// ClaimName gives the account the name and password hash; ErrNameTaken
	// when another account claimed the name (in any case).
	ClaimName(ctx context.Context, id, name, passwordHash string) error
	// ClaimNameSigningOut is ClaimName that also, in the same
	// transaction, deletes every device of the account (their secrets no
	// longer log in: a new password ends the logins made before it) and
	// adds newDevice, when it is not empty, in their place.
	ClaimNameSigningOut(ctx context.Context, id, name, passwordHash string, newDevice []byte) error
	// LinkSubject links an external identity to the account;
	// ErrIdentityTaken when another account has it, ErrAccountLinked when
	// the account has another (a link is never replaced).
	LinkSubject(ctx context.Context, id, subject string) error
	// CreateLinked stores a new account linked to an external identity
	// (its first identity login); ErrIdentityTaken when one has it.
	CreateLinked(ctx context.Context, id, name, subject string) (User, error)
	// AddDevice lets another device secret log in as the account.
	AddDevice(ctx context.Context, id string, deviceHash []byte) error
	// Seen records a login of the account now. A guest (no claimed name,
	// no linked identity) not seen for Config.GuestTTL is deleted.
	Seen(ctx context.Context, id string) error
}

// SanctionKind is what a Sanction does.
type SanctionKind string

const (
	// SanctionKick keeps a user from connecting until the sanction ends.
	SanctionKick SanctionKind = "kick"
	// SanctionBan keeps a user from logging in or connecting until it ends
	// (forever when Until is zero).
	SanctionBan SanctionKind = "ban"
	// SanctionRevoke invalidates every session token issued to the user
	// up to At (to the second) until it ends: the account's password was
	// changed then. Lifting the user's kicks and bans keeps it.
	SanctionRevoke SanctionKind = "revoke"
)

// Sanction is one moderation action against a user.
type Sanction struct {
	UserID string
	Kind   SanctionKind
	Reason string
	// At is when it was imposed.
	At time.Time
	// Until is when it ends; zero means never.
	Until time.Time
}

// Active reports whether s still applies at now.
func (s Sanction) Active(now time.Time) bool { return s.Until.IsZero() || now.Before(s.Until) }

// Moderation keeps kicks, bans and session revocations.
type Moderation interface {
	// PutSanction records s as the user's sanction of its kind: one already
	// there keeps the later of the two starts (At) and of the two ends
	// (Until; the zero time, none, is the latest), and takes s's reason,
	// each NUL and each run of bytes that are not UTF-8 in it kept as
	// U+FFFD (a PostgreSQL text column holds neither).
	PutSanction(ctx context.Context, s Sanction) error
	// LiftSanction removes the user's sanction of that kind.
	LiftSanction(ctx context.Context, userID string, kind SanctionKind) error
	// Sanctions returns every sanction still active at now.
	Sanctions(ctx context.Context, now time.Time) ([]Sanction, error)
}

// FriendState is the state of a friendship edge.
type FriendState string

const (
	// FriendPending is a request from From to To not yet answered.
	FriendPending FriendState = "pending"
	// FriendAccepted is an accepted friendship (stored once per pair).
	FriendAccepted FriendState = "accepted"
)

// Friendship is one edge of the social graph.
type Friendship struct {
	From, To string
	State    FriendState
	Since    time.Time
	// FromAddr and FromSite are, for a pending request, the client
	// address it was sent from as per-address limits count it (an IPv4
	// address or an IPv6 /64, as a prefix) and, for IPv6, its /48: the
	// requests standing for To from one address are counted by them
	// (CountFriendRequestsFromAddr). Empty counts against no address.
	FromAddr, FromSite string
}

// Social keeps friend requests, friendships and blocks.
type Social interface {
	// PutFriendship stores the edge From→To (replacing any edge between
	// the two users, in either direction).
	PutFriendship(ctx context.Context, f Friendship) error
	// DeleteFriendship removes any edge between a and b.
	DeleteFriendship(ctx context.Context, a, b string) error
	// Friendships returns every edge that touches user.
	Friendships(ctx context.Context, user string) ([]Friendship, error)
	// Block and Unblock add and remove blocker's block of blocked; Blocks
	// lists whom user blocks.
	Block(ctx context.Context, blocker, blocked string) error
	Unblock(ctx context.Context, blocker, blocked string) error
	Blocks(ctx context.Context, user string) ([]string, error)
}

// ResultPlayer is one player's line in a Result.
type ResultPlayer struct {
	UserID string
	Name   string
	Seat   int
	// Outcome is "win", "loss" or "draw"; anything else counts as none of
	// them (a game without winners).
	Outcome string
	// Score is the game's score for the player (0 when it keeps none).
	Score int64
}

// Result is one finished room.
type Result struct {
	// ID is assigned by the store.
	ID   int64
	Game string
	Room string
	// Key identifies the match, the same in every write of it: a result
	// whose Key is already recorded is not recorded again, and its players'
	// standings are not added to again, so that a batch written twice
	// counts each match once (a WriteQueue's retry of a batch whose commit
	// reached the database but reported an error is marked, and writes
	// nothing the second time, keyed or not: DB.Write; the key holds for
	// the writes of any caller). Such a result gets the
	// recorded one's ID. Empty: none, and each write records the result.
	// tickroom gives a result its room's id, as a room plays one match.
	Key     string
	Outcome string // the game's own summary ("five in a row", "time up")
	Started time.Time
	Ended   time.Time
	Players []ResultPlayer
}

// Standing is one player's line on a game's leaderboard.
type Standing struct {
	UserID string
	Name   string
	// Rank is 1 for the leader; players with equal wins and score share a
	// rank. Past the first RankCounted ranks it is RankCounted+1 and
	// RankBeyond is set: the player ranks there or lower.
	Rank                        int
	RankBeyond                  bool
	Wins, Losses, Draws, Played int64
	Score                       int64
}

// RankCounted is how many players ahead of a user Standing counts at most:
// counting them costs the store a walk of the standings index past each,
// and a game's casual players, who rank last, number in the hundreds of
// thousands (a count of 200,000 took ~100 ms of the database, as often as
// a client asked; BenchmarkLeaderboardOf200k).
const RankCounted = 1_000

// Results keeps match results and the per-game standings they add up to.
type Results interface {
	// WriteResults stores results and updates the standings, in one
	// transaction. It fills in each result's ID. A result whose Key is
	// already recorded is skipped (Result.Key), so writing the same
	// results again counts them once.
	WriteResults(ctx context.Context, rs []Result) error
	// History returns the user's results, newest first, with IDs below
	// before (0: from the newest), at most limit.
	History(ctx context.Context, user string, before int64, limit int) ([]Result, error)
	// Leaderboard returns a game's top limit standings, ordered by wins,
	// then score.
	Leaderboard(ctx context.Context, game string, limit int) ([]Standing, error)
	// Standing returns one user's standing in a game, or ErrNotFound. Its
	// rank is counted up to RankCounted.
	Standing(ctx context.Context, game, user string) (Standing, error)
}

// Line is one chat line: on a channel (Channel set) or a direct message
// kept for an offline recipient (To set).
type Line struct {
	// ID is assigned by the store; IDs grow with time.
	ID       int64
	Channel  string
	To       string
	From     string
	FromName string
	Text     string
	At       time.Time
	// Done, when not nil, is called once the line is written or given
	// up, as GraphOp.Done is: by WriteQueue, on its goroutine, or on the
	// caller's when AddLine drops it. It is given the line's ID once
	// written, 0 when given up. A BatchWriter ignores it.
	Done func(id int64)
}

// Chat keeps channel history and offline direct messages, each bounded:
// AppendLines trims a channel to its newest ChannelKeep lines, keeps
// lines for at most ChannelHistories channels (dropping the histories of
// the least recently written) and none longer than ChannelTTL after a
// channel's last line, and trims a recipient's inbox to its newest
// InboxKeep messages, each sender's first to its newest InboxPerSender,
// then the senders' who are not its friends together to their newest
// InboxStrangers.
type Chat interface {
	// AppendLines stores lines in one transaction and fills in their IDs.
	AppendLines(ctx context.Context, lines []Line) error
	// ChannelLines returns a channel's lines with IDs below before (0:
	// from the newest), newest first, at most limit.
	ChannelLines(ctx context.Context, channel string, before int64, limit int) ([]Line, error)
	// Inbox returns the direct messages stored for user, oldest first.
	Inbox(ctx context.Context, user string) ([]Line, error)
	// AckInbox deletes user's stored messages with the IDs given (those
	// Inbox returned), and no other: a message with a lower ID may be
	// written after a read (PostgreSQL takes IDs before commit).
	AckInbox(ctx context.Context, user string, ids []int64) error
}

// Keys keeps the server's own secrets (the session-signing key, the admin
// token) so that they survive a restart.
type Keys interface {
	// Secret returns the secret named name, first storing gen's result
	// when there is none. Concurrent callers (or nodes) get the same one.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

// Compile-time checks that *DB implements every concern.
var (
	_ Users      = (*DB)(nil)
	_ Moderation = (*DB)(nil)
	_ Social     = (*DB)(nil)
	_ Results    = (*DB)(nil)
	_ Chat       = (*DB)(nil)
	_ Keys       = (*DB)(nil)
)
