// Command protoc-gen-tickroom-codes is the protoc plugin that turns the
// CloseCode and ErrorCode enums of tickroom/v1/codes.proto into the code
// tables every side of tickroom uses, so the enums, their comments and their
// (tickroom.v1.code) options are the one source of every code's name,
// number, description and backoff hint:
//
//   - protocol/codes_table.pb.go: the Go constants and tables behind
//     protocol.CloseCode and protocol.ErrorCode;
//   - client-js/src/gen/codes_table.ts: the rows client-js's close-codes.ts
//     builds its table from;
//   - protocol/codes.md: the docs tables protocol/README.md links to.
//
// From the (tickroom.v1.limit) options on the fields of every ClientMessage
// body it generates, the same way, protocol.ValidateClientMessage
// (protocol/limits_table.pb.go), client-js's CLIENT_FIELD_LIMITS
// (client-js/src/gen/limits_table.ts) and protocol/limits.md, and it
// refuses a string, bytes, map or repeated field of a client message that
// has no limit.
//
// `make proto` runs it through buf (buf.gen.yaml, out: the repository root)
// and scripts/proto-check.sh fails when a committed table is stale. It
// refuses a code without a description, a close code outside 4000-4999, a
// close description longer than a close frame's reason can carry, and an
// error code outside the documented groups 1-399.
package main

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// source is the proto file the tables come from.
const source = "tickroom/v1/codes.proto"

// maxCloseReason is the longest close frame reason: a control frame payload
// is at most 125 bytes, two of which hold the code (RFC 6455 section 5.5).
const maxCloseReason = 123

// code is one enum value with what the tables say about it.
type code struct {
	Number        int32
	Name          string // CLOSE_CODE_SLOW_CLIENT
	GoName        string // CloseSlowClient
	Doc           []string
	Description   string
	LongerBackoff bool
}

// tables are the two enums' values in numeric order, zero values left out.
type tables struct {
	Close, Error []code
}

func main() {
	protogen.Options{}.Run(generate)
}

// generate writes the three tables when the request names codes.proto.
func generate(p *protogen.Plugin) error {
	p.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL)
	var t tables
	var env *protogen.File
	for _, f := range p.Files {
		if !f.Generate {
			continue
		}
		switch f.Desc.Path() {
		case source:
			var err error
			if t, err = read(f); err != nil {
				return err
			}
			writeGo(p.NewGeneratedFile("protocol/codes_table.pb.go", ""), t)
			writeTS(p.NewGeneratedFile("client-js/src/gen/codes_table.ts", ""), t)
			writeMarkdown(p.NewGeneratedFile("protocol/codes.md", ""), t)
		case envelope:
			env = f
		}
	}
	if env == nil {
		return nil
	}
	if len(t.Error) == 0 {
		return fmt.Errorf("%s is generated without %s", envelope, source)
	}
	bodies, err := readLimits(env, t.Error)
	if err != nil {
		return err
	}
	writeLimitsGo(p.NewGeneratedFile("protocol/limits_table.pb.go", "github.com/tickroom/tickroom/protocol"), bodies)
	writeLimitsTS(p.NewGeneratedFile("client-js/src/gen/limits_table.ts", ""), bodies)
	writeLimitsMarkdown(p.NewGeneratedFile("protocol/limits.md", ""), bodies)
	return nil
}

// read collects the CloseCode and ErrorCode values of f and checks them.
func read(f *protogen.File) (tables, error) {
	var t tables
	for _, e := range f.Enums {
		var dst *[]code
		var prefix, goPrefix string
		switch e.Desc.Name() {
		case "CloseCode":
			dst, prefix, goPrefix = &t.Close, "CLOSE_CODE_", "Close"
		case "ErrorCode":
			dst, prefix, goPrefix = &t.Error, "ERROR_CODE_", "Error"
		default:
			continue
		}
		for _, v := range e.Values {
			n := int32(v.Desc.Number())
			if n == 0 {
				continue
			}
			name := string(v.Desc.Name())
			c := code{Number: n, Name: name, GoName: goPrefix + camel(strings.TrimPrefix(name, prefix))}
			if opts, ok := v.Desc.Options().(*descriptorpb.EnumValueOptions); ok && opts != nil {
				if o, ok := proto.GetExtension(opts, tickroomv1.E_Code).(*tickroomv1.CodeOptions); ok && o != nil {
					c.Description, c.LongerBackoff = o.GetDescription(), o.GetLongerBackoff()
				}
			}
			c.Doc = docLines(string(v.Comments.Leading), name, c.GoName)
			if err := check(c, prefix); err != nil {
				return t, err
			}
			if len(*dst) > 0 && (*dst)[len(*dst)-1].Number >= n {
				return t, fmt.Errorf("%s: %s = %d is out of numeric order", source, name, n)
			}
			*dst = append(*dst, c)
		}
	}
	if len(t.Close) == 0 || len(t.Error) == 0 {
		return t, fmt.Errorf("%s: CloseCode or ErrorCode enum missing", source)
	}
	return t, nil
}

func check(c code, prefix string) error {
	switch {
	case c.Description == "":
		return fmt.Errorf("%s: %s has no (code).description", source, c.Name)
	case strings.ContainsAny(c.Description, "\"\\`|\n"):
		return fmt.Errorf("%s: %s: description may not contain quotes, backslashes, | or newlines", source, c.Name)
	case prefix == "CLOSE_CODE_" && (c.Number < 4000 || c.Number > 4999):
		return fmt.Errorf("%s: %s = %d is outside 4000-4999", source, c.Name, c.Number)
	case prefix == "CLOSE_CODE_" && len(c.Description) > maxCloseReason:
		return fmt.Errorf("%s: %s: description is over %d bytes, too long for a close reason", source, c.Name, maxCloseReason)
	case prefix == "ERROR_CODE_" && (c.Number < 1 || c.Number > 399):
		return fmt.Errorf("%s: %s = %d is outside the groups 1-399", source, c.Name, c.Number)
	case prefix == "ERROR_CODE_" && c.LongerBackoff:
		return fmt.Errorf("%s: %s: longer_backoff applies to close codes only", source, c.Name)
	}
	return nil
}

// camel turns SLOW_CLIENT into SlowClient.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(s), "_") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// docLines turns the enum value's leading comment into Go doc lines that
// name the Go constant instead of the enum value.
func docLines(comment, name, goName string) []string {
	comment = strings.TrimSpace(comment)
	comment = strings.Replace(comment, name, goName, 1)
	var lines []string
	for _, l := range strings.Split(comment, "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	return lines
}
