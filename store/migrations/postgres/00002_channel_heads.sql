-- A row per lobby channel that has kept lines: its newest line's id and
-- when the store last wrote to it. The write that adds lines keeps the
-- number of channels with history to store.Config.ChannelHistories
-- (dropping the least recently written) and drops the history of a
-- channel with no line for store.Config.ChannelTTL; both walk these
-- indexes, never channel_lines.

-- +goose Up
CREATE TABLE channel_heads (
    channel TEXT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    last_ms BIGINT NOT NULL
);
CREATE INDEX channel_heads_last_id ON channel_heads (last_id);
CREATE INDEX channel_heads_last_ms ON channel_heads (last_ms);

-- The channels kept so far, their age taken from their newest line.
INSERT INTO channel_heads (channel, last_id, last_ms)
SELECT channel, MAX(id), MAX(at_ms) FROM channel_lines GROUP BY channel;

-- +goose Down
DROP TABLE channel_heads;
