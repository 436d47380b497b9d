package hub

import (
	"testing"
	"unsafe"
)

// A Session is held for every connection: past 144 bytes it takes the
// 160 B size class (BenchmarkSeatedMemory).
func TestSessionFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 144 {
		t.Fatalf("Session is %d bytes: more than 144 goes to the 160 B size class", n)
	}
}
