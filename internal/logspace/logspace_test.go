package logspace

import (
	"testing"
	"time"
)

// TestSpacerLetsOneThroughAnIntervalAndCountsTheRest: the first line goes
// through, the next ones within Every are held back and counted, and the
// first after it goes through with that count.
func TestSpacerLetsOneThroughAnIntervalAndCountsTheRest(t *testing.T) {
	var s Spacer
	t0 := time.Unix(1000, 0)
	if ok, n := s.Allow(t0); !ok || n != 0 {
		t.Fatalf("first line: %v %d, want through with none left out", ok, n)
	}
	for i := 1; i <= 5; i++ {
		if ok, _ := s.Allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("a line %d s after the last went through, want held back", i)
		}
	}
	if ok, n := s.Allow(t0.Add(Every)); !ok || n != 5 {
		t.Fatalf("a line Every after the last: %v %d, want through with 5 left out", ok, n)
	}
}
