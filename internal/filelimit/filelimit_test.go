package filelimit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFit(t *testing.T) {
	def := Caps{WS: 10000, HTTP: 4096}
	for _, tc := range []struct {
		name     string
		set      Caps
		room     int
		want     Caps
		wantFits bool
	}{
		{"defaults fit", Caps{}, 15000, def, true},
		{"defaults shared in their ratio", Caps{}, 1000, Caps{WS: 709, HTTP: 291}, true},
		{"defaults at their floor", Caps{}, -3000, Floor, false},
		{"set caps that fit stay", Caps{WS: 500, HTTP: 100}, 600, Caps{WS: 500, HTTP: 100}, true},
		{"set caps over the room stay, refused", Caps{WS: 500, HTTP: 100}, 599, Caps{WS: 500, HTTP: 100}, false},
		{"a defaulted HTTP cap takes what is left", Caps{WS: 500}, 800, Caps{WS: 500, HTTP: 300}, true},
		{"a defaulted WebSocket cap takes what is left", Caps{HTTP: 100}, 800, Caps{WS: 700, HTTP: 100}, true},
		{"nothing left for the defaulted cap", Caps{WS: 1000}, 100, Caps{WS: 1000, HTTP: Floor.HTTP}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fits := Fit(tc.set, def, tc.room)
			if got != tc.want || fits != tc.wantFits {
				t.Fatalf("Fit(%v, %d) = %v, %v; want %v, %v", tc.set, tc.room, got, fits, tc.want, tc.wantFits)
			}
		})
	}
}

func TestBacklog(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       int
	}{
		{"read", "1024\n", 1024},
		{"truncated as Linux does", "100000\n", 1<<16 - 1},
		{"garbage", "many\n", DefaultBacklog},
		{"missing", "", DefaultBacklog},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.text != "" {
				if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := backlog(p); got != tc.want {
				t.Fatalf("backlog of %q = %d, want %d", tc.text, got, tc.want)
			}
		})
	}
}
