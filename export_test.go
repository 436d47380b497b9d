package tickroom

import "time"

// SetRevocationRetry sets the wait before a failed kick or ban's write is
// first tried again, until restore; a test that calls it must not run in
// parallel.
func SetRevocationRetry(d time.Duration) (restore func()) {
	old := revocationRetry
	revocationRetry = d
	return func() { revocationRetry = old }
}
