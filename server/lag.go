package server

import "time"

// The lag probe. HighWater and NotSentLowat bound a congested connection
// in bytes, and bytes are time only at a given rate: a room of small
// states (an arena's ~80 B a tick) took 16 KiB in the kernel and 16 KiB
// more in the queue, tens of seconds of its states on a link that carries
// a fifth of them, before the first state was skipped. So each sweep also
// asks the kernel, for every connection that was written to or still had
// bytes outstanding, how many bytes its peer has not acknowledged
// (SIOCOUTQ, one ioctl). From two such rounds it knows how many bytes the
// peer acknowledged in between, the rate its link drains at (rounds are
// half a sweep interval apart at least: a loop behind on its tasks runs
// the sweeps that waited back to back, and at 5,000 bots on one core a
// round a few microseconds after the last found players on loopback
// stalled). A connection is behind when what waits for its link, in the
// kernel, in gnet's buffer and kept back in its queue, would take longer
// than Config.MaxStateLag to drain at that rate, or when it drained
// nothing at all; while it is behind, Congested reports true and rooms
// skip its states, so what it gets next is at most about MaxStateLag old.
// Between sweeps, every drainRecheck, the connections whose link the
// sweep found the limit are looked at again against the rate it measured
// (recheckLag), so that one let go is behind again after a tick or two of
// its rooms' states, not a whole sweep's.
//
// A fast peer drains what it is sent within a round trip: a sweep finds
// it owing at most what it was sent in the last round trip, and the next
// finds that drained, which says nothing of the link's rate, so a burst
// (a keyframe, a join's lists) caught at a sweep is not taken for a
// backlog. Only a link that did not drain what was owed at the sweep
// before gives a rate, and a peer that acknowledges nothing for
// MaxStateLag while owing bytes (a stall, or a round trip that long) is
// behind as well. Bytes a proxy in front of the server has acknowledged
// are drained as far as the probe can tell (docs/deploy.md, "A slow
// player behind the proxy").
//
// Cost: one ioctl a sweep for each connection written to since the last
// sweep or still owing bytes, ~0.25 µs (BenchmarkUnacked), and one every
// drainRecheck for each whose link is the limit; a connection sent
// nothing and owing nothing costs none. The probe's state lives on the
// loop, beside its list of connections, so a Conn stays in its size
// class.

// lagProbe is what the sweep keeps of one connection for the lag probe.
// Counts of bytes wrap: only differences since the last reading are read.
type lagProbe struct {
	handed uint32 // bytes handed to gnet (writev)
	acked  uint32 // bytes the peer had acknowledged at the reading at
	owed   uint32 // bytes waiting for the link at the reading at: unacknowledged, held by gnet, kept back
	rate   uint32 // bytes a second the link drained when last found the limit; 0 when unknown
	at     int64  // the probe round of the reading acked and owed are from (unix ns); a stall keeps it
	sent   bool   // bytes were handed to gnet since the last probe
	valid  bool   // acked, owed and at are a reading of the connection's current run of probes
	behind bool   // the connection is behind
}

// handed counts n bytes handed to gnet for c. Loop only.
func (l *loop) handed(c *Conn, n int) {
	if i := int(c.listIndex); i >= 0 && i < len(l.probes) {
		p := &l.probes[i]
		p.handed += uint32(n)
		p.sent = true
	}
}

