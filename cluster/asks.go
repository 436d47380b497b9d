package cluster

import (
	"fmt"
	"sync"

	"github.com/tickroom/tickroom/server/social"
)

// A user who logs in asks its friends on other nodes for their presence
// (social.PresenceAsker). Through the lookup queue, which refuses what
// does not fit, a mass login (a node restarted, its players reconnecting
// to the others) had most of those questions refused, and those users
// were shown their friends offline until a friend's next change. The
// questions of a login now wait in a queue of their own that refuses
// nothing, in the order they were asked, each entry holding the friends
// to ask (at most a friend list, social's MaxListSize); askWorkers
// goroutines send them at the pace of Redis and of the bus, keeping the
// bus's queue at most half full and at most askInFlight questions
// awaiting their answers: a node asked more at once than it serves
// within the call timeout (2 s) would have the rest time out, and those
// friends shown offline. The bound is a weighted semaphore
// (golang.org/x/sync/semaphore), each login's call weighing its
// questions.

const (
	// askWorkers is how many logins' questions are looked up at once.
	askWorkers = 4
	// askInFlight bounds the questions awaiting their answers.
	askInFlight = 8192
)

// errSilent is the failure of a login's questions not asked, as the node
// knows Redis does not answer (Social.SetUnreachable).
var errSilent = fmt.Errorf("%w: not asked, as the node's last heartbeat failed", ErrUnavailable)

// pendingAsk is one login's questions.
type pendingAsk struct {
	from    string
	friends []string
	done    func([]social.RemoteAnswer)
}

// fifo is a queue that refuses nothing. Its methods are safe from any
// goroutine and never block.
type fifo[T any] struct {
	mu    sync.Mutex
	items []T
	kick  chan struct{}
}

func newFIFO[T any]() *fifo[T] { return &fifo[T]{kick: make(chan struct{}, 1)} }

func (q *fifo[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// pop takes up to n items, those pushed first; none when none wait.
func (q *fifo[T]) pop(n int) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.items))
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	copy(out, q.items)
	clear(q.items[:n])
	q.items = q.items[n:]
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
	} else {
		// Another worker may take the next ones now.
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
	return out
}

// Len returns how many items wait.
func (q *fifo[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// AskPresence implements social.PresenceAsker: it asks the presence of
// friends, users of other nodes, as from may see them, and calls done
// once with the answers, in order. It is never refused.
func (s *Social) AskPresence(from string, friends []string, done func([]social.RemoteAnswer)) {
	s.asks.push(pendingAsk{from: from, friends: friends, done: done})
}

// asker sends the logins' questions, in order, until Close.
func (s *Social) asker() {
	defer s.wg.Done()
	for {
		popped := s.asks.pop(1)
		if len(popped) == 0 {
			select {
			case <-s.stop:
				return
			case <-s.asks.kick:
			}
			continue
		}
		a := popped[0]
		if s.silent() {
			as := make([]social.RemoteAnswer, len(a.friends))
			for i := range as {
				as[i].Err = errSilent
			}
			a.done(as)
			continue
		}
		if !s.waitBusRoom() {
			return
		}
		weight := int64(min(len(a.friends), askInFlight))
		if s.askSlots.Acquire(s.ctx, weight) != nil {
			return // closed
		}
		ops := make([]*social.RemoteOp, len(a.friends))
		for i, x := range a.friends {
			ops[i] = &social.RemoteOp{Kind: social.OpQueryPresence, From: a.from, To: x}
		}
		done := func(as []social.RemoteAnswer) {
			s.askSlots.Release(weight)
			a.done(as)
		}
		s.callAlso(ops, nil, true, done, func(err error) {
			as := make([]social.RemoteAnswer, len(ops))
			for i := range as {
				as[i].Err = err
			}
			done(as)
		})
	}
}
