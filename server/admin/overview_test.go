package admin_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestOverviewTickHistograms checks what the monitor's lateness chart
// reads: the runtime's histograms, whose counts grow while rooms tick.
func TestOverviewTickHistograms(t *testing.T) {
	e := start(t, adminToken)
	e.connect("ann").join("")
	type hist struct {
		BoundsMs []float64 `json:"bounds_ms"`
		Lateness []uint64  `json:"lateness"`
		Duration []uint64  `json:"duration"`
	}
	poll := func() hist {
		t.Helper()
		status, body := e.do("GET", "/v1/admin/overview", adminToken, "")
		var o struct {
			Ticks hist `json:"ticks"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &o) != nil {
			t.Fatalf("overview: %d %s", status, body)
		}
		return o.Ticks
	}
	sum := func(c []uint64) (n uint64) {
		for _, v := range c {
			n += v
		}
		return n
	}
	first := poll()
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
		if sum(next.Lateness) > sum(first.Lateness) && sum(next.Duration) > sum(first.Duration) {
			for i := range next.Lateness {
				if next.Lateness[i] < first.Lateness[i] {
					t.Fatalf("a count went down: %v then %v", first.Lateness, next.Lateness)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room ticked but the histograms did not grow: %+v", next)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
