package social

import (
	"slices"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// With users shared across nodes (Config.SharedUsers) a user may be
// connected on several nodes, each of which casts its presence as it
// stands there alone: in a room on one, in the lobby on another. Told as
// it came, a friend saw whichever node told it last: ONLINE when the user
// opened a connection in the lobby on one node while in a room on
// another, and the room of a node it had closed its connection on while
// still connected on another. So a node of this version marks its casts
// PerNode (its presence there), tells when the user leaves it while
// connected elsewhere (OpPresenceLeft), and keeps, for each user such
// casts told of while one of its friends here watches it, the presence
// each node told (Social.told: at most one entry a node the user is on,
// shared by its friends here, dropped with the last of them), showing
// them the merged one
// (mergePresence): in a room when any node says so, the most recent
// room; online when any says so; and offline once none does. A user's
// own connections on this node count as this node's word. The casts of a
// node of an older version carry no mark and are shown as they come,
// leaving the entries as they were.

// nodePresence is a friend's presence as one node told it.
type nodePresence struct {
	node string
	pr   *tickroomv1.Presence
	at   int64 // when it was told (Unix ns, this node's clock)
}

// presenceRank orders statuses for mergePresence.
func presenceRank(pr *tickroomv1.Presence) int {
	switch pr.GetStatus() {
	case tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM:
		return 2
	case tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE:
		return 1
	}
	return 0
}

// mergePresence is the presence shown of a user that local (its presence
// on this node, nil when it has no connection here) and the nodes' word
// in told say: the highest status, IN_ROOM over ONLINE, and of those the
// latest (the most recent room). nil when none says it is online.
func mergePresence(local *tickroomv1.Presence, told []nodePresence) *tickroomv1.Presence {
	best := local
	if best != nil && presenceRank(best) == 0 {
		best = nil
	}
	for _, np := range told {
		pr := np.pr
		if presenceRank(pr) == 0 {
			continue
		}
		if best == nil || presenceRank(pr) > presenceRank(best) ||
			presenceRank(pr) == presenceRank(best) && pr.GetSinceMs() > best.GetSinceMs() {
			best = pr
		}
	}
	return best
}

// localPresenceLocked is x's presence on this node, nil when it has no
// connection here. The caller holds so.mu.
func (so *Social) localPresenceLocked(x string) *tickroomv1.Presence {
	if xp := so.users[x]; xp != nil {
		return so.presenceLocked(x, xp)
	}
	return nil
}

// toldLocked records x's presence pr as node told it, in place of the
// node's word before and of any offline one. An offline one (a node casts
// it once x is connected nowhere, as it asked) is kept as such, the
// only offline entry, that mergePresence passes over: an OpPresenceLeft
// of another node that comes after it (both of x's connections closing at
// once, each node asking the other) then leaves x offline, not where the
// other node answered it was. pr nil drops node's entry alone. The caller
// holds so.mu.
func (so *Social) toldLocked(x, node string, pr *tickroomv1.Presence) {
	told := slices.DeleteFunc(so.told[x], func(np nodePresence) bool {
		return np.node == node || pr != nil && presenceRank(np.pr) == 0
	})
	if pr != nil {
		told = append(told, nodePresence{node: node, pr: pr, at: so.host.Now().UnixNano()})
	}
	if len(told) == 0 {
		delete(so.told, x)
		return
	}
	if so.told == nil {
		so.told = make(map[string][]nodePresence)
	}
	so.told[x] = told
}

// unwatchLocked ends w's watch of x; the nodes' word on x goes with its
// last watcher here, as their casts about x stop coming. The caller holds
// so.mu.
func (so *Social) unwatchLocked(x, w string) {
	unlink(so.watchers, x, w)
	if so.watchers[x] == nil {
		delete(so.told, x)
	}
}

// mergedLocked is x's presence as its friends here are to be shown it:
// its presence here and the nodes' word in so.told merged, with the node
// that said it ("" for this one); nil when no node's word on x is kept.
// The caller holds so.mu.
func (so *Social) mergedLocked(x string) (*tickroomv1.Presence, string) {
	told := so.told[x]
	if len(told) == 0 {
		return nil, ""
	}
	pr := mergePresence(so.localPresenceLocked(x), told)
	if pr == nil {
		return nil, ""
	}
	for _, np := range told {
		if np.pr == pr {
			return pr, np.node
		}
	}
	return pr, ""
}

// castPresenceLocked serves a PerNode presence cast of friend x from
// node to p's user (Config.SharedUsers): the node's entry is updated
// (the same for each friend of x here the node casts it to), and
// p's connections are sent x's merged presence, or pr as it came when
// no node here or elsewhere says x is online. The caller holds so.mu.
func (so *Social) castPresenceLocked(p *profile, x, node string, pr *tickroomv1.Presence) {
	so.toldLocked(x, node, pr)
	show, from := so.mergedLocked(x)
	if show == nil {
		if local := so.localPresenceLocked(x); local != nil {
			show, from = local, ""
		} else {
			show, from = pr, node
		}
	}
	so.showLocked(p, x, show, from)
}

// leftLocked serves x's leaving node while connected on another
// (OpPresenceLeft, or x's last connection here closing): node's entry is
// dropped, and p's connections are sent x's merged presence, or offline
// when the only word kept is a node's offline, or elsewhere (x's presence
// as a node it is still on answered it) when none is kept. The caller holds so.mu.
func (so *Social) leftLocked(p *profile, x, node string, elsewhere *tickroomv1.Presence) {
	so.toldLocked(x, node, nil)
	show, from := so.mergedLocked(x)
	if show == nil {
		show = so.localPresenceLocked(x)
	}
	if show == nil {
		if told := so.told[x]; len(told) > 0 {
			// Only a node's offline is kept: it found x connected
			// nowhere after the node x left now had answered it was
			// there.
			show, from = told[0].pr, told[0].node
		} else {
			show = elsewhere
		}
	}
	if show != nil {
		so.showLocked(p, x, show, from)
	}
}

// showLocked sends p's connections friend x's presence pr, told by node
// ("" for this one, or not known). The caller holds so.mu.
func (so *Social) showLocked(p *profile, x string, pr *tickroomv1.Presence, node string) {
	if node != "" || presenceRank(pr) == 0 {
		so.noteRemoteLocked(p, x, pr, node)
	}
	if n := so.sendLocked(presenceMessage(pr), memberConns(p)); n > 0 {
		so.stats.PresenceEvents.Add(uint64(n))
	}
}

// leftElsewhereLocked tells uid's friends, here and on other nodes, that
// its last connection here closed while it is connected on another node,
// where it is elsewhere (as that node answered): a friend's node of this
// version shows uid as its other nodes told it (OpPresenceLeft), one of
// an older version drops it. friends is the friend list of its profile
// here, no longer changed. The caller holds so.mu.
func (so *Social) leftElsewhereLocked(uid string, friends map[string]struct{}, elsewhere *tickroomv1.Presence) {
	var enc []byte
	for f := range friends {
		if enc == nil {
			enc = encodeMessage(presenceMessage(elsewhere))
		}
		so.peers.Cast(&RemoteOp{Kind: OpPresenceLeft, From: uid, To: f, Message: enc})
	}
	for w := range so.watchers[uid] {
		if wp := so.users[w]; wp != nil && has(wp.friends, uid) {
			so.leftLocked(wp, uid, "", elsewhere)
		}
	}
}
