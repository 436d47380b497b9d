package statesync_test

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/protocol/statesync"
)

// player encodes a message like arena's Player: seat 1, name 2, x 3, y 4.
func player(seat uint64, name string, x, y uint64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, seat)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, x)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	return protowire.AppendVarint(b, y)
}

// keyframe builds a keyframe patch of ents (ascending ids), globals and
// acks for seats 1..len(acks).
func keyframe(ents []statesync.Entity, globals []byte, acks []uint32) []byte {
	b := protowire.AppendVarint(nil, statesync.FlagGlobals|statesync.FlagAcks|statesync.FlagAdded)
	b = protowire.AppendBytes(b, globals)
	b = append(b, 0) // no ack rose by one
	b = protowire.AppendVarint(b, uint64(len(acks)))
	for _, q := range acks {
		b = protowire.AppendVarint(b, 1) // seat gap
		b = protowire.AppendVarint(b, statesync.AckValue(0, q))
	}
	b = protowire.AppendVarint(b, uint64(len(ents)))
	var prev uint64
	for _, e := range ents {
		b = protowire.AppendVarint(b, e.ID-prev)
		prev = e.ID
		b = protowire.AppendBytes(b, e.Data)
	}
	return b
}

func TestFieldDelta(t *testing.T) {
	var st statesync.Store
	p1 := player(1, "ann", 1000, 2000)
	wall := []byte("not protobuf \xff")
	if _, err := st.Apply(true, 5, 0, keyframe([]statesync.Entity{{ID: 1, Data: p1}, {ID: 9, Data: wall}}, []byte("g"), []uint32{3})); err != nil {
		t.Fatal(err)
	}
	// Player 1 moves by +40, -25: two one-byte field deltas.
	p2 := player(1, "ann", 1040, 1975)
	var sc statesync.Scratch
	change := statesync.AppendChange(nil, p1, p2, &sc)
	if want := []byte{1<<2 | 1<<3 + 1, 80, 49}; !bytes.Equal(change, want) {
		t.Fatalf("change % x, want % x", change, want)
	}
	var set statesync.Bitset
	set.Set(0)
	patch := set.Append([]byte{statesync.FlagChanged})
	patch = append(patch, change...)
	res, err := st.Apply(false, 6, 5, patch)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Get(1); !bytes.Equal(got, p2) || !slices.Equal(res.Upserted, []uint64{1}) || res.GlobalsChanged {
		t.Fatalf("player % x, want % x (result %+v)", got, p2, res)
	}
	if got, _ := st.Get(9); !bytes.Equal(got, wall) {
		t.Fatalf("wall changed: %q", got)
	}
	// A field appears (the name is longer, a new field 5): sent whole.
	p3 := append(player(1, "ann2", 1040, 1975), 0x28, 1)
	if change := statesync.AppendChange(nil, p2, p3, &sc); change[0] != statesync.HeadWhole {
		t.Fatalf("structure change sent as % x", change)
	}
	// The ack goes down (a new player in seat 1) and the wall leaves.
	set.Reset()
	set.Set(1)
	patch = protowire.AppendVarint(nil, statesync.FlagAcks|statesync.FlagChanged)
	patch = append(patch, 0, 1, 1) // no ack rose by one; one other: seat 1
	patch = protowire.AppendVarint(patch, statesync.AckValue(3, 1))
	patch = set.Append(patch)
	patch = append(patch, statesync.HeadRemoved)
	res, err = st.Apply(false, 8, 6, patch)
	if err != nil {
		t.Fatal(err)
	}
	if seq, _ := st.AckFor(1); seq != 1 || !slices.Equal(res.Removed, []uint64{9}) || len(st.Entities()) != 1 {
		t.Fatalf("ack %d, result %+v", seq, res)
	}
}

