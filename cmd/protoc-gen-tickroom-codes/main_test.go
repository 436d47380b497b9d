package main

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// request builds the CodeGeneratorRequest buf sends for codes.proto, with
// edit applied to the CloseCode enum's values first.
func request(t *testing.T, edit func(values []*descriptorpb.EnumValueDescriptorProto)) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	codes := protodesc.ToFileDescriptorProto(tickroomv1.File_tickroom_v1_codes_proto)
	for _, e := range codes.EnumType {
		if e.GetName() == "CloseCode" && edit != nil {
			edit(e.Value)
		}
	}
	return &pluginpb.CodeGeneratorRequest{
		FileToGenerate: []string{source},
		ProtoFile: []*descriptorpb.FileDescriptorProto{
			protodesc.ToFileDescriptorProto(descriptorpb.File_google_protobuf_descriptor_proto),
			protodesc.ToFileDescriptorProto(tickroomv1.File_tickroom_v1_options_proto),
			codes,
		},
	}
}

func run(t *testing.T, req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	t.Helper()
	p, err := protogen.Options{}.New(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := generate(p); err != nil {
		return nil, err
	}
	return p.Response(), nil
}

func setDescription(v *descriptorpb.EnumValueDescriptorProto, d string) {
	if v.Options == nil {
		v.Options = &descriptorpb.EnumValueOptions{}
	}
	proto.SetExtension(v.Options, tickroomv1.E_Code, &tickroomv1.CodeOptions{Description: d})
}

func TestGeneratesTheThreeTables(t *testing.T) {
	resp, err := run(t, request(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"protocol/codes_table.pb.go":       `CloseSlowClient CloseCode = 4001`,
		"client-js/src/gen/codes_table.ts": `{ code: 4002, name: "CLOSE_CODE_RATE_LIMITED", description: "rate limit exceeded; reconnect after a longer backoff", longerBackoff: true }`,
		"protocol/codes.md":                "| 305 | `ERROR_CODE_LIST_FULL` | a list is at its limit (friends, blocks, requests, room watches or channels) |",
	}
	expectFiles(t, resp, want)
}

func TestRefusesBadCodes(t *testing.T) {
	tests := []struct {
		name, want string
		edit       func(values []*descriptorpb.EnumValueDescriptorProto)
	}{
		{"no description", "has no (code).description", func(v []*descriptorpb.EnumValueDescriptorProto) {
			v[1].Options = nil
		}},
		{"close reason too long", "too long for a close reason", func(v []*descriptorpb.EnumValueDescriptorProto) {
			setDescription(v[1], strings.Repeat("x", maxCloseReason+1))
		}},
		{"outside the application range", "outside 4000-4999", func(v []*descriptorpb.EnumValueDescriptorProto) {
			v[1].Number = proto.Int32(3999)
		}},
		{"markdown breaking text", "may not contain", func(v []*descriptorpb.EnumValueDescriptorProto) {
			setDescription(v[1], "a | b")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, request(t, tt.edit))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// envelopeRequest builds a request for every tickroom.v1 file, with edit
// applied to social.proto first.
func envelopeRequest(t *testing.T, edit func(social *descriptorpb.FileDescriptorProto)) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	social := protodesc.ToFileDescriptorProto(tickroomv1.File_tickroom_v1_social_proto)
	if edit != nil {
		edit(social)
	}
	// Every file the envelope imports, dependencies first, as protoc
	// sends them; social.proto is replaced by its edited copy.
	var files []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		if fd.Path() == social.GetName() {
			files = append(files, social)
			return
		}
		files = append(files, protodesc.ToFileDescriptorProto(fd))
	}
	add(tickroomv1.File_tickroom_v1_envelope_proto)
	return &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{source, envelope}, ProtoFile: files}
}

func field(f *descriptorpb.FileDescriptorProto, msg, name string) *descriptorpb.FieldDescriptorProto {
	for _, m := range f.MessageType {
		if m.GetName() == msg {
			for _, fd := range m.Field {
				if fd.GetName() == name {
					return fd
				}
			}
		}
	}
	panic(msg + "." + name)
}

func TestGeneratesTheLimits(t *testing.T) {
	resp, err := run(t, envelopeRequest(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"protocol/limits_table.pb.go":       `"add_friend.user_id: %d bytes, at most 128"`,
		"client-js/src/gen/limits_table.ts": `path: "query_presence.user_ids", maxBytes: 128, maxEntries: 256`,
		"protocol/limits.md":                "| `send_chat.text` | ≤ 16384 B | `ERROR_CODE_MESSAGE_TOO_LONG` |",
	}
	expectFiles(t, resp, want)
}

func TestRefusesUnlimitedClientFields(t *testing.T) {
	tests := []struct {
		name, want string
		edit       func(*descriptorpb.FileDescriptorProto)
	}{
		{"no limit", "add_friend.user_id: a client message's string field needs a (tickroom.v1.limit)", func(f *descriptorpb.FileDescriptorProto) {
			field(f, "AddFriend", "user_id").Options = nil
		}},
		{"entries on a string", "a string or bytes field takes max_bytes only", func(f *descriptorpb.FileDescriptorProto) {
			o := &descriptorpb.FieldOptions{}
			proto.SetExtension(o, tickroomv1.E_Limit, &tickroomv1.FieldLimit{MaxBytes: 10, MaxEntries: 3})
			field(f, "AddFriend", "user_id").Options = o
		}},
		{"unknown error code", "error_code 9999 is not an ErrorCode", func(f *descriptorpb.FileDescriptorProto) {
			o := &descriptorpb.FieldOptions{}
			proto.SetExtension(o, tickroomv1.E_Limit, &tickroomv1.FieldLimit{MaxBytes: 10, ErrorCode: 9999})
			field(f, "AddFriend", "user_id").Options = o
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, envelopeRequest(t, tt.edit))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// expectFiles checks that resp holds each file of want, containing its text.
func expectFiles(t *testing.T, resp *pluginpb.CodeGeneratorResponse, want map[string]string) {
	t.Helper()
	for _, f := range resp.File {
		if w, ok := want[f.GetName()]; ok {
			if !strings.Contains(f.GetContent(), w) {
				t.Errorf("%s lacks %q", f.GetName(), w)
			}
			delete(want, f.GetName())
		}
	}
	for name := range want {
		t.Errorf("%s not generated", name)
	}
}
