package protocol_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/tickroom/tickroom/protocol/tickroomv1"
)

// clientSeeds returns one ClientMessage of every kind, with fields set.
func clientSeeds() []*v1.ClientMessage {
	return []*v1.ClientMessage{
		{RequestId: 0, Body: &v1.ClientMessage_Input{Input: &v1.Input{RoomId: "r1", Seq: 42, Data: []byte{1, 2, 3}}}},
		{RequestId: 1, Body: &v1.ClientMessage_Ping{Ping: &v1.Ping{ClientTimeMs: 1234.5, RttMs: 40}}},
		{RequestId: 2, Body: &v1.ClientMessage_ListRooms{ListRooms: &v1.ListRooms{Game: "gomoku", Metadata: map[string]string{"mode": "ranked"}, FreeSeatsOnly: true, Limit: 20, PageToken: "p2"}}},
		{RequestId: 3, Body: &v1.ClientMessage_CreateRoom{CreateRoom: &v1.CreateRoom{Game: "arena", Options: map[string]string{"size": "15"}, Metadata: map[string]string{"region": "eu"}, Password: "pw", MaxPlayers: 4, Private: true, Spectate: true}}},
		{RequestId: 4, Body: &v1.ClientMessage_JoinRoom{JoinRoom: &v1.JoinRoom{RoomId: "r1", Password: "pw", Spectate: true, ResumeTick: 900}}},
		{RequestId: 5, Body: &v1.ClientMessage_QuickMatch{QuickMatch: &v1.QuickMatch{Game: "gomoku", Options: map[string]string{"size": "15"}}}},
		{RequestId: 6, Body: &v1.ClientMessage_LeaveRoom{LeaveRoom: &v1.LeaveRoom{RoomId: "r1"}}},
		{RequestId: 7, Body: &v1.ClientMessage_SendChat{SendChat: &v1.SendChat{RoomId: "r1", Text: "gg", ExcludeSender: true}}},
		{RequestId: 8, Body: &v1.ClientMessage_SendDirect{SendDirect: &v1.SendDirect{ToUserId: "u2", Text: "hi"}}},
		{RequestId: 9, Body: &v1.ClientMessage_JoinChannel{JoinChannel: &v1.JoinChannel{Channel: "general"}}},
		{RequestId: 10, Body: &v1.ClientMessage_LeaveChannel{LeaveChannel: &v1.LeaveChannel{Channel: "general"}}},
		{RequestId: 11, Body: &v1.ClientMessage_BlockUser{BlockUser: &v1.BlockUser{UserId: "u3", Unblock: true}}},
		{RequestId: 12, Body: &v1.ClientMessage_AddFriend{AddFriend: &v1.AddFriend{UserId: "u4", Remove: true}}},
		{RequestId: 13, Body: &v1.ClientMessage_QueryPresence{QueryPresence: &v1.QueryPresence{UserIds: []string{"u2", "u4"}}}},
		{RequestId: 14, Body: &v1.ClientMessage_AnswerFriend{AnswerFriend: &v1.AnswerFriend{UserId: "u5", Accept: true}}},
		{RequestId: 15, Body: &v1.ClientMessage_SendSignal{SendSignal: &v1.SendSignal{ToUserId: "u2", CallId: "c1", Kind: v1.SignalKind_SIGNAL_KIND_OFFER, Data: "v=0"}}},
		{RequestId: 16, Body: &v1.ClientMessage_GetMatchHistory{GetMatchHistory: &v1.GetMatchHistory{UserId: "u2", BeforeId: 77, Limit: 10}}},
		{RequestId: 17, Body: &v1.ClientMessage_GetLeaderboard{GetLeaderboard: &v1.GetLeaderboard{Game: "gomoku", Limit: 5}}},
		{RequestId: 18, Body: &v1.ClientMessage_WatchRooms{WatchRooms: &v1.WatchRooms{WatchId: 1, Game: "gomoku", Metadata: map[string]string{"mode": "ranked"}, FreeSeatsOnly: true, Limit: 50}}},
		{RequestId: 19, Body: &v1.ClientMessage_UnwatchRooms{UnwatchRooms: &v1.UnwatchRooms{WatchId: 1}}},
		{RequestId: 20, Body: &v1.ClientMessage_GetChannelHistory{GetChannelHistory: &v1.GetChannelHistory{Channel: "lobby", Before: 41, Limit: 2}}},
		{RequestId: 21, Body: &v1.ClientMessage_GetWatchPass{GetWatchPass: &v1.GetWatchPass{RoomId: "r1"}}},
	}
}

