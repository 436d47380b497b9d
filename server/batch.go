package server

import "github.com/tickroom/tickroom/internal/frame"

// A broadcast queues one frame on many connections. Queued one by one,
// the first dirty connection of each loop submits a flush task, the loop
// wakes and runs it at once, and the next connection then finds no task
// pending and submits another: on an idle box a room of ten cost three to
// four wake-ups a tick (BenchmarkTickToSocket in server/hub). So a
// broadcast holds every loop's flush task back while it queues, and each
// loop that got dirty connections is handed one task at the end.

// broadcast queues f on every connection in to, in class, with one flush
// task per loop at most.
func (s *Server) broadcast(f *frame.Frame, to []*Conn, class Class) {
	if len(to) < 2 {
		for _, c := range to {
			_ = c.enqueue(f, class)
		}
		return
	}
	loops := s.loopList()
	for _, l := range loops {
		l.hold()
	}
	for _, c := range to {
		_ = c.enqueue(f, class)
	}
	for _, l := range loops {
		l.release()
	}
}

// hold keeps markDirty from submitting flush tasks until the matching
// release. Safe from any goroutine.
func (l *loop) hold() {
	l.mu.Lock()
	l.holds++
	l.mu.Unlock()
}

// release ends a hold; the last one submits the flush task that the
// connections marked dirty meanwhile are owed. Safe from any goroutine.
func (l *loop) release() {
	l.mu.Lock()
	l.holds--
	submit := l.claimSubmit()
	l.mu.Unlock()
	if submit {
		l.submitFlush()
	}
}
