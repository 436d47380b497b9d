package cluster

import (
	"context"
	"time"

	"github.com/tickroom/tickroom/server/social"
)

// After a node registers again, the other nodes may have taken it for
// gone and told their users its users are offline: AnnounceRemote tells
// them again, one cast a (user, friend on another node) pair, each found
// on Redis by a lookup worker. A node of 10,000 users with 500 remote
// friends each has 5,000,000 of them to cast, about two minutes' work at
// the workers' pace; run within the hook's deadline (4 × the Redis
// timeout), a node of 1,000,000 pairs or more never finished them, stayed
// not ready, and cast the first of them again at every heartbeat. They are
// now cast in the background, as Recheck asks, and the hook returns at
// once.

// AnnounceRemote has the bound social layer tell its users' friends on
// other nodes their presence (social.Social.RemoteAnnouncements), for a
// hook run when this node registers again. It returns at once: the casts
// are queued by a goroutine of their own at the lookup workers' pace,
// leaving half the queue to the users' own requests (cast at once, the
// queue refused most of them), and a pass still running when the hook
// runs again starts over from the presences of then.
func (s *Social) AnnounceRemote(context.Context) error {
	s.announceWanted.Store(true)
	select {
	case s.announceKick <- struct{}{}:
	default:
	}
	return nil
}

// announcer casts the announcements wanted, one pass at a time, until
// Close.
func (s *Social) announcer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.announceKick:
		}
		for s.announceWanted.Swap(false) {
			so := s.so.Load()
			if so == nil {
				break
			}
			n := s.announce(so.RemoteAnnouncements())
			s.log.Info("cluster: told friends on other nodes their presence again after registering again", "casts", n)
		}
	}
}

// announce queues the casts of ops at the lookup workers' pace. It stops
// when another pass is wanted (which casts the presences of then), or at
// Close, and returns how many it queued.
func (s *Social) announce(ops []*social.RemoteOp) int {
	for i, op := range ops {
		if s.announceWanted.Load() || !s.waitHealthy() {
			return i
		}
		for len(s.jobs) >= lookupQueue/2 {
			select {
			case <-s.stop:
				return i
			case <-time.After(time.Millisecond):
			}
		}
		select {
		case s.jobs <- s.castJob(op):
			s.Announced.Add(1)
		case <-s.stop:
			return i
		}
	}
	return len(ops)
}
