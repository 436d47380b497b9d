package game

import (
	"bytes"
	"maps"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

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

func buildSnap(tick uint64, ents map[uint64][]byte, globals []byte) *snap {
	s := &snap{}
	s.reset(tick)
	w := Snapshot{s: s}
	for id, d := range ents {
		w.EntityBytes(id, d)
	}
	w.GlobalsBytes(globals)
	s.seal()
	s.acks = appendAck(s.acks, 1, uint32(tick))
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

// FuzzDelta: applying the encoded delta from any base to any newer set
// gives the newer set, and the keyframe gives it too.
func FuzzDelta(f *testing.F) {
	f.Add([]byte{1, 1, 'a', 2, 1, 'b'}, []byte{1, 1, 'a', 3, 2, 'c', 'd'}, []byte("g1"), []byte("g2"))
	f.Add([]byte{}, []byte{0, 0, 5, 1, 'x'}, []byte{}, []byte{})
	f.Add([]byte{7, 3, 'a', 'b', 'c'}, []byte{}, []byte("same"), []byte("same"))
	f.Add([]byte{1, 1, 'a', 1, 1, 'b'}, []byte{1, 0}, []byte("x"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b, ga, gb []byte) {
		base := buildSnap(10, entitySet(a), ga)
		cur := buildSnap(11, entitySet(b), gb)
		want := map[uint64]string{}
		for _, e := range cur.ents {
			want[e.id] = string(cur.data(e))
		}
		var d delta
		changed := d.diff(base, cur)
		if !changed {
			t.Fatal("acks differ, so the delta must report a change")
		}
		fr := encodeState("room", base, cur, &d)
		defer fr.Release()
		st := decodeState(t, fr.Payload())
		got := map[uint64]string{}
		for _, e := range base.ents {
			got[e.id] = string(base.data(e))
		}
		for _, id := range st.Removed {
			delete(got, id)
		}
		for _, e := range st.Upserts {
			got[e.Id] = string(e.Data)
		}
		if !maps.Equal(got, want) || st.BaseTick != 10 || st.Tick != 11 || st.Keyframe {
			t.Fatalf("delta gives %v, want %v (state %v)", got, want, st)
		}
		globals := ga
		if st.GlobalsSet {
			globals = st.Globals
		}
		if !bytes.Equal(globals, gb) {
			t.Fatalf("globals %q, want %q", globals, gb)
		}
		d.keyframe(cur)
		kf := encodeState("room", nil, cur, &d)
		defer kf.Release()
		ks := decodeState(t, kf.Payload())
		got = map[uint64]string{}
		for _, e := range ks.Upserts {
			got[e.Id] = string(e.Data)
		}
		if !maps.Equal(got, want) || !ks.Keyframe || !ks.GlobalsSet || !bytes.Equal(ks.Globals, gb) || len(ks.Acks) != 1 {
			t.Fatalf("keyframe %v, want %v", ks, want)
		}
	})
}
