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

// SetHTTPBodyTimeout sets the time the public and admin HTTP ports give
// a request's body, for the servers started until restore; a test that
// calls it must not run in parallel.
func SetHTTPBodyTimeout(d time.Duration) (restore func()) {
	old := httpBodyTimeout
	httpBodyTimeout = d
	return func() { httpBodyTimeout = old }
}
