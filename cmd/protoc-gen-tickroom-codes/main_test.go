package main

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
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
		"protocol/codes.md":                "| 305 | `ERROR_CODE_LIST_FULL` | the friend or block list is full |",
	}
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
