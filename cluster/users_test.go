package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickroom/tickroom/internal/redistest"
)

func isUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

func newTestUsers(t *testing.T, srv *redistest.Server, node string, cfg UsersConfig) *Users {
	t.Helper()
	cfg.Client, cfg.Node = srv.Client(t), node
	u, err := NewUsers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func TestUsersExclusiveClaimReplacesEverywhere(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newTestUsers(t, srv, "a", UsersConfig{})
	b := newTestUsers(t, srv, "b", UsersConfig{})
	if res, err := a.Claim(ctx, "u1", 7, time.Now(), true); err != nil || len(res.Replaced) != 0 || res.Superseded {
		t.Fatalf("first claim: %+v %v", res, err)
	}
	res, err := b.Claim(ctx, "u1", 9, time.Now(), true)
	if err != nil || !slices.Equal(res.Replaced, []UserSession{{Node: "a", Conn: 7}}) || res.Superseded {
		t.Fatalf("second claim: %+v, %v", res, err)
	}
	loc, err := a.Locate(ctx, "u1", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(loc["u1"], []UserSession{{Node: "b", Conn: 9}}) || len(loc) != 1 {
		t.Fatalf("located %v", loc)
	}
	// A non-exclusive claim keeps the other connection.
	if res, _ := a.Claim(ctx, "u1", 8, time.Now(), false); len(res.Replaced) != 0 || res.Superseded {
		t.Fatalf("shared claim: %+v", res)
	}
	loc, _ = a.Locate(ctx, "u1")
	if len(loc["u1"]) != 2 {
		t.Fatalf("two connections, located %v", loc)
	}
	if err := b.Release(ctx, "u1", 9); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx, "u1", 8); err != nil {
		t.Fatal(err)
	}
	if loc, _ = a.Locate(ctx, "u1"); len(loc) != 0 {
		t.Fatalf("after release, located %v", loc)
	}
}

func TestUsersRecordsExpireWithoutRefresh(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	// The node that "crashes" never starts its refresh.
	dead, err := NewUsers(UsersConfig{Client: srv.Client(t), Node: "dead", TTL: 300 * time.Millisecond, Refresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	alive := newTestUsers(t, srv, "alive", UsersConfig{TTL: 300 * time.Millisecond, Refresh: 100 * time.Millisecond})
	if _, err := dead.Claim(ctx, "u1", 1, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := alive.Claim(ctx, "u2", 1, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	loc, err := alive.Locate(ctx, "u1", "u2")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := loc["u1"]; ok {
		t.Fatalf("unrefreshed user still located: %v", loc)
	}
	if len(loc["u2"]) != 1 {
		t.Fatalf("refreshed user lost: %v", loc)
	}
}

func TestUsersNodeLivenessAndRepublish(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := srv.Client(t)
	keys := Keys{Prefix: DefaultPrefix}
	register := func(node string, ttl time.Duration) {
		t.Helper()
		now, err := rdb.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.ZAdd(ctx, keys.Nodes(), redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: node}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	a := newTestUsers(t, srv, "a", UsersConfig{NodeLiveness: true})
	register("a", time.Minute)
	register("b", time.Minute)
	b := newTestUsers(t, srv, "b", UsersConfig{NodeLiveness: true})
	if _, err := a.Claim(ctx, "ua", 1, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Claim(ctx, "ub", 1, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if loc, _ := a.Locate(ctx, "ua", "ub"); len(loc) != 2 {
		t.Fatalf("both live: %v", loc)
	}
	// b stops heartbeating: it "crashed", and its registration lapsed.
	register("b", -time.Millisecond)
	loc, _ := a.Locate(ctx, "ua", "ub")
	if _, ok := loc["ub"]; ok || len(loc["ua"]) != 1 {
		t.Fatalf("after b's registration expired: %v", loc)
	}
	// A claim on a live node does not hand back the dead node's session.
	if res, _ := a.Claim(ctx, "ub", 2, time.Now(), true); len(res.Replaced) != 0 || res.Superseded {
		t.Fatalf("claim returned the dead node's session: %+v", res)
	}

	// Redis loses everything; Republish records a's connections again.
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	register("a", time.Minute)
	if err := a.Republish(ctx); err != nil {
		t.Fatal(err)
	}
	loc, _ = a.Locate(ctx, "ua", "ub")
	if len(loc["ua"]) != 1 || len(loc["ub"]) != 1 {
		t.Fatalf("after republish: %v", loc)
	}
}

func TestUsersUnavailable(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	u := newTestUsers(t, srv, "a", UsersConfig{})
	srv.Stop(t)
	if _, err := u.Claim(context.Background(), "u", 1, time.Now(), true); !isUnavailable(err) {
		t.Fatalf("claim with Redis down: %v", err)
	}
	if _, err := u.Locate(context.Background(), "u"); !isUnavailable(err) {
		t.Fatalf("locate with Redis down: %v", err)
	}
}

// TestUsersLateClaimOfAnOlderConnection: b records a connection opened
// after a's; a's exclusive claim, reaching Redis last, records nothing and
// reports the newer connection, even after b refreshed its record. A
// claim of b's node keeps the order its claims come in, and a's claim of a
// connection opened later still replaces b's.
func TestUsersLateClaimOfAnOlderConnection(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newTestUsers(t, srv, "a", UsersConfig{})
	b := newTestUsers(t, srv, "b", UsersConfig{})
	t0 := time.Now()
	if res, err := b.Claim(ctx, "u1", 9, t0.Add(50*time.Millisecond), true); err != nil || res.Superseded {
		t.Fatalf("b's claim: %+v %v", res, err)
	}
	late := func(when string) {
		t.Helper()
		res, err := a.Claim(ctx, "u1", 7, t0, true)
		if err != nil || !res.Superseded || res.Newer != (UserSession{Node: "b", Conn: 9}) || len(res.Replaced) != 0 {
			t.Fatalf("%s: a's late claim: %+v %v", when, res, err)
		}
		loc, err := a.Locate(ctx, "u1")
		if err != nil || !slices.Equal(loc["u1"], []UserSession{{Node: "b", Conn: 9}}) {
			t.Fatalf("%s: located %v %v", when, loc, err)
		}
		if a.Connected() != 0 {
			t.Fatalf("%s: a keeps the superseded connection", when)
		}
	}
	late("first")
	if err := b.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	late("after b's refresh")
	if err := a.Republish(ctx); err != nil {
		t.Fatal(err)
	}
	late("after a's republish")

	// b's own claims run in the order its connections open.
	res, err := b.Claim(ctx, "u1", 10, t0, true)
	if err != nil || res.Superseded || !slices.Equal(res.Replaced, []UserSession{{Node: "b", Conn: 9}}) {
		t.Fatalf("b's second claim: %+v %v", res, err)
	}
	res, err = a.Claim(ctx, "u1", 8, t0.Add(time.Second), true)
	if err != nil || res.Superseded || !slices.Equal(res.Replaced, []UserSession{{Node: "b", Conn: 10}}) {
		t.Fatalf("a's claim of a later connection: %+v %v", res, err)
	}
}

// TestUsersLeaveRemovesThisNodesRecords: a node that leaves removes its
// own connections' records, and only those, at once rather than leaving
// them to lapse with their TTL.
func TestUsersLeaveRemovesThisNodesRecords(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := srv.Client(t)
	a := newTestUsers(t, srv, "a", UsersConfig{})
	b := newTestUsers(t, srv, "b", UsersConfig{})
	for _, c := range []struct {
		u    *Users
		user string
		conn uint64
	}{{a, "u1", 1}, {a, "u2", 2}, {b, "u1", 3}} {
		if _, err := c.u.Claim(ctx, c.user, c.conn, time.Now(), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, "tickroom:user:u2").Val(); n != 0 {
		t.Fatalf("u2's record, a's alone, is still there: %v", rdb.HGetAll(ctx, "tickroom:user:u2").Val())
	}
	if got := rdb.HKeys(ctx, "tickroom:user:u1").Val(); !slices.Equal(got, []string{"b/3"}) {
		t.Fatalf("u1's record holds %v, want b's connection alone", got)
	}
	if n := a.Connected(); n != 0 {
		t.Fatalf("a still counts %d users", n)
	}
}
