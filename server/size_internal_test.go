package server

import (
	"testing"
	"unsafe"
)

// A Conn is held for every connection: past 384 bytes it takes the 416 B
// size class (BenchmarkSeatedMemory in server/hub).
func TestConnFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 384 {
		t.Fatalf("Conn is %d bytes: more than 384 goes to the 416 B size class", n)
	}
}
