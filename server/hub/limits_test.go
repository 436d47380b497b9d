package hub_test

import (
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// TestOversizedFieldsAreRefusedAndNothingIsStored sends oversized fields:
// 60 KB user ids to AddFriend and BlockUser, and other
// fields over their declared limits (protocol/limits.md). Each gets a typed
// Error naming the field, the connection stays open, and nothing is
// stored: the two-entry contact lists still take two real ids afterwards,
// and no room was created.
func TestOversizedFieldsAreRefusedAndNothingIsStored(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.MaxListSize = 2 }})
	a, _ := e.connect("ann")
	huge := strings.Repeat("x", 60<<10)
	meta := map[string]string{}
	for i := range 17 {
		meta["k"+strconv.Itoa(i)] = "v"
	}
	create := func(cr *tickroomv1.CreateRoom) *tickroomv1.ClientMessage {
		cr.Game = "tally"
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: cr}}
	}
	tooMany := make([]string, 257)
	for i := range tooMany {
		tooMany[i] = "u" + strconv.Itoa(i)
	}
	bad, badOptions := BadRequest, tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS
	for _, tc := range []struct {
		name, field string
		msg         *tickroomv1.ClientMessage
		want        tickroomv1.ErrorCode
	}{
		{"60 KB friend id", "add_friend.user_id", addFriend(huge), bad},
		{"60 KB blocked id", "block_user.user_id", block(huge, false), bad},
		{"129-byte friend id", "add_friend.user_id", addFriend(strings.Repeat("y", 129)), bad},
		{"60 KB unblock", "block_user.user_id", block(huge, true), bad},
		{"60 KB direct recipient", "send_direct.to_user_id", direct(huge, "hi"), bad},
		{"17 metadata entries", "create_room.metadata", create(&tickroomv1.CreateRoom{Metadata: meta}), badOptions},
		{"metadata value of 257 bytes", "create_room.metadata", create(&tickroomv1.CreateRoom{Metadata: map[string]string{"k": strings.Repeat("v", 257)}}), badOptions},
		{"metadata key of 65 bytes", "create_room.metadata", create(&tickroomv1.CreateRoom{Metadata: map[string]string{strings.Repeat("k", 65): "v"}}), badOptions},
		{"options of 60 KB", "create_room.options", create(&tickroomv1.CreateRoom{Options: map[string]string{"o": huge}}), badOptions},
		{"17 metadata entries in a filter", "list_rooms.metadata", &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Metadata: meta}}}, bad},
		{"password of 129 bytes", "create_room.password", create(&tickroomv1.CreateRoom{Password: strings.Repeat("p", 129)}), bad},
		{"60 KB channel name", "join_channel.channel", joinChannel(huge), bad},
		{"60 KB chat line", "send_chat.text", channelChat("general", huge), tickroomv1.ErrorCode_ERROR_CODE_MESSAGE_TOO_LONG},
		{"257 presence ids", "query_presence.user_ids", queryPresence(tooMany...), bad},
		{"60 KB presence id", "query_presence.user_ids", queryPresence(huge), bad},
		{"60 KB room id to join", "join_room.room_id", joinRoom(huge, 0), bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := a.Request(tc.msg)
			if got := errCode(t, m); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if msg := m.GetError().GetMessage(); !strings.Contains(msg, tc.field) || len(msg) > 200 {
				t.Fatalf("error message %q does not name %s briefly", msg, tc.field)
			}
		})
	}
	// Requests without an id get no reply, and store nothing either.
	for range 10 {
		m := addFriend(huge)
		m.RequestId = 0
		a.Send(m)
		m = block(huge, false)
		m.RequestId = 0
		a.Send(m)
	}
	// Nothing was stored: both lists take their two entries.
	ok(t, a.Request(addFriend("u1")))
	ok(t, a.Request(addFriend("u2")))
	ok(t, a.Request(block("u1", false)))
	ok(t, a.Request(block("u2", false)))
	list := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}}).GetRoomList()
	if list == nil || len(list.Rooms) != 0 {
		t.Fatalf("rooms after refused creates: %v", list)
	}
	// At the limits, fields pass.
	max := create(&tickroomv1.CreateRoom{Password: strings.Repeat("p", 128), Metadata: map[string]string{strings.Repeat("k", 64): strings.Repeat("v", 256)}})
	if j := joined(t, a.Request(max)); j.RoomId == "" {
		t.Fatal("room at the limits not created")
	}
}

// BadRequest is the error of a field over its limit.
const BadRequest = tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST

// TestRequestsWithoutAnIDGetNoReply: a request sent with request_id 0
// gets no reply at all (ClientMessage.request_id), also those whose reply
// is not Ok: JoinChannel (ChatHistory) and QueryPresence (PresenceList).
// The join itself still happens.
func TestRequestsWithoutAnIDGetNoReply(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	for _, m := range []*tickroomv1.ClientMessage{
		joinChannel("general"),
		queryPresence("bob", "cy"),
		{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}},
		{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}},
	} {
		a.Write(m)
	}
	pong := a.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	a.Next(func(m *tickroomv1.ServerMessage) bool {
		if m.RequestId == pong {
			return true
		}
		t.Errorf("a request without an id was answered: %v", m)
		return false
	})
	// ann joined the channel: its lines reach her.
	ok(t, a.Request(channelChat("general", "hi")))
	if c := a.Next(isKind[*tickroomv1.ServerMessage_Chat]).GetChat(); c.Text != "hi" {
		t.Fatalf("chat: %v", c)
	}
}

