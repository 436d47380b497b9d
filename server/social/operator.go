package social

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// PlayerInfo describes an online user for the operator.
type PlayerInfo struct {
	// UserID is the user's id.
	UserID string `json:"user_id"`
	// Name is the user's display name.
	Name string `json:"name"`
	// Connections lists the user's connections.
	Connections []ConnInfo `json:"connections"`
	// Rooms lists the rooms the user is in, oldest first.
	Rooms []string `json:"rooms"`
	// Since is when the user's current status began.
	Since time.Time `json:"since"`
	// Friends and Blocked are the sizes of the user's lists.
	Friends int `json:"friends"`
	// Blocked is the size of the user's block list.
	Blocked int `json:"blocked"`
}

// ConnInfo is one connection of a user.
type ConnInfo struct {
	// ID is the connection id, as Welcome.connection_id tells the client.
	ID string `json:"id"`
	// Remote is the client's IP address (server.Conn.ClientIP: the one a
	// trusted proxy names, else the TCP peer).
	Remote string `json:"remote"`
	// Congested reports that the connection's outbound bytes are over the
	// transport's high-water mark.
	Congested bool `json:"congested"`
	// Dropped counts state frames skipped for congestion.
	Dropped uint64 `json:"dropped"`
}

// Players returns every online user, sorted by id. Safe from any
// goroutine.
func (so *Social) Players() []PlayerInfo {
	so.mu.Lock()
	out := make([]PlayerInfo, 0, len(so.users))
	for uid, p := range so.users {
		out = append(out, p.info(uid))
	}
	so.mu.Unlock()
	slices.SortFunc(out, func(a, b PlayerInfo) int { return cmp.Compare(a.UserID, b.UserID) })
	return out
}

// PlayerPage returns a page of the online users that match keeps (every
// one when match is nil), sorted by id: at most limit of them from the
// offset-th, and how many matched. Under Social.mu, the lock every
// friend, presence and chat operation takes, it only copies each user's
// id and name, then builds the page's records: Players built every
// user's record there, some milliseconds at 10,000 users online
// (BENCHMARKS.md), for each refresh of the admin's lists. match runs
// outside the lock. A user who went offline in between is left out of
// the page. Safe from any goroutine.
func (so *Social) PlayerPage(match func(userID, name string) bool, offset, limit int) ([]PlayerInfo, int) {
	so.mu.Lock()
	all := so.onlineLocked()
	so.mu.Unlock()
	matched := all
	if match != nil {
		matched = all[:0]
		for _, u := range all {
			if match(u.id, u.name) {
				matched = append(matched, u)
			}
		}
	}
	slices.SortFunc(matched, func(a, b online) int { return cmp.Compare(a.id, b.id) })
	lo := min(max(offset, 0), len(matched))
	hi := lo + min(max(limit, 0), len(matched)-lo)
	so.mu.Lock()
	out := so.pageLocked(matched[lo:hi])
	so.mu.Unlock()
	return out, len(matched)
}

// online is an online user as PlayerPage matches it.
type online struct{ id, name string }

// onlineLocked copies every online user's id and name. The caller holds
// Social.mu.
func (so *Social) onlineLocked() []online {
	out := make([]online, 0, len(so.users))
	for uid, p := range so.users {
		out = append(out, online{id: uid, name: p.name})
	}
	return out
}

// pageLocked builds the records of users still online. The caller holds
// Social.mu.
func (so *Social) pageLocked(users []online) []PlayerInfo {
	out := make([]PlayerInfo, 0, len(users))
	for _, u := range users {
		if p := so.users[u.id]; p != nil {
			out = append(out, p.info(u.id))
		}
	}
	return out
}

// Player returns one online user; false when the user is offline. Safe
// from any goroutine.
func (so *Social) Player(userID string) (PlayerInfo, bool) {
	so.mu.Lock()
	defer so.mu.Unlock()
	p := so.users[userID]
	if p == nil {
		return PlayerInfo{}, false
	}
	return p.info(userID), true
}

// info describes the profile of uid. The caller holds Social.mu.
func (p *profile) info(uid string) PlayerInfo {
	pi := PlayerInfo{UserID: uid, Name: p.name, Since: time.Unix(0, p.since), Friends: len(p.friends), Blocked: len(p.blocks), Rooms: []string{}}
	for _, r := range p.rooms {
		pi.Rooms = append(pi.Rooms, r.ID)
	}
	for _, m := range p.members {
		c := m.conn
		ci := ConnInfo{ID: strconv.FormatUint(c.ID(), 10), Congested: c.Congested(), Dropped: c.Dropped()}
		if ip := c.ClientIP(); ip.IsValid() {
			ci.Remote = ip.String()
		}
		pi.Connections = append(pi.Connections, ci)
	}
	return pi
}

// RoomMembers returns the user ids of a room's connected members (players
// and spectators), sorted. Safe from any goroutine.
func (so *Social) RoomMembers(roomID string) []string {
	so.mu.Lock()
	var out []string
	if c := so.rooms[roomID]; c != nil {
		c.mu.Lock()
		for _, m := range c.members {
			out = append(out, m.user)
		}
		c.mu.Unlock()
	}
	so.mu.Unlock()
	slices.Sort(out)
	return slices.Compact(out)
}