// TestClientSeedsCoverEveryKind fails when a ClientMessage kind is added
// without a seed, so the fuzz corpus keeps up with the schema.
func TestClientSeedsCoverEveryKind(t *testing.T) {
	covered := make(map[protoreflect.Name]bool)
	for _, m := range clientSeeds() {
		r := m.ProtoReflect()
		f := r.WhichOneof(r.Descriptor().Oneofs().ByName("body"))
		if f == nil {
			t.Fatalf("seed with request id %d has no body", m.RequestId)
		}
		covered[f.Name()] = true
	}
	fields := (&v1.ClientMessage{}).ProtoReflect().Descriptor().Oneofs().ByName("body").Fields()
	for i := range fields.Len() {
		if name := fields.Get(i).Name(); !covered[name] {
			t.Errorf("no seed for ClientMessage.%s", name)
		}
	}
}

// TestClientMessageRoundTrip checks every kind survives vtproto marshal and
// unmarshal unchanged, and that vtproto and the reflection-based codec agree
// on the bytes.
func TestClientMessageRoundTrip(t *testing.T) {
	for _, want := range clientSeeds() {
		t.Run(string(want.ProtoReflect().WhichOneof(want.ProtoReflect().Descriptor().Oneofs().ByName("body")).Name()), func(t *testing.T) {
			b, err := want.MarshalVT()
			if err != nil {
				t.Fatal(err)
			}
			var got v1.ClientMessage
			if err := got.UnmarshalVT(b); err != nil {
				t.Fatal(err)
			}
			if !got.EqualVT(want) {
				t.Fatalf("round trip changed the message:\n got %v\nwant %v", &got, want)
			}
			var std v1.ClientMessage
			if err := proto.Unmarshal(b, &std); err != nil {
				t.Fatalf("reflection codec rejects vtproto bytes: %v", err)
			}
			if !proto.Equal(&std, want) {
				t.Fatalf("reflection codec decodes differently:\n got %v\nwant %v", &std, want)
			}
		})
	}
}

// FuzzClientMessage feeds arbitrary bytes to the decoder the server runs on
// every client frame. It must never panic, and whatever it accepts must
// re-encode to a message that decodes to the same value. "The same" is
// proto.Equal's: a NaN double equals a NaN. A Ping's client_time_ms may be
// any double the client sends, and the generated EqualVT compares doubles
// with ==, which calls a NaN different from itself
// (testdata/fuzz/FuzzClientMessage/ping-nan-client-time).
func FuzzClientMessage(f *testing.F) {
	for _, m := range clientSeeds() {
		b, err := m.MarshalVT()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2]) // truncated mid-field
	}
	f.Add([]byte{})
	f.Add([]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f})                                     // input with a 4 GiB length
	f.Add([]byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}) // varint overflow
	f.Add([]byte{0x0b, 0x0c})                                                             // group wire types
	f.Add([]byte{0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00})                                     // unknown high field
	f.Fuzz(func(t *testing.T, data []byte) {
		var m v1.ClientMessage
		if err := m.UnmarshalVT(data); err != nil {
			return
		}
		b, err := m.MarshalVT()
		if err != nil {
			t.Fatalf("accepted message does not re-encode: %v", err)
		}
		var again v1.ClientMessage
		if err := again.UnmarshalVT(b); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !proto.Equal(&again, &m) {
			t.Fatalf("re-encoding changed the message:\n got %v\nwant %v", &again, &m)
		}
	})
}
