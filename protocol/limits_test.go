package protocol_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tickroom/tickroom/protocol"
	v1 "github.com/tickroom/tickroom/protocol/tickroomv1"
)

func TestValidateClientMessage(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		m    *v1.ClientMessage
		code protocol.ErrorCode // 0: valid
		text string
	}{
		{"empty body", &v1.ClientMessage{}, 0, ""},
		{"ping", &v1.ClientMessage{Body: &v1.ClientMessage_Ping{Ping: &v1.Ping{ClientTimeMs: 1}}}, 0, ""},
		{"nil body message", &v1.ClientMessage{Body: &v1.ClientMessage_AddFriend{}}, 0, ""},
		{"friend id at the limit", &v1.ClientMessage{Body: &v1.ClientMessage_AddFriend{AddFriend: &v1.AddFriend{UserId: long(128)}}}, 0, ""},
		{"friend id over", &v1.ClientMessage{Body: &v1.ClientMessage_AddFriend{AddFriend: &v1.AddFriend{UserId: long(129)}}}, protocol.ErrorBadRequest, "add_friend.user_id: 129 bytes, at most 128"},
		{"input data over", &v1.ClientMessage{Body: &v1.ClientMessage_Input{Input: &v1.Input{Data: make([]byte, 4097)}}}, protocol.ErrorInputTooLarge, "input.data: 4097 bytes, at most 4096"},
		{"chat over", &v1.ClientMessage{Body: &v1.ClientMessage_SendChat{SendChat: &v1.SendChat{Text: long(16385)}}}, protocol.ErrorMessageTooLong, "send_chat.text"},
		{"map key over", &v1.ClientMessage{Body: &v1.ClientMessage_QuickMatch{QuickMatch: &v1.QuickMatch{Options: map[string]string{long(65): ""}}}}, protocol.ErrorBadOptions, "quick_match.options: a key of 65 bytes, at most 64"},
		{"map value over", &v1.ClientMessage{Body: &v1.ClientMessage_ListRooms{ListRooms: &v1.ListRooms{Metadata: map[string]string{"k": long(257)}}}}, protocol.ErrorBadRequest, "list_rooms.metadata: a value of 257 bytes, at most 256"},
		{"list entry over", &v1.ClientMessage{Body: &v1.ClientMessage_QueryPresence{QueryPresence: &v1.QueryPresence{UserIds: []string{"a", long(129)}}}}, protocol.ErrorBadRequest, "query_presence.user_ids: an entry of 129 bytes, at most 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := protocol.ValidateClientMessage(tt.m)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != tt.code || !strings.Contains(pe.Message, tt.text) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.code, tt.text)
			}
		})
	}
}

// TestEveryClientFieldIsLimited walks every body of ClientMessage by
// reflection: each string, bytes, map and repeated field carries a limit,
// and a value one byte (or entry) over it is refused.
func TestEveryClientFieldIsLimited(t *testing.T) {
	body := (&v1.ClientMessage{}).ProtoReflect().Descriptor().Oneofs().ByName("body")
	checked := 0
	for i := range body.Fields().Len() {
		cf := body.Fields().Get(i)
		md := cf.Message()
		for j := range md.Fields().Len() {
			f := md.Fields().Get(j)
			if !f.IsMap() && !f.IsList() && f.Kind() != protoreflect.StringKind && f.Kind() != protoreflect.BytesKind {
				continue
			}
			lim, _ := proto.GetExtension(f.Options(), v1.E_Limit).(*v1.FieldLimit)
			if lim == nil || lim.MaxBytes == 0 {
				t.Errorf("%s.%s has no limit", cf.Name(), f.Name())
				continue
			}
			m := (&v1.ClientMessage{}).ProtoReflect()
			sub := m.Mutable(cf).Message()
			over := strings.Repeat("z", int(lim.MaxBytes)+1)
			switch {
			case f.IsMap():
				sub.Mutable(f).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString(over))
			case f.IsList():
				sub.Mutable(f).List().Append(protoreflect.ValueOfString(over))
			case f.Kind() == protoreflect.BytesKind:
				sub.Set(f, protoreflect.ValueOfBytes([]byte(over)))
			default:
				sub.Set(f, protoreflect.ValueOfString(over))
			}
			err := protocol.ValidateClientMessage(m.Interface().(*v1.ClientMessage))
			want := string(cf.Name()) + "." + string(f.Name())
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s one byte over: %v", want, err)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d fields checked", checked)
	}
}

