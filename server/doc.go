// Package server is tickroom's network side: the gnet v2 engine, the
// WebSocket (RFC 6455) handshake and framing, connections and their write
// path. It never knows a game's rules.
//
// # Threading
//
// gnet runs Config.Loops event loops; each connection belongs to one loop,
// and everything read, parsed and written for it happens there. Handler
// methods run on that loop and must not block. Conn methods that are safe
// from any goroutine say so; the rest of a Conn's state is the loop's.
//
// # Read path
//
// The upgrade request is parsed from the bytes gnet has buffered, without
// copying, so a request split over reads completes and bytes sent right
// behind it are kept as the first frames. A request target in absolute-form
// (GET http://host:port/path, which a server must accept, RFC 9112
// §3.2.2) is served as its path would be: its authority is the request's
// host (Request.Host) in the place of the Host header's, which must still
// come once; an authority without a host (empty, or a port alone), with
// userinfo or with a character no authority has (a fragment's '#') is
// refused with 400, as a scheme other than http and https is. Frames are then parsed in place:
// the header is checked (RSV bits, reserved opcodes, masking, control frame
// rules, continuation order: close 1002), sizes are refused from the header
// alone (close 1009) before the payload is buffered, the payload is
// unmasked in gnet's buffer with ws.Cipher and handed to the Handler. Text
// is validated as UTF-8, across fragments too (close 1007). Fragments are
// reassembled into a buffer capped by Config.MaxMessageSize. A frame must
// arrive whole, and a fragmented message end, within Config.FrameTimeout of
// its first byte, or the connection is closed with Config.IdleCloseCode, as
// a silent one is: a byte now and then is activity, not progress. Every message and every control frame
// takes a token from the connection's rate bucket (Config.MessageRate); a
// ping over the rate gets no pong, a message over it reaches the Handler
// with Conn.OverRate set, and a connection that keeps flooding is closed
// with Config.RateCloseCode, after what the Handler queued for it (its
// answers to those messages) and with the rest of its input dropped.
// Input is also counted per client address and for the whole server, in
// bytes and frames (Config.InputBytesPerIP and the rest, budget.go): while
// one of those budgets is exceeded, a connection over its share of it is
// closed the same way, so many connections that each stay within their own
// rate cannot fill a core together. A frame that is not whole yet is
// waited for without peeking at gnet's buffer again until the bytes it
// needs are there: gnet copies what it has buffered on every Peek, and a
// large frame arriving in many reads would be copied once per read. After
// our close frame, at most maxDrain more bytes are read before the socket
// is reset, besides the rest of a message the peer was sending when the
// frame went out (up to MaxMessageSize, once the header of its first
// frame is read, whether that frame is whole or still arriving), which it
// finishes before it reads our close and answers it. The bucket is a few fields of loop-only state
// per connection; golang.org/x/time/rate's Limiter, the ecosystem's
// choice, was measured on that path (BenchmarkMessageRate*, figures in
// BENCHMARKS.md): its arithmetic takes five to six times as long per
// frame (a mutex, and time arithmetic in Durations) and 80 bytes per
// limiter against our 24, and a loop-owned bucket needs no lock, so the
// own bucket stays.
//
// # Write path
//
// Each connection has one queue of reference-counted frames
// (internal/frame), filled from any goroutine. The first frame queued after
// a flush puts the connection on its loop's dirty list, and the first dirty
// connection of a loop turn submits one flush task; the task writes
// everything due to each dirty connection with one Writev. So frames to one
// connection keep their order, N frames in one turn cost one syscall, and
// Broadcast of one frame to many connections costs one task per loop and no
// per-recipient copy: every recipient holds a reference to the same bytes,
// whose WebSocket header PrepareFrame wrote into the frame's headroom.
// Frames queued while the loop is inside OnTraffic (a handler's replies,
// pongs) are flushed at the end of that turn without a task at all.
//
// Reads come first under load. gnet reads at most 1,024 ready connections
// per poll (a round) and then runs its tasks; turns flush at most 1,024
// dirty connections between two flush tasks, a round's flush tasks at most
// 1,024 between them, and the rest waits, in order, for the next round's
// reads (see flushBatch in writer.go). Without that bound a loop near its core's limit
// spent its rounds writing what the rooms queued meanwhile and read inputs,
// pings and handshakes seconds late; with it, an overloaded loop writes
// late instead, more frames to a Writev (Stats.Carried counts the rounds
// that left work over).
//
// gnet copies what the kernel refuses into the connection's own buffer. So
// while gnet holds bytes for a connection, its flush hands gnet nothing:
// the frames stay shared in its queue and go out, at most 64 KiB per
// Writev, once gnet has drained (noticed at the next frame, the next read,
// the sweep or the drain recheck). A connection that never reads costs a pointer per frame,
// not a copy of it. gnet has no drain callback, so a loop for whose
// connections gnet holds bytes looks at those every 10 ms (recheckHeld):
// what gnet holds counts toward HighWater, and a connection stays
// congested no longer than that after it drained.
//
// Outbound bytes are bounded in two classes. Droppable frames (latest
// wins) are skipped while Conn.Congested reports the connection over
// Config.HighWater. The kernel keeps at most Config.NotSentLowat of a
// connection's bytes unsent (TCP_NOTSENT_LOWAT): past it, what is sent
// waits here, where HighWater sees it, rather than in a send buffer no
// frame can be skipped from. Bytes are time only at a given rate, so
// Droppable frames are also skipped while the connection is found behind
// by more than Config.MaxStateLag: what waits for its link would take it
// longer than that to drain, at the rate its peer acknowledged bytes
// between two sweeps (lag.go: one SIOCOUTQ a sweep for each connection
// written to or owing bytes). Reliable frames queue; a connection over
// Config.ReliableBudget for longer than Config.SlowDeadline, or over
// Config.HardCap at all, is closed with Config.SlowCloseCode. The hard cap
// always holds the budget plus one message of Config.MaxMessageSize. Across
// all connections, Config.MaxOutboundBytes bounds what the process holds:
// past it, each loop closes its largest holders that are not keeping up
// first, right after the flush that went over, until the process is back
// under it.
//
// # Closing
//
// Every close the server chooses sends a close frame (close.go): a slow
// client's queue is dropped and its close frame goes behind what gnet
// already holds, so a client that reads again learns why; the socket is
// reset if the peer has not closed by Config.CloseTimeout. Closes are
// counted once, by code and CloseReason (Stats.Closed, Stats.ClosedFor),
// after the handler's OnClose: a close counted is one the handler saw.
//
// # Timers
//
// One gnet ticker asks every loop to sweep its connections each
// Config.SweepInterval: unfinished handshakes past Config.HandshakeTimeout
// get 408; quiet connections are pinged every Config.PingInterval and
// closed with 1001 after Config.IdleTimeout without a byte read; closing
// connections that the peer does not close are dropped after
// Config.CloseTimeout. There is no goroutine per connection.
//
// # Refusals
//
// Connections are capped in total (Config.MaxConns, 503), in unfinished
// handshakes per TCP peer (Config.MaxHandshakesPerIP, 429) and in upgraded
// connections per client address for their whole life
// (Config.MaxConnsPerIP, 429; the address is Conn.ClientIP). A request
// with two Host or Sec-WebSocket-Key headers is refused with 400, as is
// one that announces a body (Transfer-Encoding, or a Content-Length other
// than 0): the opening handshake is a GET without one (RFC 6455 §4.1),
// and the bytes of a body would otherwise be read as the first frames.
// A CR, LF or NUL in a header line, or a control character in the
// request target, is refused with 400 too (RFC 9110 §5.5): a reader that
// ends lines on a bare LF would see a header behind it (a
// Transfer-Encoding, a second Host) that the server did not.
//
// # Behind a TCP proxy
//
// With Config.ProxyProtocol, a PROXY protocol header (version 1 or 2)
// may come ahead of the upgrade request from a Config.TrustedProxies
// peer; the client it names is Conn.ClientIP from then on, held to the
// per-IP caps and named in the logs. From any other peer a PROXY header
// is refused with 400. The header is framed in place like the request
// (an incomplete one waits for the next read, within the handshake
// timeout) and only a whole one is handed to github.com/pires/go-proxyproto,
// a well-kept parser of both versions, over those bytes alone: its own
// listener wrapper needs a blocking net.Conn, which event loops do not
// have, and the framing is a few lines.
//
// Every refusal gets a real HTTP response (400, 403, 404, 405, 408, 426,
// 429, 431, 503, or the status of the Handler's HTTPError) or close frame,
// after which the socket is half-closed (once gnet has written what it
// held for the peer, the answer last) and input is drained until the peer
// hangs up or Config.CloseTimeout passes, so the answer is not lost to a
// TCP reset.
//
// # Lock order
//
// Conn.mu, then loop.mu; neither is held while calling gnet or a Handler.
package server
