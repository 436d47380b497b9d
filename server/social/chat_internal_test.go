package social

import (
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// FuzzHistoryRing checks that a channel's history is always the last
// min(lines, max) lines posted, oldest first, whatever the counts.
func FuzzHistoryRing(f *testing.F) {
	f.Add(uint8(0), uint8(1))
	f.Add(uint8(3), uint8(5))
	f.Add(uint8(5), uint8(5))
	f.Add(uint8(6), uint8(5))
	f.Add(uint8(200), uint8(7))
	f.Add(uint8(50), uint8(1))
	f.Fuzz(func(t *testing.T, posted, max uint8) {
		if max == 0 {
			max = 1
		}
		var c channel
		for i := range int(posted) {
			c.nextID++
			c.remember(&tickroomv1.Chat{Id: c.nextID}, int(max))
			if len(c.history) > int(max) {
				t.Fatalf("after %d lines the ring holds %d, over %d", i+1, len(c.history), max)
			}
		}
		got := c.lines()
		want := min(int(posted), int(max))
		if len(got) != want {
			t.Fatalf("%d lines kept of %d posted with max %d, want %d", len(got), posted, max, want)
		}
		for i, l := range got {
			if wantID := uint64(int(posted) - want + i + 1); l.Id != wantID {
				t.Fatalf("line %d has id %d, want %d", i, l.Id, wantID)
			}
		}
	})
}
