package statesync_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/protocol/statesync"
)

// parseFieldsRef is ParseFields written with protowire's readers only:
// what ParseFields' in-line reading of short tags, varints and lengths
// must agree with.
func parseFieldsRef(b []byte) ([]statesync.Field, bool) {
	var dst []statesync.Field
	off := 0
	for off < len(b) {
		if len(dst) == statesync.MaxFields {
			return dst, false
		}
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return dst, false
		}
		f := statesync.Field{Num: num, Type: typ, Tag: uint32(off), Val: uint32(off + n)}
		off += n
		var m int
		switch typ {
		case protowire.VarintType:
			f.Varint, m = protowire.ConsumeVarint(b[off:])
		case protowire.Fixed32Type:
			_, m = protowire.ConsumeFixed32(b[off:])
		case protowire.Fixed64Type:
			_, m = protowire.ConsumeFixed64(b[off:])
		case protowire.BytesType:
			_, m = protowire.ConsumeBytes(b[off:])
		default:
			return dst, false
		}
		if m < 0 {
			return dst, false
		}
		off += m
		f.End = uint32(off)
		dst = append(dst, f)
	}
	return dst, true
}

// FuzzParseFields holds ParseFields to protowire's reading of the same
// bytes: the same verdict, and when it is yes, the same fields at the
// same offsets with the same values.
func FuzzParseFields(f *testing.F) {
	f.Add(player(1, "a", 10, 20))
	f.Add(player(300, "a name of some length", 1<<40, 0))
	f.Add(entity(3, "b", 1, 2, 2, 9))
	f.Add([]byte{0x08, 0x80, 0x80, 0x00})                         // a non-minimal varint
	f.Add([]byte{0x88, 0x00, 0x05})                               // a non-minimal tag
	f.Add([]byte{0x80, 0x01, 0x00})                               // field 16
	f.Add([]byte{0x00, 0x01})                                     // field 0
	f.Add([]byte{0x0a, 0x05, 'a', 'b'})                           // a length past the end
	f.Add([]byte{0x0a, 0x02, 'a', 'b'})                           // a length to the end
	f.Add([]byte{0x0a, 0x03, 'a', 'b'})                           // a length one past the end
	f.Add([]byte{0x0a})                                           // a length's tag alone
	f.Add(append([]byte{0x0a, 0x80, 0x01}, make([]byte, 128)...)) // a two-byte length
	f.Add([]byte{0x0d, 1, 2, 3})                                  // a fixed32 cut short
	f.Add([]byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8})                   // a fixed64
	f.Add([]byte{0x0b, 0x0c})                                     // a group
	f.Add([]byte{0x08})                                           // a tag alone
	f.Add([]byte{0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01})
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Add(slices.Repeat([]byte{0x08, 0x01}, statesync.MaxFields))
	f.Add(slices.Repeat([]byte{0x08, 0x01}, statesync.MaxFields+1))
	f.Add([]byte("not protobuf"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantOK := parseFieldsRef(b)
		got, ok := statesync.ParseFields(nil, b)
		if ok != wantOK {
			t.Fatalf("% x: ok %v, protowire reads %v", b, ok, wantOK)
		}
		if ok && !slices.Equal(got, want) {
			t.Fatalf("% x:\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// BenchmarkParseFields reads the fields of an entity like the arena's
// player, as every tick's deltas and back records do.
func BenchmarkParseFields(b *testing.B) {
	e := player(7, "player-7", 123456, 98765)
	var dst []statesync.Field
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		dst, ok = statesync.ParseFields(dst[:0], e)
		if !ok || len(dst) != 4 {
			b.Fatal("not parsed")
		}
	}
}

// FuzzAppendChanges holds AppendChanges to AppendChange both ways round,
// each after bytes already in the buffers.
func FuzzAppendChanges(f *testing.F) {
	f.Add(player(1, "a", 10, 20), player(1, "a", 12, 19))
	f.Add(player(1, "a", 10, 20), player(1, "ab", 10, 20))
	f.Add(player(1, "a", 10, 20), []byte("not protobuf"))
	f.Add(entity(3, "b", 1, 2, 2, 9), entity(3, "b", 1, 2, 2, 10))
	f.Add([]byte{0x08, 0x80, 0x00}, []byte{0x08, 0x00})
	f.Add([]byte{0x08, 0x01}, []byte{0x10, 0x01})
	f.Fuzz(func(t *testing.T, old, cur []byte) {
		if string(old) == string(cur) {
			return
		}
		var s statesync.Scratch
		wantFwd := statesync.AppendChange([]byte("f"), old, cur, &s)
		wantBack := statesync.AppendChange([]byte("b"), cur, old, &s)
		fwd, back := statesync.AppendChanges([]byte("f"), []byte("b"), old, cur, &s)
		if string(fwd) != string(wantFwd) || string(back) != string(wantBack) {
			t.Fatalf("% x → % x: got % x and % x, want % x and % x", old, cur, fwd, back, wantFwd, wantBack)
		}
	})
}

// arenaPlayer is an entity shaped like the arena's player: seat, name,
// position, velocity (zigzag) and score.
func arenaPlayer(x, y uint64, vx, vy int64) []byte {
	b := player(7, "player-7", x, y)
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(vx))
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	b = protowire.AppendVarint(b, protowire.EncodeZigZag(vy))
	b = protowire.AppendTag(b, 7, protowire.VarintType)
	return protowire.AppendVarint(b, 12)
}

// BenchmarkAppendChanges is what a tick does for each moved player: the
// delta's change and the back record's, from one reading of the two.
func BenchmarkAppendChanges(b *testing.B) {
	old, cur := arenaPlayer(1200, 900, 32, -16), arenaPlayer(1240, 880, 32, -16)
	var s statesync.Scratch
	var fwd, back []byte
	b.ReportAllocs()
	for b.Loop() {
		fwd, back = statesync.AppendChanges(fwd[:0], back[:0], old, cur, &s)
	}
	if len(fwd) == 0 || len(back) == 0 {
		b.Fatal("no change")
	}
}

// appendChangeRef is AppendChange as it was written before its fields were
// read side by side: both entities parsed whole (by protowire's reading),
// the lists compared, the masked fields appended.
func appendChangeRef(b, old, cur []byte) []byte {
	whole := func() []byte {
		b = protowire.AppendVarint(b, statesync.HeadWhole)
		return protowire.AppendBytes(b, cur)
	}
	fo, okO := parseFieldsRef(old)
	fc, okC := parseFieldsRef(cur)
	if !okO || !okC || len(fo) != len(fc) {
		return whole()
	}
	var mask uint64
	for i := range fc {
		o, c := fo[i], fc[i]
		if o.Num != c.Num || o.Type != c.Type {
			return whole()
		}
		if c.Type == protowire.VarintType {
			if o.Varint != c.Varint {
				mask |= 1 << i
			}
		} else if string(old[o.Val:o.End]) != string(cur[c.Val:c.End]) {
			mask |= 1 << i
		}
	}
	if mask == 0 {
		return whole()
	}
	b = protowire.AppendVarint(b, mask+1)
	for i := range fc {
		if mask&(1<<i) == 0 {
			continue
		}
		if c := fc[i]; c.Type == protowire.VarintType {
			b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(c.Varint-fo[i].Varint)))
		} else {
			b = append(b, cur[c.Val:c.End]...)
		}
	}
	return b
}

