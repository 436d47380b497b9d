package server

import "time"

// The transport's clock. Deadlines, timeouts, rate buckets and the sweep's
// schedule are unix nanoseconds read from nanotime: the wall time at start
// plus the monotonic time since, so a step of the wall clock (an NTP step,
// a VM resumed) moves none of them. Read from the wall clock, a step
// forward past IdleTimeout closed every connection at the next sweep, and
// a step back stopped the sweeps (and with them every timeout and the
// outbound budget) until the clock had caught up, and put every
// connection's rate bucket in debt for the step.
var (
	clockStart     = time.Now()
	clockStartUnix = clockStart.UnixNano()
)

// nanotime returns the transport's clock (see above). Safe from any
// goroutine.
func nanotime() int64 { return clockStartUnix + int64(time.Since(clockStart)) }
