package protocol_test

import (
	"fmt"
	"testing"

	v1 "github.com/tickroom/tickroom/protocol/tickroomv1"
)

// headroom mirrors the transport's frame headroom: the bytes kept free in
// front of the payload for the WebSocket header.
const headroom = 14

func joinedReply() *v1.ServerMessage {
	players := make([]*v1.Player, 4)
	for i := range players {
		players[i] = &v1.Player{Seat: uint32(i), UserId: fmt.Sprintf("g-user%02d", i), Name: fmt.Sprintf("player %d", i), Connected: true}
	}
	return &v1.ServerMessage{RequestId: 7, Body: &v1.ServerMessage_Joined{Joined: &v1.Joined{
		RoomId: "r-8f2c1a", Game: "arena", Seat: 2, TickRate: 20, Players: players,
		Tick: 12345, MaxPlayers: 8,
	}}}
}

// BenchmarkMarshalJoined encodes a reply into a reused buffer with room for
// the WebSocket header in front, the way the server fills a pooled frame.
func BenchmarkMarshalJoined(b *testing.B) {
	m := joinedReply()
	buf := make([]byte, headroom, 1024)
	b.ReportAllocs()
	for b.Loop() {
		n := m.SizeVT()
		buf = buf[:headroom+n]
		if _, err := m.MarshalToSizedBufferVT(buf[headroom:]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf) - headroom))
}

// BenchmarkUnmarshalInput decodes the hottest client message into a reused
// envelope.
func BenchmarkUnmarshalInput(b *testing.B) {
	in := &v1.ClientMessage{Body: &v1.ClientMessage_Input{Input: &v1.Input{RoomId: "r-8f2c1a", Seq: 90210, Data: make([]byte, 16)}}}
	data, err := in.MarshalVT()
	if err != nil {
		b.Fatal(err)
	}
	var m v1.ClientMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m.Reset()
		if err := m.UnmarshalVT(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarshalJoinedAllocs keeps the reply encoding allocation-free.
func TestMarshalJoinedAllocs(t *testing.T) {
	m := joinedReply()
	buf := make([]byte, headroom, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		buf = buf[:headroom+m.SizeVT()]
		if _, err := m.MarshalToSizedBufferVT(buf[headroom:]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("marshal into a sized buffer allocates %v times, want 0", allocs)
	}
	var back v1.ServerMessage
	if err := back.UnmarshalVT(buf[headroom:]); err != nil || !back.EqualVT(m) {
		t.Fatalf("buffer does not hold the message: %v", err)
	}
}
