package server

import (
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"
)

// The write path. Any goroutine queues frames on a connection under its
// small mutex; the first frame after a flush puts the connection on its
// loop's dirty list, and the first dirty connection of a turn submits one
// flush task to the loop. The flush runs on the loop and hands everything
// due to each dirty connection to the kernel with one Writev, so N frames
// queued in one turn cost one syscall. A round of the loop flushes a
// bounded number of connections, so that its reads are not starved (see
// flushBatch).
//
// gnet copies whatever the kernel refuses into the connection's own
// outbound buffer. So while gnet still holds bytes for a connection, its
// flush hands gnet nothing: frames stay in the connection's queue, shared
// (reference-counted) with every other recipient, and go out once gnet has
// drained, in chunks of at most writeChunk bytes so that what gnet copies
// when the kernel refuses again stays under a chunk. A connection that
// never reads then costs a pointer per frame, not a copy of each frame's
// bytes. Drained is noticed at the connection's next flush (a new frame),
// its next read, or the loop's recheck every drainRecheck of the
// connections for which gnet holds bytes (recheckHeld), whichever comes
// first.
//
// Lock order: Conn.mu, then loop.mu. Neither is held while calling gnet or
// a Handler.

// iovMax is the most slices one writev(2) takes on Linux (UIO_MAXIOV).
const iovMax = 1024

// writeChunk is how many bytes of queued frames one Writev hands gnet
// before the flush checks that gnet took them all to the kernel; past it
// (and past one frame) the rest waits. It bounds what gnet copies per
// drain of a connection that reads slowly.
const writeChunk = 64 << 10

// enqueue queues f (retaining it) on c in class.
func (c *Conn) enqueue(f *frame.Frame, class Class) error {
	n := int64(len(f.Wire()))
	cfg := &c.srv.cfg
	c.mu.Lock()
	if c.writeShut {
		c.mu.Unlock()
		return ErrConnClosed
	}
	out := c.outBytes.Load() + c.queued.Load()
	// What Congested tells a room before it sends: a Droppable frame is
	// skipped exactly when it reports true, or the room would count as
	// sent a state the client never gets.
	if class == Droppable && (out > int64(cfg.HighWater) || c.srv.overBudget() || c.loop.isBehind(c)) {
		c.mu.Unlock()
		c.dropped.Add(1)
		c.loop.stats.dropped.Add(1)
		return ErrDropped
	}
	// Past the process-wide budget a Reliable frame is still queued: which
	// connections give way is decided on the loop, after the flush, by
	// evict, which closes the largest holders first. Closing this
	// recipient here would close whichever one the frame happens to
	// reach, a reader only momentarily behind as readily as one that
	// never reads.
	switch {
	case out+n > int64(cfg.HardCap):
		// Past the hard cap the connection cannot catch up; close it at
		// the next flush rather than buffer without bound.
		c.writeShut, c.abortReq = true, true
		c.reqFor, c.reqCode, c.reqReason = ReasonSlowBytes, cfg.SlowCloseCode, "outbound hard cap exceeded"
	default:
		f.Retain()
		c.queue = append(c.queue, f)
		c.addQueued(n)
	}
	aborted := c.abortReq
	mark := !c.dirty
	c.dirty = true
	c.mu.Unlock()
	if mark {
		c.loop.markDirty(c)
	}
	if aborted {
		return ErrConnClosed
	}
	return nil
}

// addQueued adds n (which may be negative) to c's queued bytes and to the
// process-wide count. Safe from any goroutine.
func (c *Conn) addQueued(n int64) {
	c.queued.Add(n)
	c.srv.held.Add(n)
}

// setOut records v as the bytes gnet holds for c and updates the
// process-wide count. Loop only.
func (c *Conn) setOut(v int64) {
	c.srv.held.Add(v - c.outBytes.Swap(v))
}

// markDirty puts c on l's dirty list and submits a flush task unless one
// is already pending, the loop is inside OnTraffic or a flush, whose end
// flushes the list or submits the task (see endTurn and flushDirty), the
// loop carries the list over to its next round (see carryOver), or a
// broadcast holds the loop (see batch.go). The caller has set c.dirty
// under c.mu, which only flushDirty clears, as it takes c off the list: a
// flush by another path (flushIfDrained) leaves c listed, and listing it
// twice would spend the round's budget on it twice.
func (l *loop) markDirty(c *Conn) {
	l.mu.Lock()
	l.dirty = append(l.dirty, c)
	submit := l.claimSubmit()
	l.mu.Unlock()
	if submit {
		l.submitFlush()
	}
}

