package cluster

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/internal/redistest"
)

// listeners holds each test node's stand-in WebSocket listener by node:
// tests that run in parallel start nodes of the same ids.
var listeners sync.Map // *Node -> net.Listener

// startNodeUnregistered starts a node on rs with a fast heartbeat,
// without waiting for its registration.
func startNodeUnregistered(t testing.TB, rs *redistest.Server, id string) *Node {
	t.Helper()
	return startNodeOn(t, rs, id, nil)
}

// startNodeClock is startNode with the node's clock (nil: time.Now).
func startNodeClock(t testing.TB, rs *redistest.Server, id string, clock func() time.Time) *Node {
	t.Helper()
	n := startNodeOn(t, rs, id, clock)
	waitRegistered(t, n)
	return n
}

func startNodeOn(t testing.TB, rs *redistest.Server, id string, clock func() time.Time) *Node {
	t.Helper()
	return startNodeAt(t, rs.URL(), id, clock)
}

// startNodeAt is startNodeOn with the Redis at url.
func startNodeAt(t testing.TB, url, id string, clock func() time.Time) *Node {
	t.Helper()
	rdb, err := Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	// A listener stands for the node's WebSocket port: the directory
	// checks a node takes connections before sending clients there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	n, err := New(Config{Client: rdb, ID: id, WebSocketURL: "ws://" + ln.Addr().String() + "/v1/ws", HTTPURL: "http://127.0.0.1:2",
		Heartbeat: 200 * time.Millisecond, TTL: time.Second, Load: func() Load { return Load{Conns: 3, Rooms: 1} }})
	if err != nil {
		t.Fatal(err)
	}
	listeners.Store(n, ln)
	t.Cleanup(func() { listeners.Delete(n) })
	if clock != nil {
		n.clock = clock
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	return n
}

// startNode starts a registered node on rs with a fast heartbeat.
func startNode(t testing.TB, rs *redistest.Server, id string) *Node {
	t.Helper()
	n := startNodeUnregistered(t, rs, id)
	waitRegistered(t, n)
	return n
}

