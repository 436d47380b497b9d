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
    created_ms    BIGINT NOT NULL
);

CREATE TABLE devices (
    hash       BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE sanctions (
    user_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at_ms    BIGINT NOT NULL,
    until_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- One row per pair of users, user_a < user_b; from_id sent the request.
CREATE TABLE friendships (
    user_a   TEXT NOT NULL,
    user_b   TEXT NOT NULL,
    from_id  TEXT NOT NULL,
    to_id    TEXT NOT NULL,
    state    TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (user_a, user_b)
);
CREATE INDEX friendships_b ON friendships (user_b);

CREATE TABLE blocks (
    blocker  TEXT NOT NULL,
    blocked  TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (blocker, blocked)
);

CREATE TABLE results (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    game       TEXT NOT NULL,
    room       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    ended_ms   BIGINT NOT NULL
);

CREATE TABLE result_players (
    result_id BIGINT NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    name      TEXT NOT NULL,
    seat      BIGINT NOT NULL,
    outcome   TEXT NOT NULL,
    score     BIGINT NOT NULL,
    PRIMARY KEY (result_id, user_id)
);
CREATE INDEX result_players_user ON result_players (user_id, result_id);

CREATE TABLE standings (
    game    TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    wins    BIGINT NOT NULL,
    losses  BIGINT NOT NULL,
    draws   BIGINT NOT NULL,
    played  BIGINT NOT NULL,
    score   BIGINT NOT NULL,
    PRIMARY KEY (game, user_id)
);
CREATE INDEX standings_rank ON standings (game, wins DESC, score DESC);

CREATE TABLE channel_lines (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel   TEXT NOT NULL,
    from_id   TEXT NOT NULL,
    from_name TEXT NOT NULL,
    text      TEXT NOT NULL,
    at_ms     BIGINT NOT NULL
);
CREATE INDEX channel_lines_channel ON channel_lines (channel, id);

CREATE TABLE inbox (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_id     TEXT NOT NULL,
    from_id   TEXT NOT NULL,
    from_name TEXT NOT NULL,
    text      TEXT NOT NULL,
    at_ms     BIGINT NOT NULL
);
CREATE INDEX inbox_to ON inbox (to_id, id);

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL,
    created_ms BIGINT NOT NULL
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
