package social

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// A friend on another node goes offline by that node's word: its node
// casts the OFFLINE presence when the friend's last connection closes. A
// node that crashed (kill -9, a lost machine) says nothing, and its users'
// friends elsewhere kept seeing them online until they came back. So each
// profile notes, for the friends of other nodes it was last told are
// online, which node told it (noteRemoteLocked); the cluster tells this
// node every heartbeat which nodes are live (NodesLive), and a node named
// by those notes that is not live in nodeGoneAfter polls in a row is taken for gone:
// each of its users a local user was told is online is pushed to that
// user as offline. A friend that came back on another node by then was
// noted there already, from the ONLINE presence its new node cast.

// A node started again under the same id (-node-id) at once, within its
// registration's TTL, is never missing from the live nodes: the notes
// made before it crashed are told apart by their time, earlier than the
// node's start as the live nodes give it (the cluster gives it on this
// node's clock, from Redis's: cluster.Social.WatchNodes).

// remoteNote is a friend's node as a profile notes it, when it was
// noted (Unix ns, this node's clock), and a hash of the presence the user
// was told (Recheck pushes only what differs from it). The hash, not the
// presence: a note holding the decoded presence took ~240 B of heap, one
// a remote friend of each user (BenchmarkRemoteNotes).
type remoteNote struct {
	node string
	at   int64
	sum  uint64 // presenceSum of what the user was told
}

// noteSeed seeds the presences' hashes; they never leave the process.
var noteSeed = maphash.MakeSeed()

// presenceSum hashes pr's fields: equal presences hash alike, and two
// that differ collide with a chance of 2⁻⁶⁴ (a recheck would then leave
// that one as told).
func presenceSum(pr *tickroomv1.Presence) uint64 {
	var h maphash.Hash
	h.SetSeed(noteSeed)
	for _, s := range [...]string{pr.UserId, pr.Name, pr.RoomId, pr.Game} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	var n [16]byte
	binary.LittleEndian.PutUint64(n[:8], uint64(pr.Status))
	binary.LittleEndian.PutUint64(n[8:], uint64(pr.SinceMs))
	h.Write(n[:])
	return h.Sum64()
}

// nodeGoneAfter is how many polls in a row a node must be missing from
// the live nodes before its users are taken offline: a node that lost its
// registration for a moment (Redis restarted empty) registers again at
// its next heartbeat.
const nodeGoneAfter = 3

// noteRemoteLocked records that p's user was told pr, the presence of its
// friend x on node (empty: not known; nothing is noted but an offline
// presence, which drops the note). The caller holds so.mu.
func (so *Social) noteRemoteLocked(p *profile, x string, pr *tickroomv1.Presence, node string) {
	if pr == nil {
		return
	}
	old, had := p.remote[x]
	if pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		if had {
			delete(p.remote, x)
			so.unnoteNodeLocked(old.node)
		}
		return
	}
	if node == "" {
		return
	}
	if p.remote == nil {
		p.remote = make(map[string]remoteNote)
	}
	p.remote[x] = remoteNote{node: node, at: so.host.Now().UnixNano(), sum: presenceSum(pr)}
	if had && old.node == node {
		return
	}
	if had {
		so.unnoteNodeLocked(old.node)
	}
	if so.remoteAt == nil {
		so.remoteAt = make(map[string]int)
	}
	so.remoteAt[node]++
}

// unnoteNodeLocked drops one note naming node. The caller holds so.mu.
func (so *Social) unnoteNodeLocked(node string) {
	if so.remoteAt[node]--; so.remoteAt[node] <= 0 {
		delete(so.remoteAt, node)
		delete(so.nodeMissed, node)
		delete(so.nodeStart, node)
	}
}

// forgetRemoteLocked drops the notes of a profile that went away. The
// caller holds so.mu.
func (so *Social) forgetRemoteLocked(p *profile) {
	for _, n := range p.remote {
		so.unnoteNodeLocked(n.node)
	}
	p.remote = nil
}

// NodesLive is told the nodes of the cluster that are live now, this one
// included, with when each started, every heartbeat (a poll that could
// not be made is not reported). A node the notes name that was missing
// from nodeGoneAfter polls in a row is gone: its users that local users
// were told are online are pushed to them as offline; so are those noted
// before a node's start, told by an earlier process under its id. It
// returns how many such pushes it made. Safe from any goroutine.
func (so *Social) NodesLive(live map[string]time.Time) int {
	so.mu.Lock()
	defer so.mu.Unlock()
	var cut map[string]int64 // node → notes before this (Unix ns) are stale
	stale := func(node string, before int64) {
		if cut == nil {
			cut = make(map[string]int64)
		}
		cut[node] = before
	}
	for node := range so.remoteAt {
		if started, ok := live[node]; ok {
			delete(so.nodeMissed, node)
			if started.IsZero() {
				continue
			}
			if was, seen := so.nodeStart[node]; !seen || was != started.UnixNano() {
				if so.nodeStart == nil {
					so.nodeStart = make(map[string]int64)
				}
				so.nodeStart[node] = started.UnixNano()
				stale(node, started.UnixNano())
			}
			continue
		}
		if so.nodeMissed == nil {
			so.nodeMissed = make(map[string]int)
		}
		if so.nodeMissed[node]++; so.nodeMissed[node] >= nodeGoneAfter {
			stale(node, math.MaxInt64)
		}
	}
	if cut == nil {
		return 0
	}
	pushed := 0
	for _, p := range so.users {
		for x, n := range p.remote {
			if before, ok := cut[n.node]; !ok || n.at >= before {
				continue
			}
			delete(p.remote, x)
			so.unnoteNodeLocked(n.node)
			if !has(p.friends, x) || so.users[x] != nil {
				continue // no longer a friend, or here now: told as such
			}
			if conns := memberConns(p); len(conns) > 0 && so.host.Send(presenceMessage(so.offlineLocked(x)), conns) {
				so.stats.PresenceEvents.Add(uint64(len(conns)))
				pushed++
			}
		}
	}
	return pushed
}

// Online returns the users connected to this node. Safe from any
// goroutine.
func (so *Social) Online() []string {
	so.mu.Lock()
	defer so.mu.Unlock()
	users := make([]string, 0, len(so.users))
	for uid := range so.users {
		users = append(users, uid)
	}
	return users
}

// PresenceNow returns uid's presence now as its friends on other nodes
// are told it (the Message of a presence op), or nil when uid is not
// connected here. The cluster casts it to friends whose cast of an
// earlier presence could not be sent, asked at the time of the cast, so
// that it never overtakes a later change. nil, not offline: a user that
// left this node may have moved to another one, or still be connected on
// one (Config.SharedUsers), where its friends are told it is online, and
// an offline from here would undo that. Safe from any goroutine.
func (so *Social) PresenceNow(uid string) []byte {
	so.mu.Lock()
	defer so.mu.Unlock()
	if p := so.users[uid]; p != nil {
		return encodeMessage(presenceMessage(so.presenceLocked(uid, p)))
	}
	return nil
}

// RemoteAnnouncement returns the ops that tell uid's friends on other
// nodes its presence now, as at each change (none when uid is not
// connected here: its going offline was cast then). The cluster asks it
// when it casts uid's presence after this node registered again (the
// other nodes may have taken it for gone and told their users its users
// are offline), at the time of the cast, so that no change cast since is
// overtaken by an older presence. Safe from any goroutine.
func (so *Social) RemoteAnnouncement(uid string) []*RemoteOp {
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[uid]
	if p == nil {
		return nil
	}
	return so.remoteAnnouncementsLocked(nil, uid, so.presenceLocked(uid, p), p.friends)
}
