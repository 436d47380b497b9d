-- The friend requests standing for a user, counted before another is
-- stored (at most the friend list's bound) and read back at its login.

-- +goose Up
CREATE INDEX friendships_to ON friendships (to_id, state, since_ms, from_id);

-- +goose Down
DROP INDEX friendships_to;