// waitRegistered waits for n's first registration.
func waitRegistered(t testing.TB, n *Node) {
	t.Helper()
	id := n.ID()
	// Start registers on the heartbeat's goroutine: a test that matches or
	// places right away, on a loaded machine, would find no node yet. (A
	// node started again under the id of one whose registration lives on
	// waits for it to lapse.)
	for deadline := time.Now().Add(5 * time.Second); n.Registrations() == 0 && n.lastOK.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node %s not registered within 5 s", id)
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// registrationExpires fails t unless node n's registration, read from
// Redis, expires within ttl by Redis's clock: its hash's PTTL and its
// expiry in the node index. A registration already gone passes.
func registrationExpires(t *testing.T, rs *redistest.Server, n *Node, ttl time.Duration) {
	t.Helper()
	rdb := rs.Client(t)
	ctx := context.Background()
	k, id := n.keys, n.ID()
	pttl, err := rdb.PTTL(ctx, k.Node(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	// -2 (as a Duration): the hash is gone; -1: it has no TTL.
	if pttl == -1 || pttl > ttl {
		t.Fatalf("node %s's registration has a TTL of %v, want %v at most", id, pttl, ttl)
	}
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	score, err := rdb.ZScore(ctx, k.Nodes(), id).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if left := time.UnixMilli(int64(score)).Sub(now); err == nil && left > ttl {
		t.Fatalf("node %s's entry in the node index expires in %v, want %v at most", id, left, ttl)
	}
}

func ids(t *testing.T, n *Node) []string {
	t.Helper()
	nodes, err := n.Nodes(context.Background())
	if err != nil {
		return nil
	}
	var out []string
	for _, x := range nodes {
		out = append(out, x.ID)
	}
	return out
}

func TestNodesSeeEachOtherAndExpire(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a, b := startNode(t, rs, "a"), startNode(t, rs, "b")
	waitFor(t, 5*time.Second, "both nodes registered", func() bool { return len(ids(t, a)) == 2 })
	nodes, _ := b.Nodes(context.Background())
	if nodes[0].ID != "a" || nodes[0].WebSocketURL != a.WebSocketURL() || nodes[0].HTTPURL != "http://127.0.0.1:2" || nodes[0].Conns != 3 || nodes[0].Rooms != 1 || nodes[0].Draining {
		t.Fatalf("node a as b sees it: %+v", nodes[0])
	}
	b.SetDraining(true)
	waitFor(t, 5*time.Second, "b draining in the registry", func() bool {
		nodes, _ := a.Nodes(context.Background())
		return len(nodes) == 2 && nodes[1].Draining
	})

	// A node that stops heartbeating (a crash: no deregistration) is gone
	// within its TTL: what it last wrote expires within the TTL by
	// Redis's own clock, and then it leaves the list (the 30 s of the
	// wait only catch a registration that never expires).
	b.mu.Lock()
	close(b.stop)
	b.running = false
	b.mu.Unlock()
	<-b.done
	// Timed from b's last good heartbeat, not from the stop: a heartbeat
	// starved of the CPU before the stop leaves less of the TTL after it.
	lastBeat := time.Unix(0, b.lastOK.Load())
	registrationExpires(t, rs, b, time.Second)
	waitFor(t, 30*time.Second, "b expired", func() bool { l := ids(t, a); return len(l) == 1 && l[0] == "a" })
	if lived := time.Since(lastBeat); lived < 500*time.Millisecond {
		t.Fatalf("b left %v after its last heartbeat, before its TTL (1 s): was it deregistered?", lived)
	}

	// A clean Close removes the registration at once.
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := startNode(t, rs, "c")
	waitFor(t, 5*time.Second, "only c", func() bool { l := ids(t, c); return len(l) == 1 && l[0] == "c" })
}

// TestNodeRegistersAgainAfterRedisRestart: while Redis is down the node
// is not ready and Nodes fails with ErrUnavailable; when Redis comes back
// empty the node registers again and runs its hooks, with no call from
// outside.
func TestNodeRegistersAgainAfterRedisRestart(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	n := startNode(t, rs, "a")
	var hooks atomic.Int32
	n.OnRegister(func(context.Context) error { hooks.Add(1); return nil })
	n.Refresh()
	waitFor(t, 5*time.Second, "registered and hook run", func() bool { return n.Ready() == nil && hooks.Load() >= 1 })
	first := hooks.Load()

	rs.Stop(t)
	waitFor(t, 5*time.Second, "not ready without Redis", func() bool { return errors.Is(n.Ready(), ErrUnavailable) })
	// A stopped Redis refuses the connection: Nodes fails at once, and
	// within its call's deadline (a second) whatever it meets. The 30 s
	// only catch a Nodes that waits for Redis to come back.
	failed := make(chan error, 1)
	go func() {
		_, err := n.Nodes(context.Background())
		failed <- err
	}()
	select {
	case err := <-failed:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Nodes without Redis: %v, want ErrUnavailable", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Nodes without Redis still waiting after 30 s: it waits for Redis")
	}

	rs.Restart(t)
	waitFor(t, 10*time.Second, "registered again", func() bool { return n.Ready() == nil && len(ids(t, n)) == 1 })
	waitFor(t, 5*time.Second, "hooks ran again", func() bool { return hooks.Load() > first })
	if n.Registrations() < 2 {
		t.Fatalf("registrations %d, want 2", n.Registrations())
	}
}

func TestConfigRefused(t *testing.T) {
	t.Parallel()
	rdb, _ := Dial("redis://127.0.0.1:1/0")
	defer rdb.Close()
	for name, cfg := range map[string]Config{
		"no client": {WebSocketURL: "ws://x/v1/ws"},
		"bad id":    {Client: rdb, WebSocketURL: "ws://x", ID: "a b"},
		"ttl > max": {Client: rdb, WebSocketURL: "ws://x", TTL: 30 * time.Second},
		"ttl short": {Client: rdb, WebSocketURL: "ws://x", Heartbeat: 4 * time.Second, TTL: 5 * time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	if _, err := Dial("redis://u:hunter2@[::1"); err == nil || !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad URL: %v", err)
	}
}

// TestSlowHooksKeepTheRegistration: republishing a node's rooms may take
// longer than its registration's TTL on a loaded node; the heartbeat goes
// on meanwhile, so the other nodes never see it expire (and sweep its
// rooms as a dead node's), and the node is ready once the hooks are done.
func TestSlowHooksKeepTheRegistration(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startNode(t, rs, "a")
	rdb, err := Dial(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	// A TTL of ten heartbeats: only the hook, not a slow machine, makes
	// the registration lapse.
	b, err := New(Config{Client: rdb, ID: "b", WebSocketURL: "ws://127.0.0.1:1/v1/ws", Heartbeat: 200 * time.Millisecond, TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var hookDone atomic.Bool
	b.OnRegister(func(ctx context.Context) error {
		if !hookDone.Load() {
			time.Sleep(5 * time.Second) // two and a half TTLs
			hookDone.Store(true)
		}
		return nil
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	waitFor(t, 5*time.Second, "b registered", func() bool { return len(ids(t, a)) == 2 })
	for !hookDone.Load() {
		if l := ids(t, a); len(l) != 2 {
			t.Fatalf("nodes while b's hook runs: %v, want a and b", l)
		}
		// The hook marks itself done before it returns, and b is ready
		// only after it returned: ready and not done is the failure.
		if b.Ready() == nil && !hookDone.Load() {
			t.Fatal("b ready before its hooks ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "b ready after its hooks", func() bool { return b.Ready() == nil })
	if n := b.Registrations(); n != 1 {
		t.Fatalf("b registered %d times, want once", n)
	}
}

// TestNotReadySaysWhyAlone: a heartbeat that failed for want of Redis
// made /readyz and the log say, under the reason, "unexpected heartbeat
// answer", as if Redis had answered something strange; that line is for
// an answer of the wrong shape only.
func TestNotReadySaysWhyAlone(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	n := startNode(t, rs, "a")
	n.Refresh()
	waitFor(t, 5*time.Second, "registered", func() bool { return n.Ready() == nil })
	rs.Stop(t)
	waitFor(t, 5*time.Second, "not ready without Redis", func() bool { return errors.Is(n.Ready(), ErrUnavailable) })
	if msg := n.Ready().Error(); strings.Contains(msg, "unexpected") || strings.Contains(msg, "\n") {
		t.Fatalf("not ready: %q, want the reason alone", msg)
	}
}

// TestProcessUnderAnOlderNodesIDLeavesItsRegistration: a process that
// stayed out because a node of an older version, whose registration
// carries no "inst", runs under its id leaves that node registered when
// it shuts down: the other nodes go on sending that node's players there.
func TestProcessUnderAnOlderNodesIDLeavesItsRegistration(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startNode(t, rs, "a")
	rdb := rs.Client(t)
	ctx := context.Background()
	// An older node b: a registration without "inst", live for a while.
	old := a.Keys().Node("b")
	if err := rdb.HSet(ctx, old, "id", "b", "ws", "ws://127.0.0.1:1/v1/ws", "started", time.Now().UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.PExpire(ctx, old, time.Minute)
	rdb.ZAdd(ctx, a.Keys().Nodes(), redis.Z{Score: float64(time.Now().Add(time.Minute).UnixMilli()), Member: "b"})

	twin := startNodeUnregistered(t, rs, "b")
	waitFor(t, 5*time.Second, "the process under the older b's id kept out", func() bool {
		err := twin.Ready()
		return err != nil && strings.Contains(err.Error(), "in use")
	})
	if err := twin.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, a); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("nodes once a process that stayed out under the older b's id shut down: %v, want [a b]", got)
	}
}