// TestInputsOverTheirLimitsAreRefusedByName: an Input is read by a fast
// path of its own, which still holds it to its declared limits
// (protocol/limits.md): a room id over 128 bytes is ERROR_CODE_BAD_REQUEST
// and data over 4096 bytes ERROR_CODE_INPUT_TOO_LARGE, each naming the
// field, also from a player seated in a room that takes larger inputs.
func TestInputsOverTheirLimitsAreRefusedByName(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Runtime.MaxInputSize = 8192 }})
	a, _ := e.connect("ann")
	room := joined(t, a.Request(quickMatch("tally"))).RoomId
	for _, tc := range []struct {
		name, field string
		msg         *tickroomv1.ClientMessage
		want        tickroomv1.ErrorCode
	}{
		{"129-byte room id", "input.room_id", input(strings.Repeat("r", 129), 1, []byte("+")), BadRequest},
		{"4097 bytes of data, not seated", "input.data", input("elsewhere", 1, make([]byte, 4097)), tickroomv1.ErrorCode_ERROR_CODE_INPUT_TOO_LARGE},
		{"5000 bytes of data, seated", "input.data", input(room, 1, make([]byte, 5000)), tickroomv1.ErrorCode_ERROR_CODE_INPUT_TOO_LARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.Send(tc.msg)
			ping := a.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
			m := a.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == tc.msg.RequestId || m.RequestId == ping })
			if m.RequestId == ping {
				t.Fatalf("accepted")
			}
			if got := errCode(t, m); got != tc.want {
				t.Fatalf("got %v (%q), want %v", got, m.GetError().GetMessage(), tc.want)
			}
			if msg := m.GetError().GetMessage(); !strings.Contains(msg, tc.field) {
				t.Fatalf("error message %q does not name %s", msg, tc.field)
			}
		})
	}
}

// TestInputOverTheSeatsRateSaysWhenToRetry: an input over its seat's input
// rate (the tally game's default, twice its 50 Hz tick: 100 a second, burst
// 100), sent with a request id, is refused with ERROR_CODE_RATE_LIMITED and
// a retry hint (the README: retry_after_ms is set for rate limits) of when
// the seat's next input would pass: at most 1/100 s.
func TestInputOverTheSeatsRateSaysWhenToRetry(t *testing.T) {
	e := start(t, options{})
	id, cs := e.room("ann")
	a := cs[0]
	for i := range 150 {
		a.Send(input(id, uint32(i+1), []byte("+")))
	}
	m := a.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetError() != nil })
	if err := m.GetError(); err.Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || err.RetryAfterMs == 0 || err.RetryAfterMs > 10 {
		t.Fatalf("an input over the seat's rate: %v, want RATE_LIMITED with a retry hint of at most 10 ms", m)
	}
}

// TestStringFieldsThatAreNotUTF8AreRefused: a proto3 string must be valid
// UTF-8, and a client whose decoder checks it (protobuf-es, which client-js
// and the demo use; Go's proto.Unmarshal) cannot decode a message holding
// one that is not: a room created with such metadata made every listing
// of the lobby undecodable in every browser, a signal the call's other
// party. Every string field of a client message that is not UTF-8 is
// refused with ERROR_CODE_BAD_REQUEST naming the field, and nothing
// reaches anyone.
func TestStringFieldsThatAreNotUTF8AreRefused(t *testing.T) {
	e := start(t, options{})
	room, cs := e.room("ann", "bob")
	a, b := cs[0], cs[1]
	const bad = "caf\xe9" // Latin-1, as a client that never encoded it sends it
	create := func(cr *tickroomv1.CreateRoom) *tickroomv1.ClientMessage {
		cr.Game = "tally"
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: cr}}
	}
	for _, tc := range []struct {
		name, field string
		msg         *tickroomv1.ClientMessage
	}{
		{"metadata value", "create_room.metadata", create(&tickroomv1.CreateRoom{Metadata: map[string]string{"map": bad}})},
		{"metadata key", "create_room.metadata", create(&tickroomv1.CreateRoom{Metadata: map[string]string{bad: "x"}})},
		{"option value", "create_room.options", create(&tickroomv1.CreateRoom{Options: map[string]string{"o": bad}})},
		{"quick match option", "quick_match.options", &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "tally", Options: map[string]string{"o": bad}}}}},
		{"signal call id", "send_signal.call_id", signal("bob", bad, tickroomv1.SignalKind_SIGNAL_KIND_OFFER, "v=0")},
		{"signal data", "send_signal.data", signal("bob", "call-1", tickroomv1.SignalKind_SIGNAL_KIND_OFFER, bad)},
		{"chat line", "send_chat.text", channelChat("general", bad)},
		{"direct message", "send_direct.text", direct("bob", bad)},
		{"list filter", "list_rooms.metadata", &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Metadata: map[string]string{"map": bad}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := a.Request(tc.msg)
			if got := errCode(t, m); got != BadRequest {
				t.Fatalf("got %v (%q), want %v", got, m.GetError().GetMessage(), BadRequest)
			}
			if msg := m.GetError().GetMessage(); !strings.Contains(msg, tc.field) || !strings.Contains(msg, "UTF-8") {
				t.Fatalf("error message %q does not say %s is not UTF-8", msg, tc.field)
			}
		})
	}
	for _, m := range drain(b) {
		if m.GetSignal() != nil || m.GetDirectMessage() != nil {
			t.Fatalf("bob got %v", m)
		}
	}
	// bob's lobby lists the one room, in a reply a strict decoder takes.
	reply := b.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}})
	if rooms := reply.GetRoomList().GetRooms(); len(rooms) != 1 || rooms[0].RoomId != room {
		t.Fatalf("bob's room list: %v, want only %s", reply, room)
	}
	raw, err := reply.MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(raw, new(tickroomv1.ServerMessage)); err != nil {
		t.Fatalf("bob's room list does not decode: %v", err)
	}
}
