package cluster

import (
	"encoding/json"
	"sync/atomic"

	"github.com/tickroom/tickroom/server/social"
)

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

// castBatch is how many casts one lookup finds the users of.
const castBatch = opsBatch

// caster sends the casts queued, in order, until Close.
func (s *Social) caster() {
	defer s.wg.Done()
	for {
		ops := s.casts.pop(castBatch)
		if len(ops) == 0 {
			select {
			case <-s.stop:
				return
			case <-s.casts.kick:
			}
			continue
		}
		if !s.castOps(ops, &s.CastsLost, "casts", s.castsFailed) {
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

// castOps sends ops, each with a To (len(ops) ≤ opsBatch), to the nodes
// of their users other than this one, found in one lookup (locateTrying:
// those it could not find are counted in lost, what names them in the
// log), and hands failed those of a message the bus could not send
// (sendCasts); it reports false at Close.
func (s *Social) castOps(ops []*social.RemoteOp, lost *atomic.Uint64, what string, failed func([]*social.RemoteOp, error)) bool {
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
	return s.sendCasts(ops, loc, failed)
}

// sendCasts sends ops to the nodes loc gives their users, other than
// this one, the ops to one node in one "ops" message (in order; len(ops)
// ≤ opsBatch) while every node reads them, keeping the bus's queue at
// most half full; it reports false at Close. The ops of a message the bus
// refuses, or fails to publish after taking it, are handed to failed, at
// once or later on the bus's publisher goroutine.
func (s *Social) sendCasts(ops []*social.RemoteOp, loc map[string][]string, failed func([]*social.RemoteOp, error)) bool {
	together := s.batching()
	var nodes []string
	byNode := make(map[string][]*social.RemoteOp)
	for _, op := range ops {
		for _, node := range loc[op.To] {
			if node == s.bus.Node() {
				continue
			}
			if byNode[node] == nil {
				nodes = append(nodes, node)
			}
			byNode[node] = append(byNode[node], op)
		}
	}
	for _, node := range nodes {
		if together {
			if !s.waitBusRoom() {
				return false
			}
			sent := byNode[node]
			body, _ := json.Marshal(sent)
			if err := s.bus.ToNodeFailing(node, &Envelope{Kind: kindOps, Body: body}, func(err error) { failed(sent, err) }); err != nil {
				failed(sent, err)
			}
			continue
		}
		for _, op := range byNode[node] {
			if !s.waitBusRoom() {
				return false
			}
			sent := []*social.RemoteOp{op}
			body, _ := json.Marshal(op)
			if err := s.bus.ToNodeFailing(node, &Envelope{Kind: kindOp, User: op.To, Body: body}, func(err error) { failed(sent, err) }); err != nil {
				failed(sent, err)
			}
		}
	}
	return true
}
