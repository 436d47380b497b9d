-- When each account last logged in (or was made), so that guests not seen
-- for store.Config.GuestTTL can be deleted: a guest is an account with
-- neither a claimed name nor a linked identity.

-- +goose Up
ALTER TABLE users ADD COLUMN seen_ms BIGINT NOT NULL DEFAULT 0;
UPDATE users SET seen_ms = created_ms;
CREATE INDEX users_guest_seen ON users (seen_ms) WHERE name_key IS NULL AND subject IS NULL;
CREATE INDEX standings_user ON standings (user_id);

-- +goose Down
DROP INDEX standings_user;
DROP INDEX users_guest_seen;
ALTER TABLE users DROP COLUMN seen_ms;
