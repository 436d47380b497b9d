package bots

import (
	"maps"
	"sync"
	"sync/atomic"
)

// counter indexes a loop's counters.
type counter int

// The counters every loop keeps; Report names them.
const (
	cInputs       counter = iota // inputs sent
	cAcked                       // inputs acknowledged by a snapshot
	cUntimed                     // of which not timed: past the most a bot keeps in flight
	cSnapshots                   // State messages received
	cKeyframes                   // of which keyframes
	cMessages                    // ServerMessages received, states included
	cBytesIn                     // WebSocket payload bytes received
	cBytesOut                    // bytes written, headers and masks included
	cChats                       // chat lines sent
	cChatsIn                     // chat lines received
	cTickGaps                    // snapshots that skipped at least one tick
	cSkippedTicks                // ticks skipped in all
	cBaseMismatch                // deltas whose base was not the last tick seen
	cConnected                   // WebSocket handshakes completed
	cJoined                      // rooms joined (resumes included)
	cDrops                       // connections the storm dropped
	cResumeTries                 // resume attempts
	cResumed                     // joins answered with resumed = true
	cResumeFailed                // lost seats not resumed: refused, closed, given another seat, or redials given up
	cPaused                      // slow-reader pauses
	cReconnects                  // reconnects after a resumable close
	cRedirects                   // Redirects followed to another node
	cJoinRetries                 // joins sent again after UNAVAILABLE or too many in flight
	cGameMessages                // GameMessages received (a game's refusals of inputs)
	cPolls                       // epoll_wait calls of the loops
	cEnded                       // bots that stopped for good before the run's end
	numCounters
)

// loopStats is one loop's measurements: atomic, so the reporter reads them
// while the loop writes.
type loopStats struct {
	c      [numCounters]atomic.Uint64
	open   atomic.Int64 // bots with an open WebSocket
	inRoom atomic.Int64 // bots seated in a room
	// The time bots spent seated, so per-bot rates divide by it rather
	// than by the bots seated at one instant: seatDone is that of the
	// seats given up, seatSince the sum of the seated bots' join times
	// (seatN of them). Under seatMu, so a reader sees the three agree.
	seatMu    sync.Mutex
	seatDone  int64
	seatSince int64
	seatN     int64
	latency   Histogram // input → first acknowledging snapshot, µs
	connect   Histogram // TCP connect → 101, µs
	join      Histogram // join request → Joined (through redirects), µs
	resume    Histogram // drop → resumed Joined, µs
	tickGap   Histogram // State.tick minus the previous one
	interval  Histogram // time between snapshots, µs
}

func (s *loopStats) add(c counter, n uint64) { s.c[c].Add(n) }

// seat counts a bot seated at now.
func (s *loopStats) seat(now int64) {
	s.seatMu.Lock()
	s.seatN++
	s.seatSince += now
	s.seatMu.Unlock()
	s.inRoom.Add(1)
}

// unseat counts a bot seated since since that left its seat at now.
func (s *loopStats) unseat(since, now int64) {
	s.seatMu.Lock()
	s.seatN--
	s.seatSince -= since
	s.seatDone += now - since
	s.seatMu.Unlock()
	s.inRoom.Add(-1)
}

// seatedNanos returns the time bots have spent seated up to at.
func (s *loopStats) seatedNanos(at int64) int64 {
	s.seatMu.Lock()
	defer s.seatMu.Unlock()
	return s.seatDone + s.seatN*at - s.seatSince
}

// tally counts events by name (error codes, close codes, connect
// failures). Safe from any goroutine; used off the hot path only.
type tally struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (t *tally) add(key string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]uint64{}
	}
	t.m[key]++
	t.mu.Unlock()
}

func (t *tally) snapshot() map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]uint64, len(t.m))
	maps.Copy(out, t.m)
	return out
}

func (t *tally) total() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n uint64
	for _, v := range t.m {
		n += v
	}
	return n
}

// sample is every loop's counters and histograms merged at one instant.
type sample struct {
	at       int64 // engine clock, ns
	c        [numCounters]uint64
	open     int64
	inRoom   int64
	seatedNs int64 // time bots spent seated so far
	latency  HistSnapshot
	connect  HistSnapshot
	join     HistSnapshot
	resume   HistSnapshot
	tickGap  HistSnapshot
	interval HistSnapshot
}

func (e *engine) collect() *sample {
	s := &sample{at: e.now()}
	for _, l := range e.loops {
		for i := range s.c {
			s.c[i] += l.st.c[i].Load()
		}
		s.open += l.st.open.Load()
		s.inRoom += l.st.inRoom.Load()
		s.seatedNs += l.st.seatedNanos(s.at)
		l.st.latency.Snapshot(&s.latency)
		l.st.connect.Snapshot(&s.connect)
		l.st.join.Snapshot(&s.join)
		l.st.resume.Snapshot(&s.resume)
		l.st.tickGap.Snapshot(&s.tickGap)
		l.st.interval.Snapshot(&s.interval)
	}
	return s
}
