package cluster

import (
	"errors"
	"fmt"
	neturl "net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	// ErrUnavailable wraps every failure to reach Redis: a cluster-wide
	// operation could not be done now. Callers answer it with
	// ERROR_CODE_UNAVAILABLE and go on serving what is local.
	ErrUnavailable = errors.New("cluster: redis unavailable")
	// ErrConfig wraps a Config that New refuses.
	ErrConfig = errors.New("cluster: invalid config")
)

// DefaultTimeout bounds one Redis call when Config.Timeout is zero.
const DefaultTimeout = time.Second

// Dial parses a redis:// (or rediss://) URL and returns a client tuned to
// fail fast: one-second dial, read and write deadlines, a short pool wait
// and one retry, so that a lost Redis costs a caller about a second, never
// a hang. It does not connect; the first command does.
func Dial(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, password and all
		}
		return nil, fmt.Errorf("%w: redis url: %w", ErrConfig, err)
	}
	opt.DialTimeout = DefaultTimeout
	opt.ReadTimeout = DefaultTimeout
	opt.WriteTimeout = DefaultTimeout
	opt.PoolTimeout = DefaultTimeout
	opt.ContextTimeoutEnabled = true
	// One retry covers a pooled connection that a Redis restart closed;
	// more would only make a caller wait longer for the same answer.
	opt.MaxRetries = 1
	opt.MinRetryBackoff = 10 * time.Millisecond
	opt.MaxRetryBackoff = 100 * time.Millisecond
	return redis.NewClient(opt), nil
}

// unavailable wraps a Redis failure in ErrUnavailable; nil and redis.Nil
// (a missing key, which callers handle) pass unchanged.
func unavailable(err error) error {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