// BenchmarkValidateClientMessage checks a CreateRoom with options and
// metadata, the largest body; it allocates nothing when the message passes.
func BenchmarkValidateClientMessage(b *testing.B) {
	m := &v1.ClientMessage{RequestId: 3, Body: &v1.ClientMessage_CreateRoom{CreateRoom: &v1.CreateRoom{
		Game: "arena", Options: map[string]string{"size": "15", "mode": "ffa"}, Metadata: map[string]string{"region": "eu", "lang": "en"}, Password: "pw",
	}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := protocol.ValidateClientMessage(m); err != nil {
			b.Fatal(err)
		}
	}
}

// limitBreaks lists, by reflection over the descriptors, each way m's body
// breaks the limits its fields declare or holds a string that is not valid
// UTF-8, as "<body>.<field>" with the code its refusal carries: what
// ValidateClientMessage should find, read independently of the generated
// code. A field broken in several ways (one map entry too long, another
// not UTF-8) may be refused with any of their codes.
func limitBreaks(m *v1.ClientMessage) map[string]map[protocol.ErrorCode]bool {
	breaks := make(map[string]map[protocol.ErrorCode]bool)
	add := func(name string, code protocol.ErrorCode) {
		if breaks[name] == nil {
			breaks[name] = make(map[protocol.ErrorCode]bool)
		}
		breaks[name][code] = true
	}
	r := m.ProtoReflect()
	cf := r.WhichOneof(r.Descriptor().Oneofs().ByName("body"))
	if cf == nil {
		return breaks
	}
	sub := r.Get(cf).Message()
	fields := sub.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		name := string(cf.Name()) + "." + string(f.Name())
		lim, _ := proto.GetExtension(f.Options(), v1.E_Limit).(*v1.FieldLimit)
		code := protocol.ErrorBadRequest
		if lim != nil && lim.ErrorCode != 0 {
			code = protocol.ErrorCode(lim.ErrorCode)
		}
		over := func(n int, max uint32) {
			if lim != nil && max != 0 && n > int(max) {
				add(name, code)
			}
		}
		badText := func(v protoreflect.Value, kind protoreflect.Kind) {
			if kind == protoreflect.StringKind && !utf8.ValidString(v.String()) {
				add(name, protocol.ErrorBadRequest)
			}
		}
		size := func(v protoreflect.Value, kind protoreflect.Kind) int {
			if kind == protoreflect.BytesKind {
				return len(v.Bytes())
			}
			return len(v.String())
		}
		v := sub.Get(f)
		switch {
		case f.IsMap():
			mp := v.Map()
			over(mp.Len(), lim.GetMaxEntries())
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				over(len(k.String()), lim.GetMaxKeyBytes())
				over(size(v, f.MapValue().Kind()), lim.GetMaxBytes())
				badText(k.Value(), f.MapKey().Kind())
				badText(v, f.MapValue().Kind())
				return true
			})
		case f.IsList():
			l := v.List()
			over(l.Len(), lim.GetMaxEntries())
			for j := range l.Len() {
				over(size(l.Get(j), f.Kind()), lim.GetMaxBytes())
				badText(l.Get(j), f.Kind())
			}
		case f.Kind() == protoreflect.StringKind || f.Kind() == protoreflect.BytesKind:
			over(size(v, f.Kind()), lim.GetMaxBytes())
			badText(v, f.Kind())
		}
	}
	return breaks
}

// FuzzValidateClientMessage decodes arbitrary bytes as the server does and
// checks ValidateClientMessage against the limits the descriptors declare:
// it passes a message that breaks none and refuses one that breaks any,
// with an *Error naming a field it breaks and that field's code.
func FuzzValidateClientMessage(f *testing.F) {
	long := strings.Repeat("z", 300)
	msgs := append(clientSeeds(),
		&v1.ClientMessage{Body: &v1.ClientMessage_CreateRoom{CreateRoom: &v1.CreateRoom{Game: "arena", Options: map[string]string{"size": long}}}},
		&v1.ClientMessage{Body: &v1.ClientMessage_ListRooms{ListRooms: &v1.ListRooms{Metadata: map[string]string{"\xff": "v"}}}},
		&v1.ClientMessage{Body: &v1.ClientMessage_QueryPresence{QueryPresence: &v1.QueryPresence{UserIds: []string{"a", long}}}},
		&v1.ClientMessage{Body: &v1.ClientMessage_SendChat{SendChat: &v1.SendChat{RoomId: "r1", Text: "\xc3"}}},
		&v1.ClientMessage{Body: &v1.ClientMessage_Input{Input: &v1.Input{RoomId: long, Data: make([]byte, 4097)}}},
	)
	for _, m := range msgs {
		b, err := m.MarshalVT()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m v1.ClientMessage
		if err := m.UnmarshalVT(data); err != nil {
			return
		}
		err := protocol.ValidateClientMessage(&m)
		breaks := limitBreaks(&m)
		if err == nil {
			if len(breaks) > 0 {
				t.Fatalf("passed %v, which breaks %v", &m, breaks)
			}
			return
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("refusal %v is not an *Error", err)
		}
		field, _, _ := strings.Cut(pe.Message, ":")
		if !breaks[field][pe.Code] {
			t.Fatalf("refused %v with %v, want one of %v", &m, err, breaks)
		}
	})
}
