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

// WithJoinRate returns o with the rate of one user's joins on a node
// (hub.Config.JoinRate) set to rate, a token every 1/rate seconds.
func WithJoinRate(o Options, rate float64) Options {
	o.joinRate = rate
	return o
}

// WithStoreReadRate returns o with the rate of one user's store reads on
// a node (hub.SocialConfig.StoreReadRate) set to rate; +Inf turns it off.
func WithStoreReadRate(o Options, rate float64) Options {
	o.storeReadRate = rate
	return o
}

// WithDirectorySync returns o with a node of a cluster writing its
// changed rooms to Redis every d (cluster.DirectoryConfig.SyncInterval).
func WithDirectorySync(o Options, d time.Duration) Options {
	o.directorySync = d
	return o
}

// NodeReady is the readiness of s's node of a cluster (nil without
// Redis): nil once its registration is written to Redis and its rooms
// and users with it, as /readyz reports.
func NodeReady(s *Server) error {
	if s.node == nil {
		return nil
	}
	return s.node.Ready()
}
