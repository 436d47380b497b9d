// Package bots is tickroom's load generator: thousands of simulated
// players, each a real tickroom.v1 WebSocket client, that log in over HTTP,
// join rooms, send inputs and chat at a rate, drop and resume, and stop
// reading on cue, while the engine measures what a player would see.
//
// # I/O model
//
// Bots do not get goroutines. Run starts one event loop per CPU (an epoll
// instance on its own goroutine); each bot's socket is non-blocking and
// lives on one loop, which connects it, writes the client handshake
// (RFC 6455 §4.1), parses server frames in place, and writes masked frames
// with one write(2) each. A loop wakes every 1–2 ms to send what is due
// (inputs, chat, pings, redials). Other goroutines hand work to a loop
// with post, over an eventfd. Only logins run on goroutines, a bounded
// number at a time, over one shared http.Client whose idle keep-alive
// connections are closed once the ramp's logins are done (so the server's
// memory a seated player is not counted with them). Connections are spread
// over the source addresses 127.0.0.2 … so each has its own ephemeral port
// range, and Run raises the soft open-file limit to the hard one.
//
// # What is measured
//
// Every input carries a sequence number; the first State whose InputAck
// for the bot's seat reaches it stops the clock (input → ack latency, in a
// high-dynamic-range histogram). States are scanned, not decoded: tick,
// base tick and the bot's ack only. Also: snapshots and bytes per bot,
// skipped ticks (not those a bot missed while it was away: the State after
// a resume is no gap) and the time between snapshots (not across a slow
// reader's pause, which is the bot's own), connect, login, join and
// resume times, Error replies by code, close codes, and the resume success
// rate. A bot that loses its connection connects again, as client-js
// does: to resume its seat, or, when it had none yet, to join as at its
// start; one closed for good (a close code that is not resumable) or
// whose redials fail five times in a row stops, and the report counts it
// (bots_ended_early; "ended early" in the text, ended_early in the series). A sampler reads the server's CPU, RSS and tick lateness from its
// Prometheus /metrics (uncompressed), or CPU and RSS from /proc/<pid>,
// before the first bot, every second, and at the window's start and end;
// the report names a reading of those three that failed, with its cause
// and what it leaves out (the server's CPU is then over the whole run
// when the window's start is the one missing, and says so).
//
// # Clusters
//
// Config.HTTPURLs names several nodes of a cluster. Bots are spread over
// them: each logs in at one and connects to its WebSocket URL. A node
// answers a join for a room on another node (or a quick-match placed
// there) with a Redirect: the bot closes its connection (1000), connects
// to the node the Redirect names with the same session token, and sends
// the same request again with the reservation; the join time runs from the
// first request, and the report counts the redirects. After a drop a bot
// resumes at the node it was on. A room that moves off a draining node
// sends its members an unprompted Redirect: the bot reconnects to the
// room's new node and resumes its seat there (a redirect and a reconnect
// in the report).
//
// In gomoku, each bot plays the points of its own colour class of the
// board (see gomokuCells), which never make five in a row: matches stay
// running however long the run lasts (with the room option
// move_seconds=0, no move clock either).
//
// # Scenarios
//
// Config sets the ramp rate, duration, room size, input and chat rates, a
// reconnect storm (a share of the seated bots drop their sockets at once
// and resume with their token and last tick) and slow readers (a share of
// the bots stop reading for a while; the server's slow-client policy
// decides what happens to them).
package bots
