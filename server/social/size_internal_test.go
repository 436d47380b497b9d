package social

import (
	"testing"
	"unsafe"
)

// A Member and a profile are held for every connected user: past 128
// bytes each takes the 144 B size class (BenchmarkSeatedMemory in
// server/hub).
func TestMemberAndProfileFitTheirSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Member{}); n > 128 {
		t.Errorf("Member is %d bytes: more than 128 goes to the 144 B size class", n)
	}
	if n := unsafe.Sizeof(profile{}); n > 128 {
		t.Errorf("profile is %d bytes: more than 128 goes to the 144 B size class", n)
	}
}
