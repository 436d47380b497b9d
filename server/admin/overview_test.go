package admin_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server"
)

// TestOverviewTickHistograms checks what the monitor's lateness chart
// reads: the runtime's tick histograms and the transport's send wait,
// whose counts grow while rooms tick.
func TestOverviewTickHistograms(t *testing.T) {
	e := start(t, adminToken)
	type hist struct {
		BoundsMs []float64 `json:"bounds_ms"`
		Lateness []uint64  `json:"lateness"`
		Duration []uint64  `json:"duration"`
	}
	type waits struct {
		BoundsMs []float64 `json:"bounds_ms"`
		Counts   []uint64  `json:"counts"`
	}
	var sendWait waits
	poll := func() hist {
		t.Helper()
		status, body := e.do("GET", "/v1/admin/overview", adminToken, "")
		var o struct {
			Ticks    hist  `json:"ticks"`
			SendWait waits `json:"send_wait"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &o) != nil {
			t.Fatalf("overview: %d %s", status, body)
		}
		sendWait = o.SendWait
		return o.Ticks
	}
	sum := func(c []uint64) (n uint64) {
		for _, v := range c {
			n += v
		}
		return n
	}
	first := poll()
	firstWait := sendWait
	e.connect("ann").join("") // a room, and its frames to ann
	if len(firstWait.BoundsMs) != len(server.SendWaitBounds) || len(firstWait.Counts) != len(firstWait.BoundsMs)+1 {
		t.Fatalf("send wait histogram shape: %+v", firstWait)
	}
	for i, b := range server.SendWaitBounds {
		if firstWait.BoundsMs[i] != float64(b)/float64(time.Millisecond) {
			t.Fatalf("send wait bounds %v, want the transport's %v", firstWait.BoundsMs, server.SendWaitBounds)
		}
	}
	if len(first.BoundsMs) < 2 || len(first.Lateness) != len(first.BoundsMs)+1 || len(first.Duration) != len(first.BoundsMs)+1 {
		t.Fatalf("histogram shape: %+v", first)
	}
	for i := 1; i < len(first.BoundsMs); i++ {
		if first.BoundsMs[i] <= first.BoundsMs[i-1] {
			t.Fatalf("bounds not increasing: %v", first.BoundsMs)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		next := poll()
		// The room's frames go out too, each counted in the send wait.
		if sum(next.Lateness) > sum(first.Lateness) && sum(next.Duration) > sum(first.Duration) && sum(sendWait.Counts) > sum(firstWait.Counts) {
			for i := range next.Lateness {
				if next.Lateness[i] < first.Lateness[i] {
					t.Fatalf("a count went down: %v then %v", first.Lateness, next.Lateness)
				}
			}
			for i := range sendWait.Counts {
				if sendWait.Counts[i] < firstWait.Counts[i] {
					t.Fatalf("a send wait count went down: %v then %v", firstWait.Counts, sendWait.Counts)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room ticked but the histograms did not grow: %+v, send wait %+v", next, sendWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOverviewReadyIsReadyz: the monitor's overview says ready exactly
// when /readyz answers 200, and why not when it answers 503: a draining
// node is not shown as ready.
func TestOverviewReadyIsReadyz(t *testing.T) {
	e := start(t, adminToken)
	overview := func() (bool, string) {
		t.Helper()
		status, body := e.do("GET", "/v1/admin/overview", adminToken, "")
		var o struct {
			Ready    bool   `json:"ready"`
			NotReady string `json:"not_ready"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &o) != nil {
			t.Fatalf("overview: %d %s", status, body)
		}
		return o.Ready, o.NotReady
	}
	if status, _ := e.do("GET", "/readyz", "", ""); status != 200 {
		t.Fatalf("/readyz before the drain: %d", status)
	}
	if ready, why := overview(); !ready || why != "" {
		t.Fatalf("overview before the drain: ready %v %q", ready, why)
	}
	e.hub.Drain()
	if status, body := e.do("GET", "/readyz", "", ""); status != 503 || body != "draining\n" {
		t.Fatalf("/readyz while draining: %d %q", status, body)
	}
	if ready, why := overview(); ready || why != "draining" {
		t.Fatalf("overview while draining: ready %v %q, want false \"draining\"", ready, why)
	}
}
