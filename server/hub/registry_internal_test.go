package hub

import (
	"slices"
	"testing"
)

// The registry keeps each user's sessions oldest first, replaces them all
// on an exclusive login, and unregisters any one of them.
func TestMemoryRegistry(t *testing.T) {
	r := NewMemoryRegistry()
	sess := func(uid string) *Session { return &Session{claims: sessionClaims{UserID: uid}} }
	a1, a2, a3, b1 := sess("a"), sess("a"), sess("a"), sess("b")
	for _, s := range []*Session{a1, b1, a2, a3} {
		if got := r.Add(s, false); got != nil {
			t.Fatalf("Add without exclusive replaced %v", got)
		}
	}
	if got := r.Add(a2, false); got != nil || !slices.Equal(r.Sessions("a"), []*Session{a1, a2, a3}) {
		t.Fatalf("adding a registered session again: replaced %v, sessions %v", got, r.Sessions("a"))
	}
	if got := r.All(); len(got) != 4 {
		t.Fatalf("All = %d sessions, want 4", len(got))
	}
	r.Remove(a2) // a middle one
	if got := r.Sessions("a"); !slices.Equal(got, []*Session{a1, a3}) {
		t.Fatalf("after removing the middle session: %v", got)
	}
	r.Remove(a2) // not registered any more: nothing changes
	r.Remove(a1) // the oldest
	if got := r.Sessions("a"); !slices.Equal(got, []*Session{a3}) {
		t.Fatalf("after removing the oldest session: %v", got)
	}
	a4, a5 := sess("a"), sess("a")
	r.Add(a4, false)
	if got := r.Add(a5, true); !slices.Equal(got, []*Session{a3, a4}) {
		t.Fatalf("an exclusive login replaced %v, want the two before it, oldest first", got)
	}
	if got := r.Sessions("a"); !slices.Equal(got, []*Session{a5}) {
		t.Fatalf("after an exclusive login: %v", got)
	}
	r.Remove(a3) // replaced: not registered
	r.Remove(a5)
	if got := r.Sessions("a"); len(got) != 0 || len(r.All()) != 1 {
		t.Fatalf("after the last session of a left: a has %v, %d in all", got, len(r.All()))
	}
}
