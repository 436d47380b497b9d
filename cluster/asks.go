package cluster

import (
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

// pendingAsk is one login's questions.
type pendingAsk struct {
	from    string
	friends []string
	done    func([]social.RemoteAnswer)
}

// askQueue holds the logins' questions waiting. Its methods are safe from
// any goroutine and never block.
type askQueue struct {
	mu   sync.Mutex
	asks []pendingAsk
	kick chan struct{}
}

func newAskQueue() *askQueue { return &askQueue{kick: make(chan struct{}, 1)} }

func (q *askQueue) push(a pendingAsk) {
	q.mu.Lock()
	q.asks = append(q.asks, a)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// pop takes the questions asked first; ok is false when none wait.
func (q *askQueue) pop() (a pendingAsk, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.asks) == 0 {
		return a, false
	}
	a = q.asks[0]
	q.asks[0] = pendingAsk{}
	q.asks = q.asks[1:]
	if len(q.asks) == 0 {
		q.asks = nil // let the backing array go
	} else if len(q.asks) > 1 {
		// Another worker may take the next one now.
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
	return a, true
}

// Len returns how many logins' questions wait.
func (q *askQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.asks)
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
		a, ok := s.asks.pop()
		if !ok {
			select {
			case <-s.stop:
				return
			case <-s.asks.kick:
			}
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
		s.call(ops, done, func(err error) {
			as := make([]social.RemoteAnswer, len(ops))
			for i := range as {
				as[i].Err = err
			}
			done(as)
		})
	}
}