func TestRefusals(t *testing.T) {
	var st statesync.Store
	if _, err := st.Apply(false, 2, 1, []byte{0}); !errors.Is(err, statesync.ErrNoKeyframe) {
		t.Fatalf("delta first: %v", err)
	}
	if _, err := st.Apply(true, 2, 0, keyframe(nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(false, 4, 3, []byte{0}); !errors.Is(err, statesync.ErrBaseMismatch) {
		t.Fatalf("wrong base: %v", err)
	}
	for name, p := range map[string][]byte{
		"unknown flag":         {0x10},
		"truncated globals":    {statesync.FlagGlobals, 5, 'a'},
		"change past entities": {statesync.FlagChanged, 1, 1, statesync.HeadRemoved},
		"trailing bytes":       {0, 0},
		"duplicate added id":   {statesync.FlagAdded, 2, 3, 0, 0, 0},
	} {
		if _, err := st.Apply(false, 3, 2, p); !errors.Is(err, statesync.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st.Tick() != 2 || len(st.Entities()) != 0 {
		t.Fatalf("a refused patch changed the store: tick %d", st.Tick())
	}
}

// FuzzApply: no patch makes Apply panic; a refused patch leaves the store
// as it was, and an accepted one keeps entities sorted by id, unique.
func FuzzApply(f *testing.F) {
	kf := keyframe([]statesync.Entity{{ID: 1, Data: player(1, "a", 10, 20)}, {ID: 5, Data: []byte("w")}}, []byte("g"), []uint32{4, 0, 2})
	f.Add(kf, []byte{statesync.FlagChanged, 1, 1, 13, 2, 3})
	f.Add(kf, []byte{statesync.FlagChanged | statesync.FlagAdded, 1, 2, statesync.HeadRemoved, 1, 7, 1, 'x'})
	f.Add(kf, []byte{statesync.FlagAcks, 1, 5, 1, 3, 0})
	f.Add(kf, []byte{statesync.FlagAcks, 0, 2, 1, 3, 2, 0})
	f.Add(kf, []byte{statesync.FlagChanged, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, k, d []byte) {
		var st statesync.Store
		if _, err := st.Apply(true, 1, 0, k); err != nil {
			return
		}
		check(t, &st)
		before := slices.Clone(st.Entities())
		prev := slices.Clone(st.Acks())
		res, err := st.Apply(false, 2, 1, d)
		if err != nil {
			if st.Tick() != 1 || !slices.EqualFunc(before, st.Entities(), func(a, b statesync.Entity) bool { return a.ID == b.ID && bytes.Equal(a.Data, b.Data) }) {
				t.Fatal("a refused delta changed the store")
			}
			return
		}
		check(t, &st)
		// ScanAck, as the bots use it, agrees with Apply for changed seats.
		for _, a := range res.Acks {
			v, ok, err := statesync.ScanAck(d, a.Seat)
			var base uint32
			for _, p := range prev {
				if p.Seat == a.Seat {
					base = p.Seq
				}
			}
			if err != nil || !ok || statesync.ApplyAck(base, v) != a.Seq {
				t.Fatalf("ScanAck seat %d: %d %v %v, Apply gave %d", a.Seat, v, ok, err, a.Seq)
			}
		}
	})
}

func check(t *testing.T, st *statesync.Store) {
	t.Helper()
	ents := st.Entities()
	for i := 1; i < len(ents); i++ {
		if ents[i-1].ID >= ents[i].ID {
			t.Fatalf("entities out of order: %d then %d", ents[i-1].ID, ents[i].ID)
		}
	}
}

// TestAppendApplied: a change AppendChange or AppendWhole writes, applied
// to the old bytes, gives the new bytes exactly, and says how much of the
// input it read; a change that does not fit the old bytes is refused and
// leaves dst as it was.
func TestAppendApplied(t *testing.T) {
	tests := []struct {
		name     string
		old, cur []byte
		whole    bool
	}{
		{"moved", player(1, "ann", 1000, 2000), player(1, "ann", 1040, 1975), false},
		{"to zero and far", player(1, "ann", 1<<40, 0), player(1, "ann", 0, 1<<62), false},
		{"renamed", player(1, "ann", 1, 2), player(1, "bob", 1, 2), false},
		{"new field", player(1, "ann", 1, 2), append(player(1, "ann", 1, 2), 0x28, 1), false},
		{"fixed fields", protowire.AppendFixed64(protowire.AppendFixed32([]byte{0x0d}, 7), 8), protowire.AppendFixed64(protowire.AppendFixed32([]byte{0x0d}, 9), 8), false},
		{"not protobuf", []byte("\xff\xff"), []byte("\xfe"), false},
		{"appeared", nil, player(2, "cy", 5, 6), true},
		{"emptied", player(2, "cy", 5, 6), nil, true},
	}
	var sc statesync.Scratch
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var change []byte
			if tt.whole {
				change = statesync.AppendWhole(nil, tt.cur)
			} else {
				change = statesync.AppendChange(nil, tt.old, tt.cur, &sc)
			}
			in := append(slices.Clone(change), "next"...)
			got, n, err := statesync.AppendApplied([]byte("pre"), tt.old, in, &sc)
			if err != nil || n != len(change) || !bytes.Equal(got, append([]byte("pre"), tt.cur...)) {
				t.Fatalf("applied % x (read %d of %d, %v), want pre+% x", got, n, len(change), err, tt.cur)
			}
		})
	}
	moved := statesync.AppendChange(nil, player(1, "ann", 1, 2), player(1, "ann", 3, 2), &sc)
	renamed := statesync.AppendChange(nil, player(1, "ann", 1, 2), player(1, "bob", 1, 2), &sc)
	for _, tt := range []struct {
		name        string
		old, change []byte
	}{
		{"removed", []byte{0x08, 1}, []byte{statesync.HeadRemoved}},
		{"mask beyond the fields", []byte{0x08, 1}, moved},
		{"old not protobuf", []byte{0xff}, moved},
		{"whole cut short", nil, statesync.AppendWhole(nil, []byte("abc"))[:3]},
		{"field cut short", player(1, "ann", 1, 2), renamed[:len(renamed)-1]},
		{"varint cut short", player(1, "ann", 1, 2), []byte{1<<2 + 1, 0x80}},
		{"head cut short", nil, []byte{0x80}},
		{"empty", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := statesync.AppendApplied([]byte("pre"), tt.old, tt.change, &sc)
			if !errors.Is(err, statesync.ErrMalformed) || n != 0 || string(got) != "pre" {
				t.Fatalf("got %q, read %d, err %v; want pre, 0, ErrMalformed", got, n, err)
			}
		})
	}
}

