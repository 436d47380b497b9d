package game

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// entitySet decodes fuzz bytes into an entity set: each record is an id
// byte, a length byte and that many data bytes.
func entitySet(b []byte) map[uint64][]byte {
	out := map[uint64][]byte{}
	for len(b) >= 2 {
		id, n := uint64(b[0]), int(b[1]%8)
		b = b[2:]
		n = min(n, len(b))
		out[id] = append([]byte(nil), b[:n]...)
		b = b[n:]
	}
	return out
}

func buildSnap(tick uint64, ents map[uint64][]byte, globals []byte, seats uint32) *snap {
	s := &snap{}
	s.reset(tick)
	w := Snapshot{s: s}
	for id, d := range ents {
		w.EntityBytes(id, d)
	}
	w.GlobalsBytes(globals)
	s.seal()
	for seat := uint32(1); seat <= seats; seat++ {
		s.acks = append(s.acks, ack{seat, uint32(tick) * seat})
	}
	return s
}

func decodeState(t *testing.T, b []byte) *tickroomv1.State {
	t.Helper()
	num, typ, n := protowire.ConsumeTag(b)
	if num != fieldServerState || typ != protowire.BytesType {
		t.Fatalf("envelope field %d type %d", num, typ)
	}
	body, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		t.Fatal("envelope length does not match the frame")
	}
	st := &tickroomv1.State{}
	if err := st.UnmarshalVT(body); err != nil {
		t.Fatal(err)
	}
	return st
}

// FuzzDelta: applying the encoded keyframe of any set, then the delta from
// it to any newer set, gives the newer set, its globals and acks.
func FuzzDelta(f *testing.F) {
	f.Add([]byte{1, 1, 'a', 2, 1, 'b'}, []byte{1, 1, 'a', 3, 2, 'c', 'd'}, []byte("g1"), []byte("g2"))
	f.Add([]byte{}, []byte{0, 0, 5, 1, 'x'}, []byte{}, []byte{})
	f.Add([]byte{7, 3, 'a', 'b', 'c'}, []byte{}, []byte("same"), []byte("same"))
	f.Add([]byte{1, 1, 'a', 1, 1, 'b'}, []byte{1, 0}, []byte("x"), []byte(""))
	// Protobuf entities: field 1 varint 5 → 6 (a field delta); field 2 string.
	f.Add([]byte{1, 4, 0x08, 0x05, 0x12, 0x00}, []byte{1, 4, 0x08, 0x06, 0x12, 0x00}, []byte{}, []byte{})
	f.Add([]byte{4, 6, 0x08, 0x05, 0x12, 0x01, 'a', 0x18}, []byte{4, 6, 0x08, 0x7f, 0x12, 0x01, 'b', 0x18}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, a, b, ga, gb []byte) {
		seats := uint32(len(ga)%4) + 1
		base := buildSnap(10, entitySet(a), ga, seats)
		cur := buildSnap(11, entitySet(b), gb, uint32(len(gb)%4)+1)
		var d delta
		var p patcher
		var st statesync.Store
		d.keyframe(base)
		apply(t, &st, encodeState("room", 7, nil, base, &d, &p))
		checkStore(t, &st, base)
		if !d.diff(base, cur) {
			t.Fatal("acks differ, so the delta must report a change")
		}
		apply(t, &st, encodeState("room", 7, base, cur, &d, &p))
		checkStore(t, &st, cur)
		d.keyframe(cur)
		var fresh statesync.Store
		apply(t, &fresh, encodeState("room", 7, nil, cur, &d, &p))
		checkStore(t, &fresh, cur)
	})
}

func apply(t *testing.T, st *statesync.Store, fr *frame.Frame) {
	t.Helper()
	defer fr.Release()
	s := decodeState(t, fr.Payload())
	if s.RoomRef != 7 || (s.Keyframe && s.RoomId != "room") || (!s.Keyframe && s.RoomId != "") {
		t.Fatalf("room_id %q room_ref %d keyframe %v", s.RoomId, s.RoomRef, s.Keyframe)
	}
	if _, err := st.Apply(s.Keyframe, s.Tick, s.BaseTick, s.Patch); err != nil {
		t.Fatal(err)
	}
}

// checkStore fails unless st holds exactly what s holds.
func checkStore(t *testing.T, st *statesync.Store, s *snap) {
	t.Helper()
	if st.Tick() != s.tick {
		t.Fatalf("tick %d, want %d", st.Tick(), s.tick)
	}
	got := st.Entities()
	if len(got) != len(s.ents) {
		t.Fatalf("%d entities, want %d", len(got), len(s.ents))
	}
	for i, e := range s.ents {
		if got[i].ID != e.id {
			t.Fatalf("entity %d: id %d, want %d", i, got[i].ID, e.id)
		}
		if !statesync.SameFields(got[i].Data, s.data(e)) {
			t.Fatalf("entity %d: %x, want %x", e.id, got[i].Data, s.data(e))
		}
	}
	if !bytes.Equal(st.Globals(), s.globals) {
		t.Fatalf("globals %q, want %q", st.Globals(), s.globals)
	}
	acks := st.Acks()
	if len(acks) != len(s.acks) {
		t.Fatalf("acks %v, want %v", acks, s.acks)
	}
	for i, a := range s.acks {
		if acks[i].Seat != a.seat || acks[i].Seq != a.seq {
			t.Fatalf("acks %v, want %v", acks, s.acks)
		}
	}
}
