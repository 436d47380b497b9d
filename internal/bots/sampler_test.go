package bots

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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
	s0, err := smp.sample(context.Background(), now)
	if err != nil {
		t.Fatal("no first reading")
	}
	time.Sleep(time.Second)
	delay.Store(int64(800 * time.Millisecond))
	s1, err := smp.sample(context.Background(), now)
	if err != nil {
		t.Fatal("no second reading")
	}
	if pct := 100 * (s1.cpu - s0.cpu) / (float64(s1.at-s0.at) / 1e9); pct < 90 || pct > 110 {
		t.Fatalf("server CPU %.0f %% between the readings; want about 100", pct)
	}
}

// TestServerReadingFailuresAreReported: a reading of the server that
// failed is named in the report, rather than the server's figures going
// missing without a word (the first reading, or the last) or its CPU
// covering the ramp as if it were the window's (the window's start).
func TestServerReadingFailuresAreReported(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    int64 // which reading fails: 1 before the first bot, 2 at the window's start, 3 at its end
		want    string
		section bool // a server section is still there
	}{
		{"before the first bot", 1, "server       no reading before the first bot: ", true},
		{"at the window's start", 2, "server       no reading at the window's start: ", true},
		{"at the window's end", 3, "server       no reading at the window's end: ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if n == tc.fail {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				fmt.Fprintf(w, "process_cpu_seconds_total %d\nprocess_resident_memory_bytes %d\n", 10*n, n<<20)
			}))
			defer srv.Close()
			e := &engine{cfg: Config{MetricsURL: srv.URL, Bots: 1}, start: time.Now()}
			r := newRun(e, 0, 0)
			ctx := context.Background()
			r.baseline(ctx)
			time.Sleep(10 * time.Millisecond)
			r.markSteady(ctx)
			time.Sleep(10 * time.Millisecond)
			r.finish(ctx)
			rep := r.report()
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if !strings.Contains(text.String(), tc.want) || (rep.Server != nil) != tc.section {
				t.Fatalf("server section %v; want %v, and a line %q:\n%s", rep.Server != nil, tc.section, tc.want, text.String())
			}
			if tc.fail == 2 && (rep.Server.CPUSeconds != 30-10 || !strings.Contains(text.String(), "over the whole run")) {
				t.Fatalf("server CPU %.0f s; want the 20 s from before the first bot, said to be over the whole run:\n%s", rep.Server.CPUSeconds, text.String())
			}
		})
	}
}