// claimSubmit reports whether the caller is to submit the flush task for
// the dirty list, and if so marks it pending: not when the list is empty,
// a task is pending, a turn, a flush or a broadcast is under way (each
// submits at its end), or the list waits for the loop's next round (a
// turn or carryDue submits). So a list that is not empty always has one of
// them to answer for it. Under l.mu.
func (l *loop) claimSubmit() bool {
	if len(l.dirty) == 0 || l.flushPending || l.inTurn || l.inFlush || l.carrying || l.holds > 0 {
		return false
	}
	l.flushPending = true
	return true
}

// submitFlush hands the loop its flush task; the caller set flushPending.
func (l *loop) submitFlush() {
	l.stats.wakeups.Add(1)
	if err := l.el.Execute(l.srv.ctx, l.flushTask); err != nil {
		// The engine is stopping: gnet closes every connection, and
		// OnClose releases what is queued.
		l.mu.Lock()
		l.flushPending = false
		l.mu.Unlock()
	}
}

// submitPending submits the flush task for what is on the dirty list if
// claimSubmit says so.
func (l *loop) submitPending() {
	l.mu.Lock()
	submit := l.claimSubmit()
	l.mu.Unlock()
	if submit {
		l.submitFlush()
	}
}

// beginTurn marks the loop as inside OnTraffic: frames queued meanwhile,
// by the handler or by other goroutines, are flushed by endTurn without a
// task, so replies cost no wake-up and share the turn's Writev.
func (l *loop) beginTurn() {
	l.mu.Lock()
	l.inTurn = true
	l.mu.Unlock()
}

// A loop's round is one epoll_wait: gnet reads up to 1,024 ready
// connections, one OnTraffic (a turn) each, then runs the tasks handed to
// it until none is left, the flush task among them. A frame's writev costs
// several times an input's read, and rooms queue frames all the time. If
// every turn flushed whatever the rooms had queued since the last, a round
// would last as long as writing every frame queued during it; and a flush
// task that runs long enough for a room to queue more, which submits
// another, keeps gnet in its task loop. Near its core's limit a loop then
// reads a few hundred inputs a second, or none for seconds, while state
// frames go out on time: inputs, pings and handshakes wait (5,000 bots on
// one core, BENCHMARKS.md, "Reads starved by writes"). So turns flush at
// most flushBatch connections between two runs of the flush task, which
// end each round that has one, and the flush tasks of a round at most
// flushBatch between them; what is left stays on the dirty list, in
// order, for the next round, after its reads (carryOver). A connection
// left behind gets its frames late, in one Writev with the next tick's,
// which is what an overloaded loop can afford. (Two paths flush outside
// the list and its budget: the recheck and the sweep flush a held
// connection once gnet has drained it, which they find one by one.)
const (
	// flushBatch is the most dirty connections turns flush between two
	// flush tasks, and the most the flush tasks of one round do.
	flushBatch = 1024
	// carryDelay is how long a list carried over waits for a turn of
	// the next round before a timer submits its flush task (carryOver).
	carryDelay = 100 * time.Microsecond
)

// endTurn ends OnTraffic's turn and flushes what is queued within the
// turns' budget; for the rest, it submits the flush task, which runs after
// the round's reads. Under l.mu, a goroutine that saw inTurn set has
// already put its connection on the list this flush takes; one that sees
// it cleared submits a task. Loop only.
func (l *loop) endTurn() {
	l.mu.Lock()
	l.inTurn = false
	// A turn runs after an epoll_wait: a list carried over has had its
	// round of reads, and the tasks that follow are a new round's.
	l.carrying = false
	pending := len(l.dirty) > 0
	l.mu.Unlock()
	l.taskFlushed = 0
	if !pending {
		return
	}
	if left := flushBatch - l.turnFlushed; left > 0 {
		n, more := l.flushDirty(left, false)
		l.turnFlushed += n
		if !more {
			return
		}
	}
	l.submitPending()
}

