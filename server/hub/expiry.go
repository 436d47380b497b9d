package hub

import (
	"container/heap"
	"sync"
	"time"

	"github.com/tickroom/tickroom/protocol"
)

// expiries closes sessions when their token expires, with one timer for
// the whole hub armed for the earliest expiry, over a min-heap of the open
// sessions. A timer per session cost ~130 B of every connection (the
// timer, its closure, the runtime's bookkeeping); a heap entry costs 16 B.
//
// Deadlines are kept on the monotonic clock: a session's is the token's
// remaining life at login (ExpiresAt minus Config.Now) from the moment of
// login, so a server whose wall clock steps neither closes sessions early
// nor keeps them late. Safe from any goroutine.
type expiries struct {
	base time.Time // monotonic origin of the deadlines

	mu    sync.Mutex
	h     expiryHeap
	timer *time.Timer // armed for h[0] while h is not empty
	done  bool        // shutdown: no more timers
}

// expiryEntry is one scheduled session; at is nanoseconds since base.
type expiryEntry struct {
	at int64
	s  *Session
}

// expiryHeap orders the entries by deadline; each session holds its
// entry's index (Session.expIdx, -1 when out of the heap). It implements
// heap.Interface; callers hold expiries.mu.
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].s.expIdx, h[j].s.expIdx = int32(i), int32(j)
}
func (h *expiryHeap) Push(x any) {
	e := x.(expiryEntry)
	e.s.expIdx = int32(len(*h))
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiryEntry{}
	*h = old[:len(old)-1]
	e.s.expIdx = -1
	return e
}

func newExpiries() *expiries { return &expiries{base: time.Now()} }

// add schedules s to be closed with CLOSE_CODE_TOKEN_EXPIRED after left.
func (e *expiries) add(s *Session, left time.Duration) {
	at := int64(time.Since(e.base) + left)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return
	}
	heap.Push(&e.h, expiryEntry{at: at, s: s})
	if s.expIdx == 0 {
		e.armLocked()
	}
}

// remove unschedules s (its connection closed); a session not scheduled
// is ignored.
func (e *expiries) remove(s *Session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i := int(s.expIdx); i >= 0 && i < len(e.h) && e.h[i].s == s {
		heap.Remove(&e.h, i)
	}
	e.shrinkLocked()
}

// shrinkLocked lets a heap that emptied after a crowd left give back its
// backing array.
func (e *expiries) shrinkLocked() {
	if c := cap(e.h); c > 1024 && len(e.h) < c/4 {
		e.h = append(expiryHeap(make([]expiryEntry, 0, c/2)), e.h...)
	}
}

// armLocked points the timer at the earliest deadline.
func (e *expiries) armLocked() {
	if len(e.h) == 0 {
		return
	}
	d := time.Duration(e.h[0].at) - time.Since(e.base)
	if e.timer == nil {
		e.timer = time.AfterFunc(d, e.fire)
		return
	}
	e.timer.Reset(d)
}

// fire closes every session whose deadline passed and re-arms the timer.
func (e *expiries) fire() {
	now := int64(time.Since(e.base))
	var due []*Session
	e.mu.Lock()
	for len(e.h) > 0 && e.h[0].at <= now {
		due = append(due, heap.Pop(&e.h).(expiryEntry).s)
	}
	if !e.done {
		e.armLocked()
	}
	e.shrinkLocked()
	e.mu.Unlock()
	for _, s := range due {
		s.close(protocol.CloseTokenExpired, "")
	}
}

// shutdown stops the timer for good.
func (e *expiries) shutdown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = true
	if e.timer != nil {
		e.timer.Stop()
	}
}
