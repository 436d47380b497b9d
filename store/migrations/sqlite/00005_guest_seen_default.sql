-- PostgreSQL's version 5 makes a guest that a node from before version 4
-- writes without seen_ms count as seen when it is made (a rolling upgrade
-- of nodes sharing one database). A SQLite store is served by one process
-- at a time, so no older node writes beside a newer one; a guest with
-- seen_ms 0 all the same counts as seen now, as there.

-- +goose Up
UPDATE users SET seen_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE seen_ms = 0;

-- +goose Down
SELECT 1;
