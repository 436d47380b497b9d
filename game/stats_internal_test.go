package game

import (
	"testing"
	"time"
)

// TestHistogramBuckets: a value lands in the bucket of the first bound not
// below it, and p99s of 1 ms and 2 ms read apart.
func TestHistogramBuckets(t *testing.T) {
	for i, b := range HistogramBounds {
		var h histogram
		h.add(bucket(b), b)
		h.add(bucket(b+1), b+1)
		s := h.snapshot()
		if s.Counts[i] != 1 || s.Counts[i+1] != 1 {
			t.Fatalf("bound %v: counts %v", b, s.Counts)
		}
	}
	if HistogramBounds[0] != 50*time.Microsecond || HistogramBounds[len(HistogramBounds)-1] != 100*time.Millisecond {
		t.Fatalf("bounds span %v..%v, want 50µs..100ms", HistogramBounds[0], HistogramBounds[len(HistogramBounds)-1])
	}
	for _, tc := range []struct {
		late     time.Duration
		min, max time.Duration
	}{
		{900 * time.Microsecond, 800 * time.Microsecond, time.Millisecond},
		{1100 * time.Microsecond, time.Millisecond, 1250 * time.Microsecond},
		{1900 * time.Microsecond, 1750 * time.Microsecond, 2 * time.Millisecond},
		{2200 * time.Microsecond, 2 * time.Millisecond, 2500 * time.Microsecond},
	} {
		var h histogram
		for range 100 {
			h.add(bucket(tc.late), tc.late)
		}
		if p := h.snapshot().Quantile(0.99); p < tc.min || p > tc.max {
			t.Errorf("p99 of %v reads %v, want %v..%v", tc.late, p, tc.min, tc.max)
		}
	}
}
