package game

import (
	"testing"
	"time"
	"unsafe"
)

// A Room is held for every room's life. Past 1,272 bytes it takes the
// 1,408 B size class rather than 1,280 (an object of more than 512 bytes
// with pointers carries an 8-byte header): 128 B more a room, ~13 B a
// player in rooms of ten and 64 in rooms of two (BenchmarkRoomMemory).
// Its own tick histograms were most of it (roomHistogram).
func TestRoomFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Room{}); n > 1272 {
		t.Fatalf("Room is %d bytes: more than 1,272 goes to the 1,408 B size class", n)
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
// 32 bytes, a back record's place in the log beside its flags and its
// whole state's bytes in its whole part.
func TestRingSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(snap{}); n > 32 {
		t.Fatalf("snap is %d bytes, want 32", n)
	}
}

// A room's histogram halves its counts and sum when one reaches
// roomHalveAt: its quantiles and mean stay, and no count wraps.
func TestRoomHistogramHalves(t *testing.T) {
	defer func(v uint32) { roomHalveAt = v }(roomHalveAt)
	roomHalveAt = 64
	var h roomHistogram
	var want histogram // the same observations, never halved
	for i := range 1000 {
		d := time.Duration(100+i%7*300) * time.Microsecond
		if i%10 == 0 {
			d = 20 * time.Millisecond
		}
		h.add(bucket(d), d)
		want.add(bucket(d), d)
		for k := range h.counts {
			if c := h.counts[k].Load(); c >= roomHalveAt {
				t.Fatalf("observation %d: bucket %d holds %d, at or past %d", i, k, c, roomHalveAt)
			}
		}
	}
	got, all := h.snapshot(), want.snapshot()
	if got.Count >= all.Count {
		t.Fatalf("%d observations kept of %d: never halved", got.Count, all.Count)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		g, w := got.Quantile(q), all.Quantile(q)
		if g < w*8/10 || g > w*12/10 {
			t.Errorf("p%v %v, %v without halving", q*100, g, w)
		}
	}
	gm, wm := got.Sum/time.Duration(got.Count), all.Sum/time.Duration(all.Count)
	if gm < wm*8/10 || gm > wm*12/10 {
		t.Errorf("mean %v, %v without halving", gm, wm)
	}
}
