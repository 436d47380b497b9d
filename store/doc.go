// Package store keeps what outlives the process: accounts, session
// revocations and sanctions, the social graph, match results and
// leaderboards, chat history and offline direct messages, and the server's
// own keys.
//
// Each concern is one small interface (Users, Moderation, Social, Results,
// Chat, Keys); *DB implements them all, on one of two backends:
//
//   - SQLite (OpenSQLite), the embedded default: one file, tickroom.db, in a
//     data directory, through modernc.org/sqlite (pure Go, no cgo). The
//     database runs in WAL mode with one writer connection, so readers never
//     wait on a write and writes never meet SQLITE_BUSY from each other; a
//     lock file keeps a second process off the same directory. Keys are
//     files in the data directory with mode 0600.
//   - PostgreSQL (OpenPostgres) through github.com/jackc/pgx/v5 (its
//     database/sql driver), for production and for several nodes sharing
//     one database. Keys live in a table so every node signs with the same
//     key.
//
// The SQL is written once, with $n placeholders that both drivers bind; the
// backends differ in how they open, in their migrations (types and
// identity columns), and in where keys live. One test suite runs against
// both.
//
// A WriteQueue writes a batch again whole when its write reported an error,
// and a commit that reached the database can report one (the connection
// lost during the commit, a timeout once the server had it). Such a batch
// is stored once all the same, whatever it holds: a queue has a random id
// and numbers its batches, and the batch's transaction first records its
// number as the queue's last written (the table batch_marks, version 10:
// one row per queue, an upsert per batch), so a write that finds it there
// commits nothing more (DB.Write). A mark per batch rather than a key per
// item: channel lines and direct messages have no id of their own that a
// retry repeats (the server numbers a channel's lines on each node, and a
// direct message's id is not stored), so a key per line would be one more
// unique index on channel_lines and inbox, written with each line, and
// trimming by count would have to tell skipped inserts apart; one mark
// covers the lines, the messages, keyless results and graph changes (a
// retry no longer undoes a change another node made in between) at the
// cost of one row per batch updated, and results written outside a queue
// keep their Key (unique in the results table since version 8: a result
// whose key is recorded is skipped, its players' standings with it).
//
// Migrations are SQL files embedded in the binary (migrations/sqlite,
// migrations/postgres) and Go functions for both backends (versions 7 and
// 9, 00007_name_keys.go and 00009_name_keys.go, which compute name keys),
// applied at open by
// github.com/pressly/goose/v3, each in its own transaction: one that fails leaves the schema at the
// last version that succeeded. Open refuses a database whose schema is
// newer than the binary's newest migration (ErrSchemaNewer), so an older
// binary never writes into a schema it does not know.
//
// On PostgreSQL, nodes migrate one at a time under a session-level
// advisory lock held by the connection the migrations run on. Open's
// context bounds them: its end sends the server a cancel request (pgx's
// CancelRequestContextWatcherHandler, rather than its default of cutting
// the connection, which left the server running the statement with the
// lock held), the migration rolls back and the lock is let go before Open
// returns. A node waiting for the lock logs who holds it
// (pg_stat_activity: application_name, address, statement), and sessions
// are named "tickroom <host> pid <pid>" unless the URL names them.
//
// What anyone can make the store keep is bounded where it is written: a
// channel's lines (ChannelKeep), the channels with lines (ChannelHistories,
// ChannelTTL), an inbox (InboxKeep, of which one sender holds
// InboxPerSender and the senders who are not the recipient's friends
// InboxStrangers together), an account's devices (DeviceKeep), each player's
// results (ResultKeep: a result goes once all its players that still have
// an account have that many newer ones), and guest accounts (GuestTTL:
// each new guest deletes a few not seen for that long). Each bound is kept
// by the write that would pass it, walking an index, so no background job
// has to run.
//
// Every method of *DB is safe from any goroutine. None of them belongs on
// an event loop or a tick shard: they wait on the disk or the network.
// Writes from the hot path go through a WriteQueue, which batches them off
// those goroutines and drops (and counts) what exceeds its bound.
package store
