package spectate

import "testing"

// SetBeforeRun has every stream call f with its room's id once the room
// took it, before it writes anything, until t ends: a test holds a stream
// there while frames pile up in its sink.
func SetBeforeRun(t testing.TB, f func(roomID string)) {
	beforeRun.Store(&f)
	t.Cleanup(func() { beforeRun.Store(nil) })
}
