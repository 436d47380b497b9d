-- Version 6 puts user_id, a leaderboard's last order, into the standings
-- rank index, so that the top of a game's leaderboard is read in index
-- order rather than by sorting every player tied with the last one shown
-- (all of a game's winless players, when few have won).

-- +goose Up
DROP INDEX standings_rank;
CREATE INDEX standings_rank ON standings (game, wins DESC, score DESC, user_id);

-- +goose Down
DROP INDEX standings_rank;
CREATE INDEX standings_rank ON standings (game, wins DESC, score DESC);
