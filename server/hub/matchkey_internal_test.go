package hub

import (
	"maps"
	"testing"
)

// FuzzMatchKey: two quick-matches share a pool exactly when they ask the
// same game, size and options; options whose keys hold '=' or whose keys
// or values hold a NUL byte (any text a client sends) cannot name another
// set's pool. Options without those keep the pool names they always had,
// which the nodes of a cluster share while they are upgraded one by one.
func FuzzMatchKey(f *testing.F) {
	f.Add("a=b", "c", "a", "b=c", "a", "b=c")
	f.Add("a", "1\x00width=2000", "a", "1", "width", "2000")
	f.Add("\x00", "", "", "\x00", "x", "")
	f.Add("width", "40", "width", "40", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		a := map[string]string{k1: v1}
		b := map[string]string{k2: v2, k3: v3}
		same := maps.Equal(a, b)
		if ka, kb := matchKey("arena", 0, a), matchKey("arena", 0, b); (ka == kb) != same {
			t.Fatalf("options %q and %q: pools %q and %q", a, b, ka, kb)
		}
		if matchKey("arena", 0, a) == matchKey("arena", 4, a) {
			t.Fatalf("sizes 0 and 4 share a pool")
		}
	})
}

// TestMatchKeyUnchanged: ordinary options keep the pool name every node
// of a cluster has used, so a rolling upgrade splits no pool.
func TestMatchKeyUnchanged(t *testing.T) {
	if got, want := matchKey("arena", 4, map[string]string{"width": "40", "b": "x=y"}), "arena\x004\x00b=x=y\x00width=40"; got != want {
		t.Fatalf("pool %q, want %q", got, want)
	}
}
