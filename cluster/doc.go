// Package cluster joins tickroom nodes into one cluster over a shared
// Redis: each node registers itself (id, the public WebSocket and HTTP URLs
// it is reached at, its load, whether it drains) under a key with a TTL it
// refreshes on a heartbeat, so a node that dies leaves the registry by
// itself within the TTL, never staying listed forever.
//
// Redis is reached with github.com/redis/go-redis/v9; every multi-step
// change is one Lua script (EVALSHA), which Redis runs atomically, so no
// state is ever half-written and nothing here re-implements a lock.
// Timestamps in Redis come from Redis's own clock (TIME inside the
// scripts), so nodes with skewed clocks agree on what has expired.
//
// The hub's bound on wrong room passwords is kept in Redis as token
// buckets every node counts in (Buckets), with
// github.com/go-redis/redis_rate/v10: the go-redis project's GCRA limiter,
// one Lua script on Redis's clock whose keys expire once their bucket is
// full again; a well-kept, widely used limiter over the client the
// cluster uses already, rather than one more script of our own. The
// buckets skip Redis while the node knows it does not answer, as the hub
// can count without it.
//
// The account service's bound on each account's wrong passwords is kept
// in Redis too (Guesses), by a script of its own: an account's bucket
// goes with the addresses marked for it, which no limiter keeps, and
// changes with them in one step. So are the logins of a client address
// (Logins): a login answered 503 before any password hash gives its
// token back, which redis_rate cannot do (AllowN of a negative cost
// writes nothing when the bucket would then be full, so the token stays
// taken), and an IPv6 /64's bucket is taken with its /48's in one step.
// Like the buckets they skip Redis while the node knows it does not
// answer, as the service and the login handler count without it.
//
// # Failures
//
// Every call runs under a short deadline (Config.Timeout). When Redis is
// unreachable a call fails with ErrUnavailable at once (the client does
// not queue), the node keeps serving what it hosts, Node.Ready reports
// why, and the heartbeat keeps trying; when a heartbeat finds its
// registration gone (Redis restarted empty, or the node was cut off past
// its TTL) it registers again and runs the Config.OnRegister hooks, which
// republish what the node holds in memory. No operator action is needed.
//
// A node that drains moves the rooms whose game saves itself to other
// nodes (Migrator, migrate.go): the save travels through Redis and is
// taken with GETDEL, so a room is restored at most once, under its own id,
// with its seats held for the same users.
//
// docs/cluster.md describes the topology, the keys and their TTLs.
//
// # Concurrency
//
// Every exported method is safe from any goroutine. Nothing here is ever
// called from an event loop or a tick worker: callers run cluster calls on
// the session side, with deadlines.
package cluster
