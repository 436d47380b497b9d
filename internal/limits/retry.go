package limits

import (
	"math"
	"time"
)

// MaxRetryAfter is the longest retry hint a refused client is told (an
// HTTP Retry-After, an Error's retry_after_ms): a wait past it, from a
// rate configured so small that its next token is days or centuries
// away, or never comes, is told as MaxRetryAfter, so that the hint stays
// within what the wire's fields hold (retry_after_ms is a uint32, 49.7
// days) and a client asks again at least hourly, by when an operator
// may have changed the rate.
const MaxRetryAfter = time.Hour

// RetryAfter returns d capped at MaxRetryAfter; a negative d is 0.
func RetryAfter(d time.Duration) time.Duration {
	return min(max(d, 0), MaxRetryAfter)
}

// RetryAfterSeconds is RetryAfter(d) in whole seconds, rounded up: a
// Retry-After header's value.
func RetryAfterSeconds(d time.Duration) int64 {
	return int64((RetryAfter(d) + time.Second - 1) / time.Second)
}

// RetryAfterMillis is RetryAfter(d) in whole milliseconds, rounded up: an
// Error's retry_after_ms.
func RetryAfterMillis(d time.Duration) uint32 {
	return uint32((RetryAfter(d) + time.Millisecond - 1) / time.Millisecond)
}

// Seconds returns secs seconds as a Duration, saturating at the longest
// Duration for more than it holds (+Inf included) where a plain
// conversion is undefined and on amd64 gives the most negative one; NaN
// and negative seconds are 0.
func Seconds(secs float64) time.Duration {
	ns := secs * float64(time.Second)
	switch {
	case !(ns > 0):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(ns)
}
