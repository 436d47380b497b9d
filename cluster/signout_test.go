package cluster

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/server/hub"
)

// TestSignOutIsNoKickToAnOlderNode: a node of a version from before
// sign-outs (a rolling deploy) takes every "revoke" message as a kick or
// a ban: it would close all the user's sessions there with KICKED, the
// new token's included, and store a kick. A sign-out goes under a kind
// of its own, which such a node drops, while a node of this version
// records it.
func TestSignOutIsNoKickToAnOlderNode(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	old := make(chan revocation, 8)
	zed := make(chan struct{}, 1)
	// The older node: its one handler of revocations.
	newTestBus(t, srv, "old", map[string]func(*Envelope){kindRevoke: func(e *Envelope) {
		var v revocation
		if err := json.Unmarshal(e.Body, &v); err == nil && v.UserID != "zed" {
			old <- v
		} else if len(zed) == 0 {
			zed <- struct{}{}
		}
	}})
	newer := NewRevocations(nil, newTestBus(t, srv, "b", nil), nil)
	a := NewRevocations(nil, newTestBus(t, srv, "a", nil), nil)
	now := time.Now()
	kick := func(user string) {
		a.Revoke(hub.Revocation{UserID: user, IssuedBefore: now, Until: now.Add(time.Hour)})
	}
	// Kicks until both nodes hear them: their subscriptions are in place.
	for heard := false; !heard; {
		kick("zed")
		select {
		case <-zed:
			heard = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, ok := newer.Check("zed", now.Truncate(time.Second), time.Now()); !ok; _, ok = newer.Check("zed", now.Truncate(time.Second), time.Now()) {
		kick("zed")
		time.Sleep(100 * time.Millisecond)
	}
	a.Revoke(hub.Revocation{UserID: "ann", SignOut: true, IssuedBefore: now, Until: now.Add(time.Hour)})
	kick("bob") // published after the sign-out: the older node hears it next
	if v := waitRecv(t, old, "the kick on the older node"); v.UserID != "bob" {
		t.Fatalf("an older node's revoke handler got the sign-out (%+v): it takes it for a kick", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, ok := newer.Check("ann", now.Truncate(time.Second), time.Now()); ok && r.SignOut {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a node of this version did not record the sign-out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