// runFlushTask is the flush task. It refills the turns' budget and
// flushes what is dirty within the round's budget for tasks; past it, the
// rest is carried over to the next round. A task that starts carryDelay or
// more after the last one ended starts a new round's budget: the loop has
// polled meanwhile (the carry timer makes the same guess), so a loop with
// no reads, which has no turns to start its rounds, is not held to one
// budget for ever. Loop only.
func (l *loop) runFlushTask() {
	l.turnFlushed = 0
	if now := nanotime(); now-l.taskEnded >= int64(carryDelay) {
		l.taskFlushed = 0
	}
	n, more := l.flushDirty(flushBatch-l.taskFlushed, true)
	l.taskFlushed += n
	switch {
	case !more:
	case l.taskFlushed < flushBatch:
		// Frames queued during the flush: within budget, they go out in
		// this round.
		l.submitPending()
	default:
		l.stats.carried.Add(1)
		l.carryOver()
	}
	l.taskEnded = nanotime()
}

// carryOver arms the timer for a list carried over to the loop's next
// round. flushDirty has set l.carrying, in the same critical section that
// ended the flush: a task submitted now would run in this round, before
// any read, and so would one a room's markDirty submitted, so until the
// next round nobody submits one. The next turn flushes the list or
// submits the task (endTurn), or, when no connection is ready to read, the
// timer does after carryDelay (on one P it fires once the loop's goroutine
// yields, which it does when its poll finds nothing; with more, it can
// land in this round if other tasks keep gnet there that long, which
// costs that round one more batch). Loop only.
func (l *loop) carryOver() {
	if l.carryTimer == nil {
		l.carryTimer = time.AfterFunc(carryDelay, l.carryDue)
	} else {
		l.carryTimer.Reset(carryDelay)
	}
}

// carryDue submits the flush task for a list carried over that no turn
// took up: the loop has had its poll meanwhile, and the task, starting
// carryDelay after the last, has a new round's budget. Runs on the
// timer's goroutine.
func (l *loop) carryDue() {
	if l.srv.stopping.Load() {
		return // the loops are stopping: gnet closes every connection
	}
	l.mu.Lock()
	if !l.carrying {
		l.mu.Unlock()
		return
	}
	l.carrying = false
	submit := l.claimSubmit()
	l.mu.Unlock()
	if submit {
		l.submitFlush()
	}
}

// flushClockEvery is how many connections flushDirty writes to on one
// reading of the clock (loop.flushNow): a batch's writes take a few
// microseconds each.
const flushClockEvery = 64

// flushDirty runs on the loop: it flushes the first limit connections of
// the dirty list and keeps the rest at its front, and reports how many it
// flushed and whether any connection is left dirty, kept or marked
// meanwhile. With carry, a list left over the limit is carried over
// (l.carrying) as the flush ends, so that nobody submits a task for it in
// between.
func (l *loop) flushDirty(limit int, carry bool) (flushed int, more bool) {
	l.mu.Lock()
	batch := l.dirty
	l.dirty, l.spare = l.spare[:0], nil
	l.flushPending = false
	l.inFlush = true
	l.mu.Unlock()
	flushed = max(0, min(len(batch), limit))
	for i, c := range batch[:flushed] {
		if i%flushClockEvery == 0 {
			l.flushNow = frame.Stamp(time.Now())
		}
		c.flush(true)
		batch[i] = nil
	}
	if l.srv.overBudget() {
		// What was just flushed took the process over its outbound
		// budget: close the loop's largest holders now rather than at
		// the next sweep.
		l.evict()
	}
	l.mu.Lock()
	l.inFlush = false
	if rest := batch[flushed:]; len(rest) > 0 {
		// The rest goes first next time, then what was marked meanwhile.
		var spare []*Conn
		l.dirty, spare = requeue(batch, rest, l.dirty)
		if l.spare == nil {
			l.spare = spare
		}
	} else if l.spare == nil {
		l.spare = batch[:0]
	}
	more = len(l.dirty) > 0
	if carry && more && flushed == limit {
		l.carrying = true
	}
	l.mu.Unlock()
	return flushed, more
}

// requeue moves rest, the tail of list left undone, to list's front ahead
// of newer, what was queued meanwhile, and returns the merged list and
// newer's array, emptied, for the next swap. Nothing stays referenced
// past the merged list's length.
func requeue[T any](list, rest, newer []T) (merged, spare []T) {
	kept := copy(list, rest)
	clear(list[kept:])
	merged = append(list[:kept], newer...)
	clear(newer)
	return merged, newer[:0]
}

