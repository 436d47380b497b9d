package cluster

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/tickroom/tickroom/server/social"
)

// DefaultCopyMaxAge bounds the age of a copy of a direct message or call
// signal cast to its recipient's other nodes (BusConfig.CopyMaxAge).
const DefaultCopyMaxAge = 5 * time.Second

// The casts other than presence (an unfriending, a block's, a friend
// request sent to a user who came online, a notice to one user; with
// -multi-sockets, the copies of a direct message or call signal for its
// recipient's other nodes) went
// through the lookup queue, which refused them when full: an unfriending
// refused left the friendship standing on the other user's node until
// that user's lists were read again. They now wait in a queue of their
// own that refuses nothing; one goroutine sends them in order, finding
// castBatch users on Redis a lookup (a lookup that fails is made again
// for up to lookupPatience before its casts are dropped, counted in
// CastsLost), each node's in one "ops" message, keeping the bus's queue
// at most half full. What fills the queue is bounded by the users' own
// rates (a block, an unfriending and a friend request are each a graph
// change, under the contact rates) and by the operator's notices. A
// message the bus could not send (it refuses new ones while Redis does
// not answer, and one it took may fail to publish) was forgotten without
// a word; its casts are now counted in CastsLost, and logged. They are
// not sent again: a notice would come twice when its publish failed after
// Redis took it.
//
// The copies of direct messages and call signals are not queued while
// Redis is known not to answer (the bus marked down, or the node's last
// heartbeat failed): they are counted in CastsLost at once. Queued, they
// piled up with the chat for the whole outage, the caster waiting for the
// bus (waitHealthy) with no limit, and reached the recipient's other
// nodes minutes late once Redis was back, a call's offer ringing for a
// call long ended.
//
// The copies of direct messages and call signals queued in the seconds
// before the node knew Redis did not answer (up to a heartbeat interval
// and a Redis timeout), or while Redis was slow to answer, waited for it
// all the same, and reached the recipient's other nodes late once it
// answered: a call's offer rang for a call long ended. Each copy now
// carries when it was queued (the monotonic clock), and one that has
// waited longer than BusConfig.CopyMaxAge (5 s) when its turn comes to be
// looked up, or to be handed to the bus, is dropped, counted in
// CastsLost. The other casts change what a node holds (an unfriending, a
// list's change) or tell what the user has to answer (a friend request),
// and are sent however late. Presence casts (presence.go) keep their
// own bounds: a user's later change is cast after an earlier one, one
// that fails is told again from the user's presence then (pushAgain),
// and after an outage the node tells and asks again (AnnounceRemote,
// Recheck).

// castBatch is how many casts one lookup finds the users of.
const castBatch = opsBatch

// queuedCast is a cast waiting in Social.casts.
type queuedCast struct {
	op *social.RemoteOp
	// at is when op was queued, for a copy of a direct message or call
	// signal (OpDeliver); zero for the others, sent however late.
	at time.Time
}

// caster sends the casts queued, in order, until Close.
func (s *Social) caster() {
	defer s.wg.Done()
	for {
		queued := s.casts.pop(castBatch)
		if len(queued) == 0 {
			select {
			case <-s.stop:
				return
			case <-s.casts.kick:
			}
			continue
		}
		ops := make([]*social.RemoteOp, len(queued))
		at := make([]time.Time, len(queued))
		for i, c := range queued {
			ops[i], at[i] = c.op, c.at
		}
		if !s.castOps(ops, at, &s.CastsLost, "casts", s.castsFailed) {
			return
		}
	}
}

// castsFailed counts and logs the casts of a message the bus could not
// send. Safe from any goroutine.
func (s *Social) castsFailed(ops []*social.RemoteOp, err error) {
	s.CastsLost.Add(uint64(len(ops)))
	s.log.Warn("cluster: casts dropped: the bus could not send them", "casts", len(ops), "err", err)
}

