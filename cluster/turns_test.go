package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
)

// TestTakingATurnEndsOnlyTheUsersOwnLastTurn: a user holds one pool turn,
// taking another ends the one it took last, but only while that is still
// its own: taking the same pool again after its turn ended keeps the turn
// just taken, and a turn another user took since on the pool of its last
// is left alone. Either way other users of that pool wait their turn.
func TestTakingATurnEndsOnlyTheUsersOwnLastTurn(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startDirNode(t, rs, "a")
	ctx := context.Background()
	// run plays steps on pools of its own; a turn lasts PoolTurnTTL, so
	// a run the box slowed to half of that is run again rather than read.
	run := func(what string, steps func(pool func(string) string) error) {
		t.Helper()
		for i := 0; ; i++ {
			start := time.Now()
			err := steps(func(p string) string { return fmt.Sprint(what, i, p) })
			if err == nil {
				return
			}
			if time.Since(start) < PoolTurnTTL/2 || i == 4 {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}
	take := func(pool, user string, want bool) error {
		got, err := a.dir.TakeTurn(ctx, pool, user)
		if err != nil || got != want {
			return fmt.Errorf("%s takes the turn: %v %v, want %v", user, got, err, want)
		}
		return nil
	}
	run("amy makes a room in p, ends her turn, then makes another there", func(pool func(string) string) error {
		p := pool("p")
		if err := take(p, "amy", true); err != nil {
			return err
		}
		a.dir.EndTurn(ctx, p, "amy")
		if err := take(p, "amy", true); err != nil {
			return err
		}
		return take(p, "bob", false)
	})
	run("amy's turn on q ends, bob takes q's, then amy takes r's", func(pool func(string) string) error {
		q, r := pool("q"), pool("r")
		if err := take(q, "amy", true); err != nil {
			return err
		}
		a.dir.EndTurn(ctx, q, "amy")
		if err := take(q, "bob", true); err != nil {
			return err
		}
		if err := take(r, "amy", true); err != nil {
			return err
		}
		return take(q, "cat", false)
	})
}
