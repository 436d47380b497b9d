-- When each account last logged in (or was made), so that guests not seen
-- for store.Config.GuestTTL can be deleted: a guest is an account with
-- neither a claimed name nor a linked identity. No login was recorded
-- before this version, so every account counts as seen at the upgrade and
-- gets a whole GuestTTL from it. The blocks naming a deleted guest go
-- with it, found on blocks_blocked.

-- +goose Up
ALTER TABLE users ADD COLUMN seen_ms INTEGER NOT NULL DEFAULT 0;
UPDATE users SET seen_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX users_guest_seen ON users (seen_ms) WHERE name_key IS NULL AND subject IS NULL;
CREATE INDEX standings_user ON standings (user_id);
CREATE INDEX blocks_blocked ON blocks (blocked);

-- +goose Down
DROP INDEX blocks_blocked;
DROP INDEX standings_user;
DROP INDEX users_guest_seen;
ALTER TABLE users DROP COLUMN seen_ms;
