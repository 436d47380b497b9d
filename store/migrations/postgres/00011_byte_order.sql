-- Version 11 orders the user ids of the standings rank index and of the
-- friend requests' index by bytes (COLLATE "C"), as the store's reads now
-- order ties, so that a database made with a linguistic locale (where "a"
-- sorts before "B") returns them in the order SQLite does, and the top of
-- a leaderboard is still read in index order. A node of an older version
-- ordering by the database's collation sorts what it reads, as before
-- version 6.

-- +goose Up
DROP INDEX standings_rank;
CREATE INDEX standings_rank ON standings (game, wins DESC, score DESC, user_id COLLATE "C");
DROP INDEX friendships_to;
CREATE INDEX friendships_to ON friendships (to_id, state, since_ms, from_id COLLATE "C");

-- +goose Down
DROP INDEX friendships_to;
CREATE INDEX friendships_to ON friendships (to_id, state, since_ms, from_id);
DROP INDEX standings_rank;
CREATE INDEX standings_rank ON standings (game, wins DESC, score DESC, user_id);