// stopCarrying stops the loop's carry timer once its goroutine has
// exited, so that it submits nothing to a stopped loop.
func (l *loop) stopCarrying() {
	if l.carryTimer != nil {
		l.carryTimer.Stop()
	}
}

// flush writes c's queued frames while gnet holds nothing for the kernel
// (see the top of this file), then the close frame if Close was called.
// listed says flushDirty took c off the dirty list, so the next frame
// queued lists it again. Loop only.
func (c *Conn) flush(listed bool) {
	if c.state == stateHandshake {
		// Accept has not returned yet; frames queued during Accept go
		// out right after the 101 (see upgrade).
		if listed {
			c.mu.Lock()
			c.dirty = false
			c.mu.Unlock()
		}
		return
	}
	// Frames kept back for a client still reading earlier ones waited for
	// the client, not the loop: the send wait leaves them out.
	held := c.holding
	c.mu.Lock()
	items := c.queue
	c.queue, c.spare = c.spare[:0], nil
	c.addQueued(-c.queued.Load())
	if listed {
		c.dirty = false
	}
	closeReq, abort := c.closeReq, c.abortReq
	c.closeReq, c.abortReq = false, false
	why, code, reason := c.reqFor, c.reqCode, c.reqReason
	c.mu.Unlock()

	written := len(items) // items[:written] are handed to gnet or dropped
	switch {
	case c.state == stateClosed || c.state == stateRefused:
		// Nothing may be written any more.
	case abort:
		// What is still queued is dropped; the close frame goes behind
		// what gnet already holds, and expire resets the socket if the
		// peer has not read it by the close deadline.
		c.srv.cfg.Logger.Debug("slow connection closed", "conn", c.id, "code", int(code), "reason", why.String())
		c.fail(why, code, reason)
	case closeReq:
		// The close frame goes behind everything queued, held frames
		// included: a copy once, at the close, which the hard cap bounds.
		c.writeAll(items, why, code, reason)
	default:
		written = c.writeDrained(items)
		if listed && !held && written > 0 {
			c.loop.noteWait(items[:written])
		}
		if written > 0 && c.ackOwed && c.state != stateClosed {
			c.delayAcks()
		}
	}
	for i, f := range items[:written] {
		f.Release()
		items[i] = nil
	}
	c.holding = false
	if c.state != stateClosed {
		c.setOut(int64(c.gc.OutboundBuffered()))
		if c.state == stateOpen && c.outBytes.Load() > 0 {
			c.loop.addHeld(c) // so that the count goes down when gnet drains
		}
	}
	rest := items[written:]
	if len(rest) > 0 && c.state == stateClosed {
		// gnet closed the socket during the write, and OnClose released
		// the queue.
		for _, f := range rest {
			f.Release()
		}
		clear(rest)
		rest = rest[:0]
	}
	c.mu.Lock()
	if len(rest) > 0 {
		// Keep back what gnet did not take, ahead of what other
		// goroutines queued meanwhile.
		c.holding = true
		c.loop.addHeld(c)
		var n int64
		for _, f := range rest {
			n += int64(len(f.Wire()))
		}
		c.addQueued(n)
		var spare []*frame.Frame
		c.queue, spare = requeue(items, rest, c.queue)
		if c.spare == nil && cap(spare) <= spareCap {
			c.spare = spare
		}
	} else if c.spare == nil && cap(items) <= spareCap {
		clear(items)
		c.spare = items[:0]
	}
	c.mu.Unlock()
}

// spareCap is the largest list of frames a connection keeps for its next
// queue. A flush takes one frame or two in a game's steady state; a burst
// (a login's welcome and lists, a room's events at a join) grows a list
// once, which is then let go rather than held, with the other list, for
// the connection's life: ~100 B a seated player after the login burst.
const spareCap = 4

// writeDrained hands items to gnet in chunks of at most writeChunk bytes
// (or iovMax frames) as long as gnet holds nothing for the kernel, and
// returns how many it handed over. Loop only.
func (c *Conn) writeDrained(items []*frame.Frame) int {
	l := c.loop
	i := 0
	for i < len(items) && c.state != stateClosed && c.gc.OutboundBuffered() == 0 {
		iov := l.iov[:0]
		n := 0
		for i < len(items) && len(iov) < iovMax && (len(iov) == 0 || n < writeChunk) {
			w := items[i].Wire()
			iov = append(iov, w)
			n += len(w)
			i++
		}
		c.writev(iov)
		clear(iov)
		l.iov = iov[:0]
	}
	return i
}

