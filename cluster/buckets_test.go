package cluster

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
	t.Parallel()
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

// bucketCalls counts the commands of a client that touch a bucket's key.
type bucketCalls struct{ n atomic.Int64 }

func (c *bucketCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *bucketCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (c *bucketCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.HasPrefix(s, "rate:") {
				c.n.Add(1)
				break
			}
		}
		return next(ctx, cmd)
	}
}

// TestBucketsSkipASilentRedis: while Redis takes calls and answers none,
// every call of the buckets waited out its timeout, a second each. Once a
// call has failed the others now fail with ErrUnavailable without asking
// it (20 calls: all 20 were sent before, now the first alone, or one
// more), and once Redis answers again they ask it again.
func TestBucketsSkipASilentRedis(t *testing.T) {
	// Not parallel: it freezes Redis (SIGSTOP) and counts the calls sent
	// to it meanwhile; it runs alone, before the parallel tests.
	rs := redistest.Start(t)
	n := startNode(t, rs, "a")
	calls := &bucketCalls{}
	n.Client().AddHook(calls)
	k := NewBuckets(n)
	ctx := context.Background()
	bk := hub.Bucket{Key: "pw:a:203.0.113.7/32", Rate: 0.5, Burst: 10}
	if err := k.Take(ctx, bk); err != nil {
		t.Fatal(err)
	}

	rs.Pause(t)
	before := calls.n.Load()
	if err := k.Take(ctx, bk); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Take of a silent Redis: %v, want ErrUnavailable", err)
	}
	for i := range 20 {
		var err error
		if i%2 == 0 {
			_, err = k.Wait(ctx, bk)
		} else {
			err = k.Take(ctx, bk)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d past a failed one: %v, want ErrUnavailable", i+1, err)
		}
	}
	if sent := calls.n.Load() - before; sent > 2 {
		t.Fatalf("%d calls of 21 were sent to a Redis that had not answered, want the first (and at most one more)", sent)
	}

	rs.Resume(t)
	deadline := time.Now().Add(30 * time.Second)
	for k.Take(ctx, bk) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the buckets did not reach Redis again in 30 s after it answered again")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
