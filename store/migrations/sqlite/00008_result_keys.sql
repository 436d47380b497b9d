-- Version 8 keys a result by its match (store.Result.Key, the room's id
-- for tickroom's results), so that a batch written again whole after its
-- commit reached the database but reported an error (the write queue's
-- retry) records each match once and adds it to the standings once: the
-- write skips a result whose key is recorded (ON CONFLICT DO NOTHING).
--
-- Results recorded before have no key (NULL, which the unique index lets
-- repeat), so the migration cannot fail on a match they hold twice: such a
-- duplicate stays as it was, in history and in the standings it was added
-- to (docs/store.md says how to find them). The column has no default and
-- may be NULL, so a node of an older version, still writing beside a
-- newer one in a rolling upgrade, writes keyless results as before.

-- +goose Up
ALTER TABLE results ADD COLUMN match_key TEXT;
CREATE UNIQUE INDEX results_match_key ON results (match_key);

-- +goose Down
DROP INDEX results_match_key;
ALTER TABLE results DROP COLUMN match_key;
