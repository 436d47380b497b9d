package cluster

import (
	"context"
)

// After a node registers again, the other nodes may have taken it for
// gone and told their users its users are offline: AnnounceRemote tells
// them again. A node of 10,000 users with 500 remote friends each has
// 5,000,000 casts to make, about two minutes' work; run within the hook's
// deadline (4 × the Redis timeout), a node of 1,000,000 (user, friend)
// pairs or more never finished them, stayed not ready, and cast the first
// of them again at every heartbeat. They are queued with the other
// presence casts (presence.go), and the hook returns at once.

// AnnounceRemote has the bound social layer tell its users' friends on
// other nodes their presence, for a hook run when this node registers
// again. It returns at once: each user online is queued with the presence
// casts (one entry a user, so that a user whose presence was already
// waiting, or is still waiting from the hook's last run, costs nothing
// more), and its presence is asked when its turn comes
// (social.Social.RemoteAnnouncement), so that it never overtakes a later
// change.
func (s *Social) AnnounceRemote(context.Context) error {
	if so := s.so.Load(); so != nil {
		s.pushes.announce(so.Online())
	}
	return nil
}
