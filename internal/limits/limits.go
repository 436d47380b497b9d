// Package limits holds the rules every layer's configuration follows for
// its numeric limits: zero means the documented default, and a negative
// value or a NaN is an error, never replaced. A rate may be as small as a
// float64 goes: the retry hint its refusals give is capped at
// MaxRetryAfter (RetryAfter and its kin), which every layer applies where
// it tells a client when to retry.
package limits

import "fmt"

// Number is a numeric limit: a count, a rate or a duration.
type Number interface {
	~int | ~int64 | ~float64
}

// Default sets *v to d when it is zero. A negative *v is left as it is,
// for NonNegative to refuse.
func Default[T Number](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// NonNegative returns an error naming field when v is negative or NaN
// (which no comparison with a limit trips), else nil.
// Callers join the results (errors.Join) and wrap them in their package's
// config error.
func NonNegative[T Number](field string, v T) error {
	if v != v {
		return fmt.Errorf("%s is not a number (NaN)", field)
	}
	if v < 0 {
		return fmt.Errorf("%s is negative (%v)", field, v)
	}
	return nil
}
