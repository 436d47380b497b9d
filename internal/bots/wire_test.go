package bots

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tickroom/tickroom/protocol/arenav1"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func TestAppendInputDecodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    uint32
		room   string
		seq    uint32
		dx, dy int32
	}{
		{"no request id", 0, "r1", 1, 1000, -1000},
		{"zero steering", 7, "room-with-a-long-id", 1 << 20, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := appendArenaInput(nil, tc.dx, tc.dy)
			p := appendInput(nil, tc.req, tc.room, tc.seq, data)
			var m tickroomv1.ClientMessage
			if err := m.UnmarshalVT(p); err != nil {
				t.Fatal(err)
			}
			in := m.GetInput()
			if m.RequestId != tc.req || in == nil || in.RoomId != tc.room || in.Seq != tc.seq {
				t.Fatalf("decoded %v", &m)
			}
			var a arenav1.Input
			if err := a.UnmarshalVT(in.Data); err != nil || a.Dx != tc.dx || a.Dy != tc.dy {
				t.Fatalf("arena input %v, %v", &a, err)
			}
		})
	}
}

func stateMsg(t testing.TB, s *tickroomv1.State) []byte {
	p, err := (&tickroomv1.ServerMessage{RequestId: 3, Body: &tickroomv1.ServerMessage_State{State: s}}).MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// patch builds a State.patch with globals g (nil: none), the seats whose
// ack rose by one, and other ack changes as (seat, statesync.AckValue)
// pairs in seat order.
func patch(g []byte, up []uint32, others ...[2]uint64) []byte {
	flags := uint64(statesync.FlagAcks)
	if g != nil {
		flags |= statesync.FlagGlobals
	}
	b := protowire.AppendVarint(nil, flags)
	if g != nil {
		b = protowire.AppendBytes(b, g)
	}
	var set statesync.Bitset
	for _, s := range up {
		set.Set(int(s) - 1)
	}
	b = set.Append(b)
	b = protowire.AppendVarint(b, uint64(len(others)))
	var prev uint64
	for _, o := range others {
		b = protowire.AppendVarint(b, o[0]-prev)
		b = protowire.AppendVarint(b, o[1])
		prev = o[0]
	}
	return b
}

func TestScanState(t *testing.T) {
	st := &tickroomv1.State{
		RoomRef: 4, Tick: 1234, BaseTick: 1233,
		Patch: patch([]byte("g"), []uint32{2}, [2]uint64{1, statesync.AckValue(0, 10)}, [2]uint64{3, statesync.AckValue(5, 0)}),
	}
	p := stateMsg(t, st)
	req, body, isState, ok := scanServer(p)
	if !ok || !isState || req != 3 {
		t.Fatalf("scanServer: req %d state %v ok %v", req, isState, ok)
	}
	for _, tc := range []struct {
		seat   uint32
		base   uint32
		ack    uint32
		hasAck bool
	}{{1, 0, 10, true}, {2, 98, 99, true}, {3, 5, 0, true}, {4, 0, 0, false}} {
		si, ok := scanState(body, tc.seat)
		if !ok || si.tick != 1234 || si.baseTick != 1233 || si.keyframe || si.hasAck != tc.hasAck || !si.hasGlobals || string(si.globals) != "g" ||
			(si.hasAck && statesync.ApplyAck(tc.base, si.ack) != tc.ack) {
			t.Fatalf("seat %d: %+v ok %v", tc.seat, si, ok)
		}
	}
	_, body2, _, _ := scanServer(stateMsg(t, &tickroomv1.State{Tick: 2, Patch: patch(nil, nil, [2]uint64{1, 5})}))
	if si, ok := scanState(body2, 1); !ok || si.hasGlobals {
		t.Fatalf("globals in a patch without them: %+v ok %v", si, ok)
	}
	g, _ := (&gomokuv1.Globals{TurnSeat: 2, Moves: 7, LastMove: 40}).MarshalVT()
	if turn, ok := gomokuTurn(g); !ok || turn != 2 {
		t.Fatalf("gomoku turn %d ok %v, want 2", turn, ok)
	}
	if _, ok := gomokuTurn([]byte{0x08}); ok {
		t.Fatal("truncated globals read")
	}
	other, _ := (&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_Pong{Pong: &tickroomv1.Pong{ServerTimeMs: 5}}}).MarshalVT()
	if _, _, isState, ok := scanServer(other); !ok || isState {
		t.Fatalf("pong scanned as state %v ok %v", isState, ok)
	}
}

func FuzzScanServer(f *testing.F) {
	f.Add(stateMsg(f, &tickroomv1.State{Tick: 5, Keyframe: true, Patch: patch(nil, nil, [2]uint64{1, 5})}))
	f.Add([]byte{0x12, 0x05, 0x10})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		_, body, isState, ok := scanServer(p)
		var m tickroomv1.ServerMessage
		full := m.UnmarshalVT(p) == nil
		if ok && isState && full && m.GetState() != nil {
			si, sok := scanState(body, 1)
			if sok && si.tick != m.GetState().Tick {
				t.Fatalf("tick %d, full decode says %d", si.tick, m.GetState().Tick)
			}
		}
	})
}

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{'a'}, n)
		f := appendFrame(nil, ws.OpBinary, payload, 0x01020304)
		h, err := ws.ReadHeader(bytes.NewReader(f))
		if err != nil || !h.Masked || h.Length != int64(n) || h.OpCode != ws.OpBinary || !h.Fin {
			t.Fatalf("%d: header %+v, %v", n, h, err)
		}
		body := f[len(f)-n:]
		ws.Cipher(body, h.Mask, 0)
		if !bytes.Equal(body, payload) {
			t.Fatalf("%d: payload differs after unmasking", n)
		}
	}
}

func serverFrame(op ws.OpCode, fin bool, payload []byte) []byte {
	var b bytes.Buffer
	_ = ws.WriteHeader(&b, ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload))})
	b.Write(payload)
	return b.Bytes()
}

func FuzzParseFrameHeader(f *testing.F) {
	f.Add(serverFrame(ws.OpBinary, true, []byte("hello")))
	f.Add(serverFrame(ws.OpBinary, true, make([]byte, 300)))
	f.Add(serverFrame(ws.OpClose, true, []byte{0x03, 0xe8}))
	f.Add([]byte{0x82, 0xff, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, p []byte) {
		// Every prefix of a valid header must ask for more, never misparse.
		h, ok, err := parseFrameHeader(p)
		if err != nil || !ok {
			return
		}
		ref, rerr := ws.ReadHeader(bytes.NewReader(p))
		if rerr != nil {
			return
		}
		if h.length != ref.Length || h.op != ref.OpCode || h.fin != ref.Fin {
			t.Fatalf("parsed %+v, gobwas says %+v", h, ref)
		}
		for i := 0; i < h.size; i++ {
			if _, ok, _ := parseFrameHeader(p[:i]); ok {
				t.Fatalf("prefix of %d bytes parsed as complete", i)
			}
		}
	})
}