// writeAll hands every item to gnet, then the close frame with code and
// reason, and starts the closing handshake. Loop only.
func (c *Conn) writeAll(items []*frame.Frame, why CloseReason, code ws.StatusCode, reason string) {
	l := c.loop
	iov := l.iov[:0]
	for _, f := range items {
		if len(iov) == iovMax {
			c.writev(iov)
			iov = iov[:0]
		}
		iov = append(iov, f.Wire())
	}
	if c.state == stateOpen {
		if len(iov) == iovMax {
			c.writev(iov)
			iov = iov[:0]
		}
		l.ctl = appendClose(l.ctl[:0], code, reason)
		iov = append(iov, l.ctl)
		c.state = stateClosing
		c.closeFor, c.closeCode, c.closeWhy = why, code, reason
		c.deadline = nanotime() + int64(c.srv.cfg.CloseTimeout)
		c.drained = -c.messageRest()
	}
	if len(iov) > 0 {
		c.writev(iov)
	}
	clear(iov)
	l.iov = iov[:0]
}

// messageRest bounds what the peer may still send of the data message it
// is in the middle of: the rest of a fragmented message, up to
// MaxMessageSize, when one has begun (its first fragment whole, or still
// arriving: a data frame without FIN), or else the frame whose header was
// read (at most MaxFrameSize and its header). A peer finishes the message
// it is sending before it reads our close frame and answers it, so those
// bytes are read on top of maxDrain, and its answer is not lost to a
// reset under a peer within its limits. None for a flood, whose input is
// not read, or after the peer's close frame. Loop only.
func (c *Conn) messageRest() int32 {
	switch {
	case c.flooded || c.peerClosed:
		return 0
	case c.fragOp != 0 || c.inMessage:
		return int32(max(int(c.inNeed), c.srv.cfg.MaxMessageSize-len(c.msg)))
	}
	return c.inNeed
}

// flushIfDrained flushes c when it keeps frames back and gnet has
// drained. Loop only.
func (c *Conn) flushIfDrained() {
	if c.holding && c.state == stateOpen && c.gc.OutboundBuffered() == 0 {
		c.flush(false)
	}
}

// writev hands iov to gnet unless the connection has closed meanwhile.
func (c *Conn) writev(iov [][]byte) {
	if c.state == stateClosed {
		return
	}
	n := 0
	for _, b := range iov {
		n += len(b)
	}
	c.loop.handed(c, n)
	c.loop.stats.bytesOut.Add(uint64(n))
	c.loop.stats.framesOut.Add(uint64(len(iov)))
	c.loop.stats.writes.Add(1)
	if _, err := c.gc.Writev(iov); err != nil {
		c.srv.cfg.Logger.Debug("write failed", "conn", c.id, "err", err)
	}
}

// releaseQueue drops every queued frame and refuses new ones. Loop only,
// when the connection has closed.
func (c *Conn) releaseQueue() {
	c.mu.Lock()
	c.writeShut = true
	items := c.queue
	c.queue = nil
	c.addQueued(-c.queued.Load())
	c.mu.Unlock()
	for _, f := range items {
		f.Release()
	}
}

// sendControl queues a control frame; used on the loop for pings and pongs
// so they keep their place in the connection's order.
func (c *Conn) sendControl(op ws.OpCode, payload []byte) {
	f := frame.New(len(payload))
	f.Append(payload...)
	PrepareFrame(f, op)
	_ = c.enqueue(f, Reliable)
	f.Release()
}

// Broadcast queues one prepared frame on every connection in to, in class.
// Each recipient takes a reference to the same bytes: nothing is copied or
// allocated per recipient (beyond amortized queue growth), and each event
// loop gets at most one flush task for the whole burst. Recipients that are
// closed, or congested for a Droppable frame, are skipped. The caller keeps
// its own reference to f. Safe from any goroutine.
func (s *Server) Broadcast(f *frame.Frame, to []*Conn, class Class) {
	if !prepared(f) {
		s.cfg.Logger.Error("broadcast of an unprepared frame", "err", ErrFrameNotPrepared)
		return
	}
	s.broadcast(f, to, class)
}
