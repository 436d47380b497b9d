package social

import (
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// Presence pushes between nodes carry no answer: a node cut off from
// Redis misses those cast to its users meanwhile, and those its own users
// cast are lost. So once the cluster is reachable again the users of this
// node ask their friends on other nodes for their presence, as at login,
// and are pushed what changed (RemoteFriends with no node, then
// Rechecked); and a node that was cut off has the others ask again about
// the friends they were told are online on it (OpRecheck): a user who
// closed its connection meanwhile is no longer among those it tells
// their presence to again.

// PresenceRecheck is a user of this node and friends of it with no
// connection here, whose presence it asks again.
type PresenceRecheck struct {
	User    string
	Friends []string
	// Nodes holds, for each friend, the node the user was last told it
	// is online on ("" when none): that node is asked too, as where the
	// friend is recorded may be missing (Redis restarted empty, and that
	// node has not recorded its users again yet), which would say the
	// friend is connected nowhere.
	Nodes []string
}

// RemoteFriends returns, for each user of this node, its friends with no
// connection here: all of them when node is empty, else those it was last
// told are online on node. Safe from any goroutine.
func (so *Social) RemoteFriends(node string) []PresenceRecheck {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.peers == nil {
		return nil
	}
	var out []PresenceRecheck
	for uid, p := range so.users {
		var friends, nodes []string
		if node == "" {
			for x := range p.friends {
				if so.users[x] == nil {
					friends = append(friends, x)
					nodes = append(nodes, p.remote[x].node)
				}
			}
		} else {
			for x, n := range p.remote {
				if n.node == node && has(p.friends, x) && so.users[x] == nil {
					friends = append(friends, x)
					nodes = append(nodes, n.node)
				}
			}
		}
		if len(friends) > 0 {
			out = append(out, PresenceRecheck{User: uid, Friends: friends, Nodes: nodes})
		}
	}
	return out
}

// RecheckMark is what Rechecked needs of the moment uid's friends were
// asked again (RecheckAsked).
type RecheckMark struct {
	p     *profile
	ask   *asking
	since uint64
}

// Valid reports whether m marks a question (its user was connected).
func (m RecheckMark) Valid() bool { return m.p != nil }

// RecheckAsked is told that uid's friends on other nodes are about to be
// asked their presence again; it returns the mark to give Rechecked with
// the answers, once (not Valid when uid is not connected here). Safe from
// any goroutine.
func (so *Social) RecheckAsked(uid string) RecheckMark {
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[uid]
	if p == nil {
		return RecheckMark{}
	}
	ask, since := so.askingLocked(p)
	return RecheckMark{p: p, ask: ask, since: since}
}

// Rechecked takes the answers of the friends' nodes to OpQueryPresence
// ops from uid about friends (RemoteFriends), asked since mark: each
// presence that differs from what uid was last told (online on a node, as
// noted, or offline) is noted and pushed to uid's connections, unless the
// friend's node cast its presence since the question was asked (the cast
// is as new or newer). An answer that failed changes nothing; a friend
// connected nowhere is offline. It returns how many presences it pushed.
// Safe from any goroutine.
func (so *Social) Rechecked(uid string, mark RecheckMark, friends []string, as []RemoteAnswer) int {
	so.mu.Lock()
	defer so.mu.Unlock()
	if mark.p != nil {
		so.answeredLocked(mark.p, mark.ask)
	}
	p := so.users[uid]
	if p == nil || p != mark.p {
		return 0 // gone, or here again, since the question
	}
	conns := memberConns(p)
	pushed := 0
	for i, a := range as {
		x := friends[i]
		if a.Err != nil || !has(p.friends, x) || so.users[x] != nil || mark.ask.casted[x] > mark.since {
			continue // not known; unfriended; here now, told as such; or told a later cast
		}
		var pr *tickroomv1.Presence
		switch {
		case a.Code == protocol.ErrorUserOffline:
			pr = so.presenceLocked(x, nil)
		case a.Code == 0:
			pr = decodePresence(a.Presence)
		}
		if pr == nil {
			continue
		}
		old, had := p.remote[x]
		offline := pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
		if offline && !had || !offline && had && old.node == a.Node && old.sum == presenceSum(pr) {
			continue // as told
		}
		so.noteRemoteLocked(p, x, pr, a.Node)
		if len(conns) > 0 && so.host.Send(presenceMessage(pr), conns) {
			so.stats.PresenceEvents.Add(uint64(len(conns)))
			pushed++
		}
	}
	return pushed
}