// probeLag runs the lag probe for c, an open connection of the loop for
// which gnet holds out bytes, in the probe round of now. Loop only.
func (l *loop) probeLag(c *Conn, out int64, now int64) {
	i := int(c.listIndex)
	if i < 0 || i >= len(l.probes) {
		return
	}
	p := &l.probes[i]
	if !p.sent && p.owed == 0 && !p.behind {
		p.valid = false // nothing sent and nothing owed: no rate to keep
		return
	}
	p.sent = false
	outq, ok := unacked(c.gc.Fd())
	if !ok {
		p.valid = false
		return
	}
	// What the kernel took is what was handed to gnet less what gnet
	// still holds; what the peer acknowledged, that less what the kernel
	// holds unacknowledged.
	acked := p.handed - uint32(out) - uint32(outq)
	owed := c.owed(outq, out)
	lag := l.srv.cfg.MaxStateLag
	behind := false
	switch got := acked - p.acked; {
	case !p.valid || p.owed == 0 || owed == 0 || got > 1<<31:
		// No reading to measure from: a new run of probes, nothing owed
		// at the last reading, or fewer bytes than then (bytes written
		// past the count; none are meant to be). Owing nothing now, the
		// link is not the limit.
		if !p.valid || owed == 0 {
			p.rate = 0
		}
		p.acked, p.owed, p.at = acked, uint32(min(owed, 1<<31)), now
	case got == 0:
		// Nothing acknowledged since the last reading, with bytes owed:
		// a stall, a link that acknowledges in bursts, or a round trip
		// longer than the rounds. The reading is kept, so the stall is
		// measured from it. A connection behind stays behind; one that
		// was not is behind when its backlog is past what the link last
		// drained in MaxStateLag, or once the stall has lasted that.
		behind = p.behind || p.over(owed, lag) || now-p.at >= int64(lag)
	default:
		// Something was owed at the last reading. When the link did not
		// drain even that, it is the limit, and the bytes acknowledged
		// since are its rate: behind when the backlog would take longer
		// than MaxStateLag at that rate, owed / (got / interval) > lag.
		// When it drained all of it, what it acknowledged is only what it
		// was sent, no measure of the link: a keyframe or a burst caught
		// at a round is not a backlog. The rate known is then a floor
		// only, and behind is what it says.
		interval := float64(now - p.at)
		r := uint32(min(float64(got)*1e9/interval, 1<<32-1))
		if got < p.owed {
			p.rate = r
			behind = float64(owed)*interval > float64(got)*float64(lag)
		} else {
			if p.rate > 0 {
				p.rate = max(p.rate, r)
			}
			behind = p.over(owed, lag)
		}
		p.acked, p.owed, p.at = acked, uint32(min(owed, 1<<31)), now
	}
	p.valid = true
	l.setBehind(p, behind)
	if p.rate > 0 {
		l.paced = append(l.paced, c)
	}
}

// owed is what waits for c's link: outq bytes the kernel holds
// unacknowledged, out that gnet holds, and what c's queue keeps back
// while gnet holds bytes. Frames queued while gnet holds nothing wait for
// the loop's flush, not for the link: on a loop behind on its writes
// (5,000 bots on one core) they are there at any sweep, and counting them
// found players on loopback behind. Loop only.
func (c *Conn) owed(outq int, out int64) int64 {
	n := int64(outq) + out
	if c.holding {
		n += c.queued.Load()
	}
	return n
}

// over reports whether owed bytes would take the link longer than lag
// to drain at the rate last measured; false when none is known.
func (p *lagProbe) over(owed int64, lag time.Duration) bool {
	return p.rate > 0 && float64(owed) > float64(p.rate)*lag.Seconds()
}

// setBehind records whether the connection of p is behind. Loop only.
func (l *loop) setBehind(p *lagProbe, behind bool) {
	if behind != p.behind {
		p.behind = behind
		l.behindChanged = true
		if behind {
			l.stats.behind.Add(1)
		}
	}
}

// recheckLag looks again, every drainRecheck between two sweeps, at the
// connections whose link the last sweep found the limit (paced): one
// behind is no longer once what it owes would drain within MaxStateLag
// at the rate the sweep measured, and one that is not is behind as soon
// as it owes more. From the sweep alone, a connection that was let go
// took a whole sweep of its rooms' states before it was behind again,
// as many seconds of its link as its rooms send it times faster than it
// drains: with states of 2 KB a tick at 20 Hz on a link of a fifth of
// that, the player's states were up to 4.7 s old, not ~1. Loop only.
func (l *loop) recheckLag() {
	if len(l.paced) == 0 {
		return
	}
	lag := l.srv.cfg.MaxStateLag
	for _, c := range l.paced {
		i := int(c.listIndex)
		if c.state != stateOpen || i < 0 || i >= len(l.probes) || l.conns[i] != c {
			continue
		}
		p := &l.probes[i]
		outq, ok := unacked(c.gc.Fd())
		if !ok {
			continue
		}
		l.setBehind(p, p.over(c.owed(outq, c.outBytes.Load()), lag))
	}
	l.publishBehind()
}

// publishBehind gives Congested the loop's connections found behind,
// when they changed. Loop only.
func (l *loop) publishBehind() {
	if !l.behindChanged {
		return
	}
	l.behindChanged = false
	var set map[*Conn]struct{}
	for i, c := range l.conns {
		if l.probes[i].behind && c.state == stateOpen {
			if set == nil {
				set = make(map[*Conn]struct{})
			}
			set[c] = struct{}{}
		}
	}
	if set == nil {
		l.behindSet.Store(nil)
		return
	}
	l.behindSet.Store(&set)
}

// isBehind reports whether the loop last found c behind. Safe from any
// goroutine: the set is replaced, never changed, and nil when empty, so
// a loop with no connection behind costs Congested one atomic load.
func (l *loop) isBehind(c *Conn) bool {
	p := l.behindSet.Load()
	if p == nil {
		return false
	}
	_, ok := (*p)[c]
	return ok
}

// defaultMaxStateLag is Config.MaxStateLag's zero value.
const defaultMaxStateLag = 500 * time.Millisecond
