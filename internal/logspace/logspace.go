// Package logspace spaces out a log line that clients can cause at their
// request rate: a failure of something the server depends on (the
// database, say) is worth one line every so often, not one a request,
// which a client could send thousands of a second to fill the disk.
package logspace

import (
	"sync"
	"time"
)

// Every is the spacing the server uses: one line per call site every 10 s.
const Every = 10 * time.Second

// Spacer lets a line through at most once every Every (its zero value),
// or every Interval when set, and counts the ones it holds back. Safe
// for concurrent use.
type Spacer struct {
	Interval time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// Allow reports whether a line may be written now, and how many were held
// back since the last one written (to log beside it).
func (s *Spacer) Allow(now time.Time) (ok bool, skipped int) {
	every := s.Interval
	if every == 0 {
		every = Every
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.IsZero() && now.Sub(s.last) < every {
		s.skipped++
		return false, 0
	}
	s.last, skipped, s.skipped = now, s.skipped, 0
	return true, skipped
}
