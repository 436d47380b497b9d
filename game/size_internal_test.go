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

// A member and a seat are held for every player: a member past 96 bytes
// takes the 112 B size class, and a seat past 72 bytes puts a room of
// ten's seats in the 896 B class rather than 768.
func TestPlayerRecordsFitTheirSizeClasses(t *testing.T) {
	if n := unsafe.Sizeof(member{}); n > 96 {
		t.Errorf("member is %d bytes: more than 96 goes to the 112 B size class", n)
	}
	if n := unsafe.Sizeof(seatSlot{}); n > 72 {
		t.Errorf("seatSlot is %d bytes: ten of more than 72 go to the 896 B size class", n)
	}
}

// A ring slot is held for every tick a room keeps (Config.ResumeTicks):
// 48 bytes, the record's offset in the log in the flags' word.
func TestRingSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(snap{}); n > 48 {
		t.Fatalf("snap is %d bytes, want 48", n)
	}
}
