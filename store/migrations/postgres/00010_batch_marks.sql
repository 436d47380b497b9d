-- Version 10 records, for each write queue (store.WriteQueue), the last
-- batch it wrote, in the batch's own transaction, so that a batch written
-- again whole after its commit reached the database but reported an error
-- (the queue's retry) finds itself there and writes nothing more: its
-- channel lines, direct messages, results and graph changes are stored
-- once. A queue numbers its batches from 1 and writes them one at a time,
-- in order, so one row per queue (per process start) is enough; the first
-- batch of a new queue deletes a few rows not written for
-- store.markTTL (7 days), on batch_marks_at.
--
-- A node of an older version, beside a newer one in a rolling upgrade,
-- writes no marks and its batches as before.

-- +goose Up
CREATE TABLE batch_marks (
    writer TEXT PRIMARY KEY, -- a WriteQueue's id, random, made with it
    seq    BIGINT NOT NULL, -- its last batch written
    at_ms  BIGINT NOT NULL  -- when, Unix milliseconds
);
CREATE INDEX batch_marks_at ON batch_marks (at_ms);

-- +goose Down
DROP TABLE batch_marks;
