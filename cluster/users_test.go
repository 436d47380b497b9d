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
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newTestUsers(t, srv, "a", UsersConfig{})
	b := newTestUsers(t, srv, "b", UsersConfig{})
	if old, err := a.Claim(ctx, "u1", 7, true); err != nil || len(old) != 0 {
		t.Fatalf("first claim: %v %v", old, err)
	}
	old, err := b.Claim(ctx, "u1", 9, true)
	if err != nil || !slices.Equal(old, []UserSession{{Node: "a", Conn: 7}}) {
		t.Fatalf("second claim replaced %v, %v", old, err)
	}
	loc, err := a.Locate(ctx, "u1", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(loc["u1"], []UserSession{{Node: "b", Conn: 9}}) || len(loc) != 1 {
		t.Fatalf("located %v", loc)
	}
	// A non-exclusive claim keeps the other connection.
	if old, _ := a.Claim(ctx, "u1", 8, false); len(old) != 0 {
		t.Fatalf("shared claim replaced %v", old)
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
	srv := redistest.Start(t)
	ctx := context.Background()
	// The node that "crashes" never starts its refresh.
	dead, err := NewUsers(UsersConfig{Client: srv.Client(t), Node: "dead", TTL: 300 * time.Millisecond, Refresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	alive := newTestUsers(t, srv, "alive", UsersConfig{TTL: 300 * time.Millisecond, Refresh: 100 * time.Millisecond})
	if _, err := dead.Claim(ctx, "u1", 1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := alive.Claim(ctx, "u2", 1, true); err != nil {
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
	register("b", 200*time.Millisecond) // b stops heartbeating: it "crashed"
	b := newTestUsers(t, srv, "b", UsersConfig{NodeLiveness: true})
	if _, err := a.Claim(ctx, "ua", 1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Claim(ctx, "ub", 1, true); err != nil {
		t.Fatal(err)
	}
	if loc, _ := a.Locate(ctx, "ua", "ub"); len(loc) != 2 {
		t.Fatalf("both live: %v", loc)
	}
	time.Sleep(400 * time.Millisecond)
	loc, _ := a.Locate(ctx, "ua", "ub")
	if _, ok := loc["ub"]; ok || len(loc["ua"]) != 1 {
		t.Fatalf("after b's registration expired: %v", loc)
	}
	// A claim on a live node does not hand back the dead node's session.
	if old, _ := a.Claim(ctx, "ub", 2, true); len(old) != 0 {
		t.Fatalf("claim returned the dead node's session: %v", old)
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
	srv := redistest.Start(t)
	u := newTestUsers(t, srv, "a", UsersConfig{})
	srv.Stop(t)
	if _, err := u.Claim(context.Background(), "u", 1, true); !isUnavailable(err) {
		t.Fatalf("claim with Redis down: %v", err)
	}
	if _, err := u.Locate(context.Background(), "u"); !isUnavailable(err) {
		t.Fatalf("locate with Redis down: %v", err)
	}
}
