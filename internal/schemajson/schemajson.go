// Package schemajson renders a game's state bytes as JSON with the types
// of its game.Schema. The admin state inspector and the spectator feed
// both use it, so a room's state reads the same in each.
package schemajson

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// opts show zero values too: proto3 leaves x = 0 out of the bytes, and a
// reader of the state should still see x = 0.
var opts = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// Decode renders b, a message of type mt, as one line of JSON (protojson
// with proto field names, zero fields included) and returns the type's
// full name; ok is false without a type or when b does not parse as one.
// Safe from any goroutine.
func Decode(mt protoreflect.MessageType, b []byte) (v json.RawMessage, name string, ok bool) {
	if mt == nil {
		return nil, "", false
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, "", false
	}
	out, err := opts.Marshal(m)
	if err != nil {
		return nil, "", false
	}
	// protojson may add spaces; one line fits an SSE data line.
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err == nil {
		out = buf.Bytes()
	}
	return out, string(mt.Descriptor().FullName()), true
}
