package tickroom_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/server/account"
)

// twoNodesWithAnAccount starts two nodes of a cluster on one Redis and
// one database, and claims the account "Owner" (password "correct
// horse") through the first; it returns the nodes' APIs, the owner's
// device secret and the Redis.
func twoNodesWithAnAccount(t *testing.T) (a, b api, device string, rdb *redistest.Server) {
	t.Helper()
	rdb = redistest.Start(t)
	pg := pgtest.Start(t)
	opts := tickroom.Options{
		Games: []game.Definition{raceDefinition()}, Redis: rdb.URL(), DatabaseURL: pg.NewDatabase(t),
		TokenKey: []byte(strings.Repeat("k", 32)), GuestLoginRate: math.Inf(1),
	}
	srvA, _, _ := start(t, opts)
	srvB, _, _ := start(t, opts)
	a, b = api{t: t, base: "http://" + srvA.HTTPAddr().String()}, api{t: t, base: "http://" + srvB.HTTPAddr().String()}
	_, guest := a.post("/v1/login", "", map[string]string{"name": "owner"})
	st, m := a.post("/v1/account/claim", str(guest, "token"), map[string]string{"name": "Owner", "password": "correct horse", "device_secret": str(guest, "device_secret")})
	if st != 200 {
		t.Fatalf("claim: %d %v", st, m)
	}
	return a, b, str(m, "device_secret"), rdb
}

// guessAccountUntilRefused sends wrong passwords of Owner through nodes
// in turn until one answers 429, and returns how many were answered 401
// before and the node that refused; it fails t when none refuses in 100.
func guessAccountUntilRefused(t *testing.T, nodes ...api) (int, int) {
	t.Helper()
	wrong := 0
	for i := range 100 {
		n := i % len(nodes)
		st, m := nodes[n].post("/v1/login", "", map[string]string{"name": "Owner", "password": "a wrong guess"})
		switch {
		case st == 401:
			wrong++
		case st == 429 && strings.Contains(str(m, "error"), "too many wrong passwords for this account"):
			return wrong, n
		default:
			t.Fatalf("wrong password %d: %d %v, want 401 or 429", i+1, st, m)
		}
	}
	t.Fatal("100 wrong passwords answered 401, none refused")
	return 0, 0
}

// TestAccountPasswordGuessesAreBoundedAcrossNodes: each node kept an
// account's wrong passwords in its own memory, so a guesser alternating
// two nodes had the account's burst (10) on each, 20 checked guesses in
// all, before 429. They are now counted in Redis by every node: past 10
// through either node, a password login of the account from the
// guesser's address is refused on both, and the owner's device secret
// still logs in.
func TestAccountPasswordGuessesAreBoundedAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b, device, _ := twoNodesWithAnAccount(t)
	start := time.Now()
	wrong, refused := guessAccountUntilRefused(t, a, b)
	if bound := account.DefaultWrongPasswordBurst + int(time.Since(start)/time.Minute); wrong > bound {
		t.Fatalf("%d wrong passwords answered 401 through two nodes before 429, want at most %d", wrong, bound)
	}
	other := []api{a, b}[1-refused]
	if st, m := other.post("/v1/login", "", map[string]string{"name": "Owner", "password": "correct horse"}); st != 429 {
		t.Fatalf("the right password from the guesser's address through the other node: %d %v, want 429", st, m)
	}
	if st, m := other.post("/v1/login", "", map[string]string{"device_secret": device}); st != 200 || str(m, "name") != "Owner" {
		t.Fatalf("the owner's device secret: %d %v, want 200", st, m)
	}
}

// TestAccountPasswordGuessesAreBoundedWithoutRedis: while Redis is out of
// reach each node counts an account's wrong passwords in its own memory:
// a guesser is answered, not stalled, each node checks the account's
// burst of its wrong passwords, and refuses it with 429 past it.
func TestAccountPasswordGuessesAreBoundedWithoutRedis(t *testing.T) {
	t.Parallel()
	a, b, _, rdb := twoNodesWithAnAccount(t)
	rdb.Stop(t)
	for _, n := range []api{a, b} {
		start := time.Now()
		wrong, _ := guessAccountUntilRefused(t, n)
		if wrong > account.DefaultWrongPasswordBurst+int(time.Since(start)/time.Minute) {
			t.Fatalf("%d wrong passwords answered 401 through %s without Redis before 429, want at most %d", wrong, n.base, account.DefaultWrongPasswordBurst)
		}
		if wrong < account.DefaultWrongPasswordBurst {
			t.Fatalf("%d wrong passwords answered 401 through %s without Redis before 429, want the account's burst, %d", wrong, n.base, account.DefaultWrongPasswordBurst)
		}
	}
}
