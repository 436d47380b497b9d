// Package game runs tickroom's authoritative rooms: the tick scheduler, the
// room inbox for inputs, the Game interface that a game implements, and the
// entity snapshots and deltas sent to clients.
//
// It knows nothing of sockets: it never imports gnet, gobwas/ws or the
// server. The server implements Client and Transport and calls Room's
// methods from its event loops.
//
// # Writing a game
//
// A Game is created per room by its Definition's New, from the room's
// options. The runtime calls it only on the room's tick worker: Accept to
// take or refuse a join, Notice for joins, leaves, drops and resumes, Input
// for each queued input, Update once per tick with a fixed dt while the
// match runs, and Encode to write the whole state as entities (id → the
// game's protobuf message) plus globals. Context.End ends the match with a
// MatchResult. A game that implements Viewer sends each member its own view
// (area of interest, hidden cards), built on the tick worker. A game that
// implements Versioned is not encoded on ticks where its state did not
// move; one that implements Sleeper has its room taken off its tick
// between inputs, until the tick the game names or until something arrives
// for the room, with its tick numbers and phase kept.
//
// # Saving and restoring
//
// A game that implements Saver can leave one runtime and go on in another
// (a node's drain in a cluster): Room.Handoff saves it at its next tick
// into a tickroomv1.SavedRoom (the runtime's seats, tick number and
// options, plus the game's own bytes) and retires it, its members removed
// with RemovedMoved; Runtime.RestoreRoom makes it live elsewhere with the
// same id and tick numbers, every member dropped until it resumes.
//
// # Ticks
//
// A few shard workers drive every room through a tick wheel: a ring of
// slots Config.Resolution wide that spans a little over one second (the
// longest period, 1 Hz). Rooms start at phases spread over their period by
// a low-discrepancy sequence, so ticks do not bunch. A worker sleeps until
// its next busy slot. A late room runs at most 1+MaxCatchUp steps at once,
// then records an overrun and skips the ticks it missed, keeping its phase.
// Lateness and duration go to fixed-bucket histograms per shard and per
// room.
//
// A worker's sleep is a Go timer, and a timer runs on a P. On a core whose
// only P a transport's event loop holds (one CPU, one event loop), a loop
// keeps its P while it waits in epoll_wait for the next read, so a tick
// that falls due meanwhile runs when the loop next wakes, or when the
// runtime's monitor takes the P back: once it has seen the same wait on
// two of its rounds, which it spaces out to 10 ms while it finds nothing
// to take. A server whose clients send in bursts ticks late by up to the
// gaps between them: with load bots that sent every 5 ms, a tick waited
// up to 5 ms for the P; with bots that send every 1–2 ms, up to 1.5 ms
// (BENCHMARKS.md, "Ticks that waited for the bots' next burst"). A spare
// P (GOMAXPROCS above the loops) runs the timers on time, for a thread
// switch a tick.
//
// A room is never touched by two goroutines: other goroutines only
// queue work under the room's mutex, which guards nothing the tick needs
// for long.
//
// # Inputs and membership
//
// Room.Input copies the input into the room's bounded inbox and never
// blocks: a full inbox or a seat over its rate limit drops the input and
// counts it, and the next tick tells the seat's client of the numbered
// inputs it dropped (tickroom.v1.InputDropped, at most one a seat and
// reason a tick, sent reliably before the tick's State), since that
// State's ack passes over them. Each seated player has a share of the inbox (InboxSize over
// MaxPlayers) that the others' bursts cannot take. Joins reserve their seat synchronously (so concurrent joins
// never overfill a room) and are confirmed by the game on the tick worker.
// Membership commands are queued apart from inputs, so a flood of inputs
// can never lose a join or a leave.
//
// # State sync
//
// Each tick the runtime takes the game's Encode output, sorts it by entity
// id and compares the bytes with earlier ticks; it knows nothing of the
// game's schema. A ring (Config.ResumeTicks; two for a Viewer game, whose
// members' views keep their own two) keeps the last distinct states:
// a state equal to the previous one is not stored again, so the tick in
// State.tick is the tick that produced the state and an idle room sends
// nothing. Only the newest two are kept whole (the entities' bytes, an
// index by id, globals and acks): every tick reads them. Between a room's
// ticks only the newest is, in a ring longer than two: the tick's end
// turns the one before into a back record and gives its buffers to a pool
// its shard's rooms share, and the next tick takes them back for its new
// state. Each older one is a back record of the state after it, with no
// index: its globals and the acks that differ (each as a change from the
// newer state's), the ids of the newer state it lacks, and each entity
// that differs as the field changes that make its bytes from the newer
// state's (what a delta carries, run backwards), or whole when the newer
// state lacks it. The records of a room are one queue in one buffer,
// oldest first, as they come and go in ring order. A player who moved costs a record a few
// bytes, and a record is read only when a client's base is that old: the
// state is then rebuilt from the newest whole one, record by record. Members are grouped
// by the last state they have: one delta (changes, removals and additions
// against base_tick) for everyone current, one keyframe for joiners and for
// those whose base left the ring, and, rarely, a delta per older base for
// members that skipped states while congested or that resume with the last
// tick they saw. The groups are served newest base first, so each old
// state is rebuilt from the one served before it and a tick applies each
// record once. A delta sends a changed entity
// as the changed fields of its protobuf message (zigzag varint differences)
// when its field list is unchanged, else whole, and an ack that rose by one
// as one bit: the byte layout (protocol/statesync) is in docs/state-sync.md.
// Each frame is encoded once into a
// pooled frame.Frame as a ServerMessage and handed to the Transport for all
// its recipients. Every State carries the last input sequence number
// processed per seat (its ack), applied or refused, so clients can
// reconcile their prediction. Inputs with a sequence number not above the
// seat's last are dropped as stale (numbering wraps from 2^32-1 to 1, and
// "above" compares as serial numbers, RFC 1982); a resuming client
// continues its numbering.
//
// The per-seat input rate (Definition.InputRate) is a token bucket of our
// own, a float32 and the last input's time in the seat, checked under the room's lock that
// Input holds anyway. golang.org/x/time/rate's Limiter was measured on the
// same kind of per-message check (server's BenchmarkMessageRate*,
// BENCHMARKS.md): two to three times the time, twice the memory per seat,
// and a second mutex, for the same refill rule; so the bucket stays.
package game