// fresh returns the ops of ops (at their times at, nil when none has
// one) whose time is zero or within the bus's CopyMaxAge now, and
// their times; those past it are counted in lost, and logged.
func (s *Social) fresh(ops []*social.RemoteOp, at []time.Time, lost *atomic.Uint64) ([]*social.RemoteOp, []time.Time) {
	stale := func(i int) bool { return !at[i].IsZero() && time.Since(at[i]) > s.bus.cfg.CopyMaxAge }
	i := 0
	for i < len(at) && !stale(i) {
		i++
	}
	if i == len(at) { // none stale, the usual case: nothing to copy
		return ops, at
	}
	var keptOps []*social.RemoteOp
	var keptAt []time.Time
	n := 0
	for i, op := range ops {
		if stale(i) {
			n++
			continue
		}
		keptOps, keptAt = append(keptOps, op), append(keptAt, at[i])
	}
	lost.Add(uint64(n))
	s.log.Warn("cluster: copies of direct messages or signals dropped: queued too long ago", "casts", n, "max_age", s.bus.cfg.CopyMaxAge)
	return keptOps, keptAt
}

// castOps sends ops, each with a To (len(ops) ≤ opsBatch), to the nodes
// of their users other than this one, found in one lookup (locateTrying:
// those it could not find are counted in lost, what names them in the
// log), and hands failed those of a message the bus could not send
// (sendCasts); it reports false at Close. at gives when each op was
// queued, zero for one sent however late (nil: none has a time): one
// older than the bus's CopyMaxAge before its lookup or when handed to the
// bus is dropped, counted in lost (fresh).
func (s *Social) castOps(ops []*social.RemoteOp, at []time.Time, lost *atomic.Uint64, what string, failed func([]*social.RemoteOp, error)) bool {
	if ops, at = s.fresh(ops, at, lost); len(ops) == 0 {
		return true
	}
	to := make([]string, len(ops))
	for i, op := range ops {
		to[i] = op.To
	}
	loc, ok := s.locateTrying(to, lost, what)
	if !ok {
		return false
	}
	if f := s.lookedUp.Load(); f != nil && loc != nil {
		(*f)()
	}
	return s.sendCasts(ops, at, lost, loc, failed)
}

// sendCasts sends ops to the nodes loc gives their users, other than
// this one, the ops to one node in one "ops" message (in order; len(ops)
// ≤ opsBatch) while every node reads them, keeping the bus's queue at
// most half full; it reports false at Close. The ops of a message the bus
// refuses, or fails to publish after taking it, are handed to failed, at
// once or later on the bus's publisher goroutine. An op whose time at
// (nil: none has one) is past the bus's CopyMaxAge when its message is
// handed to the bus is left out, counted in lost (fresh).
func (s *Social) sendCasts(ops []*social.RemoteOp, at []time.Time, lost *atomic.Uint64, loc map[string][]string, failed func([]*social.RemoteOp, error)) bool {
	together := s.batching()
	var nodes []string
	byNode := make(map[string][]int) // indexes into ops
	for i, op := range ops {
		for _, node := range loc[op.To] {
			if node == s.bus.Node() {
				continue
			}
			if byNode[node] == nil {
				nodes = append(nodes, node)
			}
			byNode[node] = append(byNode[node], i)
		}
	}
	// pick returns the ops of idx, and their times when at has them.
	pick := func(idx []int) ([]*social.RemoteOp, []time.Time) {
		some := make([]*social.RemoteOp, len(idx))
		var times []time.Time
		if at != nil {
			times = make([]time.Time, len(idx))
		}
		for k, i := range idx {
			some[k] = ops[i]
			if at != nil {
				times[k] = at[i]
			}
		}
		return some, times
	}
	for _, node := range nodes {
		if together {
			if !s.waitBusRoom() {
				return false
			}
			sent, times := pick(byNode[node])
			sent, _ = s.fresh(sent, times, lost)
			if len(sent) == 0 {
				continue
			}
			body, _ := json.Marshal(sent)
			if err := s.bus.ToNodeFailing(node, &Envelope{Kind: kindOps, Body: body}, func(err error) { failed(sent, err) }); err != nil {
				failed(sent, err)
			}
			continue
		}
		for _, i := range byNode[node] {
			if !s.waitBusRoom() {
				return false
			}
			sent, times := pick([]int{i})
			sent, _ = s.fresh(sent, times, lost)
			if len(sent) == 0 {
				continue
			}
			op := sent[0]
			body, _ := json.Marshal(op)
			if err := s.bus.ToNodeFailing(node, &Envelope{Kind: kindOp, User: op.To, Body: body}, func(err error) { failed(sent, err) }); err != nil {
				failed(sent, err)
			}
		}
	}
	return true
}