// entity encodes an entity message for TestAppendAppliedRoundTrip: an
// id, a name, a position, and from shape 1 up a fixed32 and a fixed64;
// shape 3 is bytes that are not protobuf.
func entity(id uint64, name string, x, y uint64, shape int, hp uint32) []byte {
	if shape == 3 {
		return append([]byte{0xff, byte(id)}, name...)
	}
	b := player(id, name, x, y)
	if shape >= 1 {
		b = protowire.AppendTag(b, 5, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, hp)
	}
	if shape >= 2 {
		b = protowire.AppendTag(b, 6, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, uint64(hp)<<32|uint64(id))
	}
	return b
}

// TestAppendAppliedRoundTrip packs, tick after tick, every entity that
// changed into one buffer (its id's step from the last, then its change
// from the last state's bytes, or whole when it is new), as a room keeps
// its old states, and rebuilds the state from the last one and that
// buffer with AppendApplied: it must be the new state byte for byte, and
// a tick where a few entities move must cost a few bytes each.
func TestAppendAppliedRoundTrip(t *testing.T) {
	type ent struct {
		name      string
		x, y      uint64
		shape     int
		hp        uint32
		withdrawn bool
	}
	rng := rand.New(rand.NewPCG(11, 7))
	ents := make([]ent, 40)
	for i := range ents {
		ents[i] = ent{name: "e" + strconv.Itoa(i), x: rng.Uint64N(1 << 20), y: rng.Uint64N(1 << 20), shape: i % 4}
	}
	encode := func() map[uint64][]byte {
		st := map[uint64][]byte{}
		for i, e := range ents {
			if !e.withdrawn {
				st[uint64(i)*7] = entity(uint64(i)*7, e.name, e.x, e.y, e.shape, e.hp)
			}
		}
		return st
	}
	var sc statesync.Scratch
	var packed, dst []byte
	last := encode()
	for tick := range 300 {
		moves := tick%10 != 0
		for range 1 + rng.IntN(5) {
			e := &ents[rng.IntN(len(ents))]
			switch k := rng.IntN(10); {
			case !moves && k == 0:
				e.withdrawn = !e.withdrawn
			case !moves && k == 1:
				e.shape = rng.IntN(4)
			case !moves && k == 2:
				e.name += "x"
			case k < 6:
				e.x += uint64(rng.IntN(64))
				e.y -= uint64(rng.IntN(64)) // wraps past 0 to a 10-byte varint
			default:
				e.hp = rng.Uint32()
			}
		}
		cur := encode()
		ids := slices.Sorted(maps.Keys(cur))
		packed = packed[:0]
		var prev uint64
		changed := 0
		for _, id := range ids {
			old, had := last[id]
			switch {
			case !had:
				packed = statesync.AppendWhole(protowire.AppendVarint(packed, id-prev), cur[id])
			case !bytes.Equal(old, cur[id]):
				packed = statesync.AppendChange(protowire.AppendVarint(packed, id-prev), old, cur[id], &sc)
			default:
				continue
			}
			prev = id
			changed++
		}
		got := map[uint64][]byte{}
		for id, b := range last {
			if _, ok := cur[id]; ok {
				got[id] = b // unchanged unless the buffer says otherwise
			}
		}
		dst = dst[:0]
		p, id := packed, uint64(0)
		for len(p) > 0 {
			step, n := protowire.ConsumeVarint(p)
			if n < 0 {
				t.Fatalf("tick %d: bad id step", tick)
			}
			id += step
			off := len(dst)
			var err error
			dst, n, err = statesync.AppendApplied(dst, last[id], p[n:], &sc)
			if err != nil {
				t.Fatalf("tick %d: entity %d: %v", tick, id, err)
			}
			p = p[protowire.SizeVarint(step)+n:]
			got[id] = dst[off:]
		}
		if len(got) != len(cur) {
			t.Fatalf("tick %d: %d entities, want %d", tick, len(got), len(cur))
		}
		for id, b := range cur {
			if !bytes.Equal(got[id], b) {
				t.Fatalf("tick %d: entity %d is % x, want % x", tick, id, got[id], b)
			}
		}
		if moves && changed > 0 && len(packed) > 16*changed {
			t.Errorf("tick %d: %d moved entities packed in %d bytes", tick, changed, len(packed))
		}
		last = cur
	}
}