// FuzzChanges holds AppendChange, which reads the two entities side by
// side and short varints in line, to appendChangeRef, both ways round.
func FuzzChanges(f *testing.F) {
	f.Add(arenaPlayer(1200, 900, 32, -16), arenaPlayer(1240, 880, 32, -16))
	f.Add(arenaPlayer(1200, 900, 32, -16), arenaPlayer(1<<20, 0, 0, -16))
	f.Add(player(1, "a", 10, 20), player(1, "ab", 10, 20))
	f.Add(player(1, "ab", 10, 20), player(1, "ac", 10, 21))
	f.Add(player(1, "a", 10, 20), []byte("not protobuf"))
	f.Add(entity(3, "b", 1, 2, 2, 9), entity(3, "b", 1, 2, 2, 10))
	f.Add([]byte{0x0a, 0x01, 'a'}, []byte{0x0a, 0x01, 'b'})       // lengths to the end
	f.Add([]byte{0x0a, 0x02, 'a'}, []byte{0x0a, 0x01, 'b'})       // one past the end
	f.Add([]byte{0x0a, 0x01, 'a'}, []byte{0x0a, 0x80, 0x01, 'b'}) // a two-byte length
	f.Add([]byte{0x0a}, []byte{0x0a, 0x00})                       // a length's tag alone
	f.Add([]byte{0x08, 0x80, 0x00}, []byte{0x08, 0x00})
	f.Add([]byte{0x08, 0x81, 0x00}, []byte{0x08, 0x01, 0x10, 0x01})
	f.Add([]byte{0x08, 0x01}, []byte{0x10, 0x01})
	f.Add([]byte{0x08, 0x01}, []byte{0x08})
	f.Add([]byte{0x08, 0x81}, []byte{0x08, 0x02})
	f.Add([]byte{0x00, 0x01}, []byte{0x00, 0x02})
	f.Add([]byte{0x88, 0x01, 0x01}, []byte{0x88, 0x01, 0x02})
	f.Add(slices.Repeat([]byte{0x08, 0x01}, statesync.MaxFields), slices.Repeat([]byte{0x08, 0x02}, statesync.MaxFields))
	f.Add(slices.Repeat([]byte{0x08, 0x01}, statesync.MaxFields+1), slices.Repeat([]byte{0x08, 0x02}, statesync.MaxFields+1))
	f.Fuzz(func(t *testing.T, old, cur []byte) {
		if string(old) == string(cur) {
			return
		}
		var s statesync.Scratch
		for _, c := range [][2][]byte{{old, cur}, {cur, old}} {
			got := statesync.AppendChange([]byte("x"), c[0], c[1], &s)
			if want := appendChangeRef([]byte("x"), c[0], c[1]); string(got) != string(want) {
				t.Fatalf("% x → % x: got % x, want % x", c[0], c[1], got, want)
			}
		}
	})
}
