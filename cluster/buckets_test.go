package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/server/hub"
)

// TestBucketsAreSharedAndExpire: two nodes take from one bucket (the
// hub's bound on wrong passwords: 10, then one every 2 s): the burst
// taken through both, either node is told to wait, at most 2 s; a bucket
// only looked at makes no key, and a charged one's key lives no longer
// than the bucket takes to fill (20 s); without Redis both calls fail
// with ErrUnavailable, for the hub to count alone.
func TestBucketsAreSharedAndExpire(t *testing.T) {
	rs := redistest.Start(t)
	a, b := NewBuckets(startNode(t, rs, "a")), NewBuckets(startNode(t, rs, "b"))
	ctx := context.Background()
	bk := hub.Bucket{Key: "pw:a:203.0.113.7/32", Rate: 0.5, Burst: 10}
	rdb := rs.Client(t)
	name := "rate:" + DefaultPrefix + "bucket:" + bk.Key

	if d, err := a.Wait(ctx, bk); d != 0 || err != nil {
		t.Fatalf("Wait of a new bucket: %v, %v; want 0", d, err)
	}
	if n, _ := rdb.Exists(ctx, name).Result(); n != 0 {
		t.Fatalf("a bucket only looked at made the key %s", name)
	}
	for i := range 10 {
		k := a
		if i%2 == 1 {
			k = b
		}
		if err := k.Take(ctx, bk); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []*Buckets{a, b} {
		if d, err := k.Wait(ctx, bk); err != nil || d <= 0 || d > 2*time.Second {
			t.Fatalf("Wait once the burst was taken through both nodes: %v, %v; want (0, 2 s]", d, err)
		}
	}
	if ttl, err := rdb.TTL(ctx, name).Result(); err != nil || ttl <= 0 || ttl > 20*time.Second {
		t.Fatalf("TTL of %s: %v, %v; want (0, 20 s]", name, ttl, err)
	}

	rs.Stop(t)
	if _, err := a.Wait(ctx, bk); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Wait without Redis: %v, want ErrUnavailable", err)
	}
	if err := a.Take(ctx, bk); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Take without Redis: %v, want ErrUnavailable", err)
	}
}
