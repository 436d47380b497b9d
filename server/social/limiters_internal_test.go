package social

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// BenchmarkUserLimitersMemory reports the heap a user kept by
// userLimiters takes with every one of its limiters in use and a channel
// left: its LRU element and map entry, limiters, the 6 rate.Limiters,
// leftChannels, and its user id (a guest's, 28 B). The node keeps
// maxRateUsers of them (docs/limits.md).
func BenchmarkUserLimitersMemory(b *testing.B) {
	picks := []func(*limiters) **rate.Limiter{
		func(l *limiters) **rate.Limiter { return &l.chat },
		func(l *limiters) **rate.Limiter { return &l.signal },
		func(l *limiters) **rate.Limiter { return &l.presence },
		func(l *limiters) **rate.Limiter { return &l.contact },
		func(l *limiters) **rate.Limiter { return &l.rejoin },
		func(l *limiters) **rate.Limiter { return &l.read },
	}
	now := time.Now()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t := new(userLimiters)
		for u := range maxRateUsers {
			m := &Member{user: fmt.Sprintf("guest-%022d", u)}
			for _, p := range picks {
				t.limiter(m, p, 1, 10)
			}
			t.noteLeft(m, "lobby", now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/maxRateUsers, "B/user")
		runtime.KeepAlive(t)
	}
}
