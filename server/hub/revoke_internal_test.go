package hub

import (
	"testing"
	"time"
)

// TestSignOutsOfOneUserKeepOne: every password change records a sign-out,
// and a later one refuses every token an earlier one does, for longer; the
// memory keeps one per user (the latest cutoff and end), however many
// changes there were, so the check at every handshake stays short. A kick
// beside them is kept apart.
func TestSignOutsOfOneUserKeepOne(t *testing.T) {
	m := NewMemoryRevocations()
	t0 := time.Now().Truncate(time.Second)
	m.Revoke(Revocation{UserID: "ann", IssuedBefore: t0, Until: t0.Add(time.Hour)})
	const changes = 1000
	for i := range changes {
		at := t0.Add(time.Duration(i) * time.Second)
		m.Revoke(Revocation{UserID: "ann", SignOut: true, IssuedBefore: at, Until: at.Add(24 * time.Hour)})
	}
	// One arriving late (another node's, out of order) moves neither.
	m.Revoke(Revocation{UserID: "ann", SignOut: true, IssuedBefore: t0, Until: t0.Add(24 * time.Hour)})
	m.mu.Lock()
	list := append([]Revocation(nil), m.users["ann"]...)
	m.mu.Unlock()
	if len(list) != 2 {
		t.Fatalf("%d revocations held after a kick and %d sign-outs of one user, want 2 (the kick and one sign-out)", len(list), changes+1)
	}
	last := t0.Add((changes - 1) * time.Second)
	r, ok := m.Check("ann", last, time.Now())
	if !ok || !r.SignOut || !r.IssuedBefore.Equal(last) || !r.Until.Equal(last.Add(24*time.Hour)) {
		t.Fatalf("Check of a token of the last sign-out's second = %+v, %v; want that sign-out", r, ok)
	}
	if _, ok := m.Check("ann", last.Add(time.Second), time.Now()); ok {
		t.Fatal("a token issued after the last sign-out is refused")
	}
}
