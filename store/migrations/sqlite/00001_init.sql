-- The first schema: accounts and devices, sanctions, the social graph,
-- results and standings, chat history and inboxes. Times are Unix
-- milliseconds; 0 in until_ms means "never ends".

-- +goose Up
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT UNIQUE,          -- case-folded claimed name; NULL for a guest
    password_hash TEXT NOT NULL DEFAULT '',
    subject       TEXT UNIQUE,          -- linked external identity; NULL when none
    created_ms    INTEGER NOT NULL
);

CREATE TABLE devices (
    hash       BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE sanctions (
    user_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- One row per pair of users, user_a < user_b; from_id sent the request.
CREATE TABLE friendships (
    user_a   TEXT NOT NULL,
    user_b   TEXT NOT NULL,
    from_id  TEXT NOT NULL,
    to_id    TEXT NOT NULL,
    state    TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (user_a, user_b)
);
CREATE INDEX friendships_b ON friendships (user_b);

CREATE TABLE blocks (
    blocker  TEXT NOT NULL,
    blocked  TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (blocker, blocked)
);

CREATE TABLE results (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    game       TEXT NOT NULL,
    room       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER NOT NULL
);

CREATE TABLE result_players (
    result_id INTEGER NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    name      TEXT NOT NULL,
    seat      INTEGER NOT NULL,
    outcome   TEXT NOT NULL,
    score     INTEGER NOT NULL,
    PRIMARY KEY (result_id, user_id)
);
CREATE INDEX result_players_user ON result_players (user_id, result_id);

CREATE TABLE standings (
    game    TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    wins    INTEGER NOT NULL,
    losses  INTEGER NOT NULL,
    draws   INTEGER NOT NULL,
    played  INTEGER NOT NULL,
    score   INTEGER NOT NULL,
    PRIMARY KEY (game, user_id)
);
CREATE INDEX standings_rank ON standings (game, wins DESC, score DESC);

CREATE TABLE channel_lines (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    channel   TEXT NOT NULL,
    from_id   TEXT NOT NULL,
    from_name TEXT NOT NULL,
    text      TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX channel_lines_channel ON channel_lines (channel, id);

CREATE TABLE inbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    to_id     TEXT NOT NULL,
    from_id   TEXT NOT NULL,
    from_name TEXT NOT NULL,
    text      TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX inbox_to ON inbox (to_id, id);

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);

-- +goose Down
DROP TABLE secrets;
DROP TABLE inbox;
DROP TABLE channel_lines;
DROP TABLE standings;
DROP TABLE result_players;
DROP TABLE results;
DROP TABLE blocks;
DROP TABLE friendships;
DROP TABLE sanctions;
DROP TABLE devices;
DROP TABLE users;
