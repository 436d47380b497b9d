package game

import (
	"testing"
	"unsafe"
)

// A Room is held for every room's life. Past 1,528 bytes it takes the
// 1,792 B size class rather than 1,536 (an object of more than 512 bytes
// with pointers carries an 8-byte header): ~26 B more a player in rooms
// of ten (BenchmarkRoomMemory).
func TestRoomFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Room{}); n > 1528 {
		t.Fatalf("Room is %d bytes: more than 1,528 goes to the 1,792 B size class", n)
	}
}
