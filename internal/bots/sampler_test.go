package bots

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestServerCPUOverTheReadingsOwnTimes: the server's CPU share is its CPU
// seconds between two readings over the time between them, each reading
// stamped when its figure was read; a /metrics that answered late (a
// saturated server's admin listener) used to put the wait's CPU over the
// time before it, reading a server at one core busy as 180 %.
func TestServerCPUOverTheReadingsOwnTimes(t *testing.T) {
	start := time.Now()
	var delay atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(delay.Load()))
		// One core busy: a CPU second each second.
		fmt.Fprintf(w, "process_cpu_seconds_total %g\nprocess_resident_memory_bytes 1e6\n", time.Since(start).Seconds())
	}))
	defer srv.Close()
	now := func() int64 { return int64(time.Since(start)) }
	smp := sampler{url: srv.URL, client: srv.Client()}
	s0, ok := smp.sample(context.Background(), now)
	if !ok {
		t.Fatal("no first reading")
	}
	time.Sleep(time.Second)
	delay.Store(int64(800 * time.Millisecond))
	s1, ok := smp.sample(context.Background(), now)
	if !ok {
		t.Fatal("no second reading")
	}
	if pct := 100 * (s1.cpu - s0.cpu) / (float64(s1.at-s0.at) / 1e9); pct < 90 || pct > 110 {
		t.Fatalf("server CPU %.0f %% between the readings; want about 100", pct)
	}
}
