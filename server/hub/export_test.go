package hub

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// RoomsOf is roomsOf, for the hub_test package.
func (h *Hub) RoomsOf(userID string) int { return h.roomsOf(userID) }

// TrackedUsers is trackedUsers, for the hub_test package.
func (h *Hub) TrackedUsers() int { return h.trackedUsers() }

// HoldLapsed records n held seats of userID in rooms that do not exist,
// whose window passed expiredFor ago and that nothing will ever drop: a
// seat held just as its room let it go.
func (h *Hub) HoldLapsed(userID string, n int, expiredFor time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range n {
		id := fmt.Sprint("gone-", i)
		h.held[userID] = append(h.held[userID], heldSeat{roomID: id, game: "tally", seat: 1, expires: h.cfg.Now().Add(-expiredFor)})
		h.refRoomLocked(userID, id)
	}
}

// RevokedUsers counts the users the hub's revocations hold entries for,
// lapsed ones included (the default MemoryRevocations).
func (h *Hub) RevokedUsers() int {
	m := h.revoked.(*MemoryRevocations)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users)
}

// RoomChats counts the rooms whose chat the hub's social state holds.
func (h *Hub) RoomChats() int { return h.social.RoomChats() }

// QuickMatchTries is quickMatchTries, for the hub_test package.
const QuickMatchTries = quickMatchTries

// PassRoomWatches makes one pass of the room list watches now. The caller
// makes sure no timed pass runs meanwhile (a RoomWatchInterval longer than
// the test).
func (h *Hub) PassRoomWatches() { h.watches.pass() }

// RetryQuickMatchesOnceClosed makes each quick-match retry (after a
// refusal at the tick) wait until its connection has closed before it
// runs; the channel gets a value as each retry ends. Call it before Start.
func (h *Hub) RetryQuickMatchesOnceClosed() <-chan struct{} {
	done := make(chan struct{}, 8)
	h.retryMatch = func(s *Session, retry func()) {
		for !s.closed.Load() {
			time.Sleep(time.Millisecond)
		}
		retry()
		done <- struct{}{}
	}
	return done
}

// Congested reports whether a session of userID has a congested
// connection (Session.Congested), as a room sees it at its tick.
func (h *Hub) Congested(userID string) bool {
	for _, s := range h.reg.Sessions(userID) {
		if s.Congested() {
			return true
		}
	}
	return false
}

// HoldJoinAnswer makes the first join of userID the game seats wait on
// its room's tick worker between its seat and its Joined: held gets a
// value then, and the join goes on once resume is called, or once the
// test ends (t.Context), before any of its cleanups runs: one that shuts
// the hub down waits for the tick workers, and the held one stalled it.
// Call it before Start.
func (h *Hub) HoldJoinAnswer(t testing.TB, userID string) (held <-chan struct{}, resume func()) {
	reached, gate := make(chan struct{}, 1), make(chan struct{})
	resume = sync.OnceFunc(func() { close(gate) })
	ended := t.Context().Done()
	var once sync.Once
	h.entering = func(s *Session) {
		if s.UserID() != userID {
			return
		}
		once.Do(func() {
			reached <- struct{}{}
			select {
			case <-gate:
			case <-ended:
			}
		})
	}
	return reached, resume
}
