package tickroom_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/server/auth"
)

// twoNodesWithLoginLimits starts two nodes of a cluster on one Redis and
// one database, at the default guest login limits; it returns the
// nodes' APIs and the Redis.
func twoNodesWithLoginLimits(t *testing.T) (a, b api, rdb *redistest.Server) {
	t.Helper()
	rdb = redistest.Start(t)
	pg := pgtest.Start(t)
	opts := tickroom.Options{
		Games: []game.Definition{raceDefinition()}, Redis: rdb.URL(), DatabaseURL: pg.NewDatabase(t),
		TokenKey: []byte(strings.Repeat("k", 32)),
	}
	srvA, _, _ := start(t, opts)
	srvB, _, _ := start(t, opts)
	return api{t: t, base: "http://" + srvA.HTTPAddr().String()}, api{t: t, base: "http://" + srvB.HTTPAddr().String()}, rdb
}

// loginUntilRefused makes guest logins through nodes in turn until one
// answers 429, and fails t when more were let through than the default
// bound (10, and one more every 5 s the logins took) allows, fewer than
// its burst (10), or none is refused in 100.
func loginUntilRefused(t *testing.T, nodes ...api) {
	t.Helper()
	start, ok := time.Now(), 0
	for i := range 100 {
		st, m := nodes[i%len(nodes)].post("/v1/login", "", map[string]string{"name": "guest"})
		switch {
		case st == 200:
			ok++
			continue
		case st != 429 || !strings.Contains(str(m, "error"), "too many logins from this address"):
			t.Fatalf("login %d: %d %v, want 200 or 429", i+1, st, m)
		}
		if bound := auth.DefaultGuestLoginBurst + int(time.Since(start)/(5*time.Second)); ok > bound {
			t.Fatalf("%d guest logins through %d nodes let through before 429, want at most %d", ok, len(nodes), bound)
		}
		if ok < auth.DefaultGuestLoginBurst {
			t.Fatalf("%d guest logins through %d nodes let through before 429 (%v), want the burst, %d", ok, len(nodes), m, auth.DefaultGuestLoginBurst)
		}
		return
	}
	t.Fatal("100 guest logins let through, none refused")
}

// TestGuestLoginsAreBoundedAcrossNodes: each node counted an address's
// guest logins in its own memory, so an address whose logins alternated
// two nodes had the burst (10) on each, 20 in all, before 429. They are
// now counted in Redis by every node.
func TestGuestLoginsAreBoundedAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b, _ := twoNodesWithLoginLimits(t)
	loginUntilRefused(t, a, b)
}

// TestGuestLoginsAreBoundedWithoutRedis: while Redis is out of reach each
// node counts an address's guest logins in its own memory: logins are
// answered, each node lets the address through its burst, and refuses it
// with 429 past it.
func TestGuestLoginsAreBoundedWithoutRedis(t *testing.T) {
	t.Parallel()
	a, b, rdb := twoNodesWithLoginLimits(t)
	rdb.Stop(t)
	loginUntilRefused(t, a)
	loginUntilRefused(t, b)
}
