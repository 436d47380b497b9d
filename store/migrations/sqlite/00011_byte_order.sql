-- Version 11 changes PostgreSQL's indexes alone (their user ids ordered
-- by bytes, COLLATE "C"): SQLite's text sorts by bytes already. It keeps
-- both backends at the same version.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
