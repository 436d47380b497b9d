-- A node from before version 4, still running beside newer ones in a
-- rolling upgrade (they share this database), makes guests without
-- seen_ms: version 4's default, 0, made each of them the oldest guest of
-- all, deleted by the next guest a newer node made. Such a guest now
-- counts as seen when it is made, and one made so before counts as seen
-- now. The ALTER locks the table first, so no guest of an older node is
-- written between the two statements with the old default.

-- +goose Up
ALTER TABLE users ALTER COLUMN seen_ms SET DEFAULT (extract(epoch FROM now()) * 1000)::bigint;
UPDATE users SET seen_ms = (extract(epoch FROM now()) * 1000)::bigint WHERE seen_ms = 0;

-- +goose Down
ALTER TABLE users ALTER COLUMN seen_ms SET DEFAULT 0;
