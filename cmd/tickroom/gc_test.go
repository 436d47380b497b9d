package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestGCPercentZeroIsTheDefault: -gc-percent 0 means this flag's default,
// as 0 means the default for every other limit, not Go's own 100.
func TestGCPercentZeroIsTheDefault(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set in the environment, which the flag leaves alone")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct{ flag, want int }{{0, defaultGCPercent}, {30, 30}} {
		debug.SetGCPercent(100)
		setGCPercent(tc.flag)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("-gc-percent %d: the collector's target is %d, want %d", tc.flag, got, tc.want)
		}
	}
}
