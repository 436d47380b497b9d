package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/tickroom/tickroom/server/social"
)

// Presence pushes carry no answer, and pub/sub keeps nothing: a node cut
// off from Redis misses the pushes made to its users meanwhile, and loses
// those its own users made. Recheck, a hook run when the node registers
// again after losing Redis, has its users ask their friends on other
// nodes for their presence again, and every other node ask about its
// users it was told are online (social.OpRecheck); each user is pushed
// what changed. The questions are paced: a node of 10,000 users with 500
// friends each asks 5,000,000, which at once would overflow the bus's
// queues (and the other nodes'), and fail most.

// Recheck pacing.
const (
	// recheckBatch is how many friends' presence one call asks.
	recheckBatch = 256
	// recheckCalls is how many such calls await their answers at once:
	// at most recheckBatch × recheckCalls questions, well under the
	// bus's queue (DefaultBusQueue), on this node and on the one asked.
	recheckCalls = 4
	// recheckTries is how many times a question that failed (the node
	// asked did not answer in time, or this one's subscription was not
	// back yet) is asked, recheckRetry apart.
	recheckTries = 3
	recheckRetry = time.Second
)

// Recheck has the bound social layer's users ask their friends on other
// nodes for their presence again, in the background at a bounded pace,
// and tells every other node to ask again about this node's users. It is
// a hook for Node.OnRegister, run after Users.Republish (so that a node
// answering an earlier question finds this node's users again); it waits
// (up to ctx) only for the bus to reach Redis again, and fails when it
// cannot tell the other nodes.
func (s *Social) Recheck(ctx context.Context) error {
	s.wantRecheck("")
	body, _ := json.Marshal(&social.RemoteOp{Kind: social.OpRecheck})
	for {
		if s.bus.Healthy() {
			if err := s.bus.ToAll(&Envelope{Kind: kindOp, Body: body}); err == nil {
				return nil
			}
		}
		select {
		case <-s.stop:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%w: presence recheck: %w", ErrUnavailable, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// wantRecheck queues a recheck of every remote friend (node empty) or of
// those noted on node. Safe from any goroutine; it never blocks.
func (s *Social) wantRecheck(node string) {
	s.recheckMu.Lock()
	if node == "" {
		s.recheckAll = true
	} else {
		s.recheckNodes[node] = true
	}
	s.recheckMu.Unlock()
	select {
	case s.recheckKick <- struct{}{}:
	default:
	}
}

// rechecker runs the rechecks queued, one at a time, until Close.
func (s *Social) rechecker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.recheckKick:
		}
		s.recheckMu.Lock()
		all, nodes := s.recheckAll, s.recheckNodes
		s.recheckAll, s.recheckNodes = false, make(map[string]bool)
		s.recheckMu.Unlock()
		so := s.so.Load()
		if so == nil {
			continue
		}
		var targets []social.PresenceRecheck
		if all {
			targets = so.RemoteFriends("")
		} else {
			for node := range nodes {
				targets = append(targets, so.RemoteFriends(node)...)
			}
		}
		if len(targets) > 0 {
			asked, pushed := s.recheck(so, targets)
			s.Rechecks.Add(1)
			s.log.Info("cluster: asked friends' presence again after a loss of Redis", "asked", asked, "pushed", pushed)
		}
	}
}

// recheck asks the presence of each target's friends, recheckBatch a
// call and recheckCalls calls at a time, asks again those that failed,
// and hands the answers to so. It returns how many presences it asked and
// pushed.
func (s *Social) recheck(so *social.Social, targets []social.PresenceRecheck) (asked, pushed int) {
	var mu sync.Mutex // guards pushed and failed, which the answers add to
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return asked, pushed
	}
	for try := 1; len(targets) > 0; try++ {
		var failed []social.PresenceRecheck
		slots := make(chan struct{}, recheckCalls)
		var wg sync.WaitGroup
		for _, tg := range targets {
			for i := 0; i < len(tg.Friends); i += recheckBatch {
				friends := tg.Friends[i:min(i+recheckBatch, len(tg.Friends))]
				noted := tg.Nodes[i:min(i+recheckBatch, len(tg.Nodes))]
				if !s.waitHealthy() {
					return counts()
				}
				select {
				case slots <- struct{}{}:
				case <-s.stop:
					return counts()
				}
				mark := so.RecheckAsked(tg.User)
				if !mark.Valid() {
					<-slots
					continue // gone meanwhile
				}
				ops := make([]*social.RemoteOp, len(friends))
				for k, x := range friends {
					ops[k] = &social.RemoteOp{Kind: social.OpQueryPresence, From: tg.User, To: x}
				}
				asked += len(ops)
				wg.Add(1)
				done := func(as []social.RemoteAnswer) {
					defer wg.Done()
					n := so.Rechecked(tg.User, mark, friends, as)
					var again, againNodes []string
					for k, a := range as {
						if a.Err != nil {
							again = append(again, friends[k])
							againNodes = append(againNodes, noted[k])
						}
					}
					mu.Lock()
					pushed += n
					if len(again) > 0 {
						failed = append(failed, social.PresenceRecheck{User: tg.User, Friends: again, Nodes: againNodes})
					}
					mu.Unlock()
					<-slots
				}
				s.callAlso(ops, noted, true, done, func(err error) {
					as := make([]social.RemoteAnswer, len(ops))
					for k := range as {
						as[k].Err = err
					}
					done(as)
				})
			}
		}
		// Every call ends within the bus's call timeout; Close need not
		// wait for them.
		answered := make(chan struct{})
		go func() { wg.Wait(); close(answered) }()
		select {
		case <-answered:
		case <-s.stop:
			return counts()
		}
		if try == recheckTries {
			break
		}
		targets = failed
		if len(targets) > 0 {
			select {
			case <-s.stop:
				return counts()
			case <-time.After(recheckRetry):
			}
		}
	}
	return counts()
}

// waitHealthy waits until the bus reaches Redis; false when the Social
// closes first.
func (s *Social) waitHealthy() bool {
	for !s.bus.Healthy() {
		select {
		case <-s.stop:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return true
}
