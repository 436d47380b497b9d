package hub

import (
	"bytes"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestInputFieldNumbersMatchTheSchema(t *testing.T) {
	cm := (&tickroomv1.ClientMessage{}).ProtoReflect().Descriptor().Fields()
	in := (&tickroomv1.Input{}).ProtoReflect().Descriptor().Fields()
	for _, tc := range []struct {
		fields protoreflect.FieldDescriptors
		name   protoreflect.Name
		want   int
	}{
		{cm, "request_id", fieldRequestID},
		{cm, "input", fieldInput},
		{in, "room_id", fieldRoomID},
		{in, "seq", fieldSeq},
		{in, "data", fieldData},
	} {
		if got := int(tc.fields.ByName(tc.name).Number()); got != tc.want {
			t.Errorf("%s is field %d in the schema, %d in parseInput", tc.name, got, tc.want)
		}
	}
}

func inputBytes(id uint32, room string, seq uint32, data []byte) []byte {
	b, _ := (&tickroomv1.ClientMessage{RequestId: id, Body: &tickroomv1.ClientMessage_Input{
		Input: &tickroomv1.Input{RoomId: room, Seq: seq, Data: data},
	}}).MarshalVT()
	return b
}

// FuzzParseInput checks the allocation-free Input decoder against the
// generated one: whenever it accepts bytes, the full decoder must accept
// them too and read the same fields.
func FuzzParseInput(f *testing.F) {
	f.Add(inputBytes(0, "room1", 1, []byte{1, 2, 3}))
	f.Add(inputBytes(7, "", 0, nil))
	f.Add(inputBytes(1<<31, "r", 1<<32-1, bytes.Repeat([]byte{9}, 300)))
	ping, _ := (&tickroomv1.ClientMessage{RequestId: 2, Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 3}}}).MarshalVT()
	f.Add(ping)
	f.Add(append(inputBytes(1, "a", 1, nil), inputBytes(0, "b", 2, nil)...)) // two inputs: merged by protobuf
	f.Add([]byte{0x12, 0x02, 0x08})                                          // truncated
	f.Add([]byte{0x12, 0x03, 0x98, 0x06, 0x01})                              // unknown field inside Input
	f.Fuzz(func(t *testing.T, p []byte) {
		in, ok := parseInput(p)
		if !ok {
			return
		}
		var m tickroomv1.ClientMessage
		if err := m.UnmarshalVT(p); err != nil {
			t.Fatalf("parseInput accepted what UnmarshalVT refuses: %v", err)
		}
		got := m.GetInput()
		if got == nil || m.RequestId != in.requestID || got.RoomId != string(in.roomID) || got.Seq != in.seq || !bytes.Equal(got.Data, in.data) {
			t.Fatalf("parseInput read %+v, UnmarshalVT read %v", in, &m)
		}
	})
}

type nopGame struct{}

func (nopGame) Accept(*game.Context, game.Player) error            { return nil }
func (nopGame) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (nopGame) Input(*game.Context, uint32, []byte) error          { return nil }
func (nopGame) Update(*game.Context, time.Duration)                {}
func (nopGame) Encode(*game.Snapshot)                              {}

type nopClient struct{}

func (nopClient) Congested() bool { return false }

// BenchmarkInputDispatch measures what the loop does per input message:
// decode, find the membership, and queue into the room's inbox.
func BenchmarkInputDispatch(b *testing.B) {
	reg := game.NewRegistry()
	_ = reg.Register(game.Definition{Name: "nop", New: func(game.Setup) (game.Game, error) { return nopGame{}, nil }, InputRate: 1 << 30})
	clock := game.NewManualClock(time.Unix(0, 0))
	rt, err := game.NewRuntime(game.Config{Registry: reg, Clock: clock, InboxSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	room, err := rt.CreateRoom(game.RoomOptions{Game: "nop"})
	if err != nil {
		b.Fatal(err)
	}
	h := &Hub{cfg: Config{}.withDefaults()}
	s := &Session{h: h}
	// The seat is the session's: the room takes input only from the
	// connection its seat was joined on (Room.InputFrom).
	var seat uint32
	_ = room.Join(game.JoinRequest{UserID: "u", Client: s}, func(r game.JoinResult) { seat = r.Seat })
	_ = rt.Advance(time.Second)
	if seat == 0 {
		b.Fatal("join not confirmed")
	}
	s.rooms = []membership{{room: room, id: room.ID(), seat: seat}}
	msg := inputBytes(0, room.ID(), 1, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	i := 0
	for b.Loop() {
		s.handle(msg, false)
		if i++; i%200 == 0 {
			b.StopTimer()
			_ = rt.Advance(time.Second / 20) // drain the inbox
			b.StartTimer()
		}
	}
	if got := h.stats.Inputs.Load(); got == 0 || h.stats.InputsRefused.Load() != 0 {
		b.Fatalf("inputs queued %d, refused %d", got, h.stats.InputsRefused.Load())
	}
}