// FuzzAppendApplied reads change as a buffer of changes back to back, as
// a room's old states are kept, each applied to old: none makes
// AppendApplied panic, read past the change it reports, read bytes after
// it, or append more than old, the change and 9 bytes a field of old; a
// refused one leaves dst as it was. And the change AppendChange writes
// from old to cur, followed by cur whole, applies back to cur.
func FuzzAppendApplied(f *testing.F) {
	f.Add(player(1, "a", 10, 20), player(1, "a", 12, 19), []byte{5, 4, 3})
	f.Add(player(1, "a", 10, 20), player(1, "a", 12, 19), []byte{1<<2 | 1<<3 + 1, 4, 3, 1<<2 + 1, 0x80})
	f.Add([]byte("w"), []byte("x"), []byte{statesync.HeadWhole, 1, 'y', statesync.HeadWhole, 0})
	f.Add(player(1, "a", 10, 20), player(1, "ab", 10, 20), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(player(1, "a", 10, 20), player(1, "a", 10, 20), []byte{1<<1 + 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'})
	f.Add(entity(3, "b", 1, 2, 2, 9), entity(3, "b", 1, 2, 2, 10), []byte{1<<4 + 1, 1, 2, 3, 4, statesync.HeadRemoved})
	f.Add([]byte{0x08, 0x80, 0x80, 0x00}, []byte{0x08, 0x01}, []byte{2, 2})
	f.Fuzz(func(t *testing.T, old, cur, change []byte) {
		var sc statesync.Scratch
		dst := []byte("pre")
		for p := change; len(p) > 0; {
			got, n, err := statesync.AppendApplied(dst, old, p, &sc)
			if err != nil {
				if n != 0 || !bytes.Equal(got, dst) {
					t.Fatalf("refused change read %d and left % x of % x", n, got, dst)
				}
				break
			}
			if n <= 0 || n > len(p) {
				t.Fatalf("read %d of %d", n, len(p))
			}
			if max := len(dst) + len(old) + n + 9*statesync.MaxFields; len(got) > max {
				t.Fatalf("appended %d bytes from %d of old and %d of change", len(got)-len(dst), len(old), n)
			}
			alone, m, err := statesync.AppendApplied(nil, old, p[:n:n], &sc)
			if err != nil || m != n || !bytes.Equal(alone, got[len(dst):]) {
				t.Fatalf("the change alone gave % x (%d, %v), with what follows % x", alone, m, err, got[len(dst):])
			}
			dst, p = got, p[n:]
		}
		if bytes.Equal(old, cur) {
			return
		}
		c := statesync.AppendChange(nil, old, cur, &sc)
		c = statesync.AppendWhole(c, cur)
		got, n, err := statesync.AppendApplied(nil, old, c, &sc)
		if err != nil {
			t.Fatalf("own change refused: %v", err)
		}
		// Equal bytes unless old or cur encodes a varint or a length in
		// more bytes than it needs: a change carries values, not their
		// encoding (as a client's Store applies it).
		if !statesync.SameFields(got, cur) {
			t.Fatalf("change from % x gave % x, want % x", old, got, cur)
		}
		whole, m, err := statesync.AppendApplied(nil, old, c[n:], &sc)
		if err != nil || m != len(c)-n || !bytes.Equal(whole, cur) {
			t.Fatalf("whole change gave % x (%v), want % x", whole, err, cur)
		}
	})
}
