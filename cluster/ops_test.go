package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/redistest"
)

// newTestOps starts a bus of node on srv with Ops on it, both closed when
// t ends.
func newTestOps(t *testing.T, srv *redistest.Server, node string) *Ops {
	t.Helper()
	b, err := NewBus(BusConfig{Client: srv.Client(t), Node: node, CallTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := NewOps(b)
	b.Start()
	t.Cleanup(func() {
		o.Close()
		b.Close()
	})
	return o
}

// callUntil calls node until an answer or a refusal comes (the node's
// subscription may not be in place yet: a call published before it is
// lost).
func callUntil(t *testing.T, o *Ops, node string, req []byte) ([]byte, error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := o.Call(context.Background(), node, req)
		if err == nil || errors.Is(err, ErrRefused) || time.Now().After(deadline) {
			return b, err
		}
	}
}

// TestOpsCallAnswersAndBoundsInFlight: a call is answered by the other
// node's bound handler; a node with nothing bound refuses; a node that
// serves OpsInFlight requests already refuses one more at once, and
// serves again once they end.
func TestOpsCallAnswersAndBoundsInFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	o1, o2 := newTestOps(t, srv, "n1"), newTestOps(t, srv, "n2")

	if _, err := callUntil(t, o1, "n2", []byte("x")); !errors.Is(err, ErrRefused) {
		t.Fatalf("a node with nothing bound: %v, want ErrRefused", err)
	}

	release := make(chan struct{})
	entered := make(chan struct{}, OpsInFlight+1)
	o2.Bind(func(_ context.Context, req []byte) []byte {
		if string(req) == "block" {
			entered <- struct{}{}
			<-release
		}
		return append([]byte("re:"), req...)
	})
	if b, err := o1.Call(context.Background(), "n2", []byte("hi")); err != nil || string(b) != "re:hi" {
		t.Fatalf("call: %q %v", b, err)
	}

	var wg sync.WaitGroup
	for range OpsInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b, err := o1.Call(context.Background(), "n2", []byte("block")); err != nil || string(b) != "re:block" {
				t.Errorf("blocked call: %q %v", b, err)
			}
		}()
	}
	for range OpsInFlight {
		waitRecv(t, entered, "a blocked request")
	}
	if _, err := o1.Call(context.Background(), "n2", []byte("one more")); !errors.Is(err, ErrRefused) {
		t.Fatalf("request past OpsInFlight: %v, want ErrRefused", err)
	}
	if n := o2.Refused.Load(); n != 2 {
		t.Fatalf("refused %d, want 2", n)
	}
	close(release)
	wg.Wait()
	if b, err := o1.Call(context.Background(), "n2", []byte("again")); err != nil || string(b) != "re:again" {
		t.Fatalf("after the blocked ones: %q %v", b, err)
	}

	// A node that does not exist never answers: ErrUnavailable after
	// the call timeout, or when the caller's context ends first.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := o1.Call(ctx, "n9", []byte("x")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call to no node: %v, want ErrUnavailable", err)
	}
}
