-- Version 12 records, with a friend request, the client address it was
-- sent from as per-address limits count it (from_addr: an IPv4 address,
-- or an IPv6 address's /64, as a prefix) and, for IPv6, its /48
-- (from_site), so that the requests standing for one user from one
-- address are counted, on every node and after a restart, before another
-- is stored. Empty for a request stored before this version, by an older
-- node, or from an address that has no share (loopback by default), and
-- for an accepted friendship: those count against no address.

-- +goose Up
ALTER TABLE friendships ADD COLUMN from_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE friendships ADD COLUMN from_site TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE friendships DROP COLUMN from_site;
ALTER TABLE friendships DROP COLUMN from_addr;
