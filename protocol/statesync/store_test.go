package statesync_test

import (
	"bytes"
	"errors"
	"slices"
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
