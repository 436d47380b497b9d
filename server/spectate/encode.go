package spectate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/schemajson"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Format is how a stream encodes state events.
type Format uint8

const (
	// FormatJSON writes each State as JSON, entities and globals decoded
	// with the game's Schema by schemajson, as the admin state inspector
	// shows them (base64 bytes where it has none).
	FormatJSON Format = iota
	// FormatProtobuf writes each State as base64 of its tickroom.v1.State
	// protobuf encoding.
	FormatProtobuf
)

// jsonState is a State as the JSON format shows it.
type jsonState struct {
	Room     string          `json:"room"`
	Tick     uint64          `json:"tick"`
	BaseTick uint64          `json:"base_tick,omitempty"`
	Keyframe bool            `json:"keyframe"`
	Upserts  []jsonEntity    `json:"upserts"`
	Removed  []uint64        `json:"removed,omitempty"`
	Globals  json.RawMessage `json:"globals,omitempty"`
	// GlobalsBytes holds the globals as base64 when the game has no schema.
	GlobalsBytes []byte `json:"globals_bytes,omitempty"`
}

// jsonEntity is one upserted entity: its decoded value, or its bytes in
// base64 when the game declares no type for it.
type jsonEntity struct {
	ID    uint64          `json:"id"`
	Value json.RawMessage `json:"value,omitempty"`
	Bytes []byte          `json:"bytes,omitempty"`
}

var jsonOpts = protojson.MarshalOptions{UseProtoNames: true}

// appendEvent appends one SSE event for msg to b: "state" events carry the
// tick as their id, "room" events the room's member and phase notices.
// Other messages (game messages) are not part of the feed; ok is false.
// The JSON format applies each state to store, the stream's copy of the
// room's state, to show whole entities.
func appendEvent(b []byte, msg *tickroomv1.ServerMessage, format Format, schema game.Schema, store *statesync.Store) ([]byte, bool, error) {
	switch body := msg.Body.(type) {
	case *tickroomv1.ServerMessage_State:
		st := body.State
		var data []byte
		if format == FormatProtobuf {
			raw, err := st.MarshalVT()
			if err != nil {
				return b, false, err
			}
			data = base64.StdEncoding.AppendEncode(nil, raw)
		} else {
			var err error
			if data, err = stateJSON(st, schema, store); err != nil {
				return b, false, err
			}
		}
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, st.Tick, 10)
		b = append(b, "\nevent: state\ndata: "...)
		b = append(b, data...)
		return append(b, "\n\n"...), true, nil
	case *tickroomv1.ServerMessage_RoomEvent:
		data, err := jsonOpts.Marshal(body.RoomEvent)
		if err != nil {
			return b, false, err
		}
		b = append(b, "event: room\ndata: "...)
		b = append(b, compact(data)...)
		return append(b, "\n\n"...), true, nil
	}
	return b, false, nil
}

// stateJSON applies st to store and renders what changed, whole entities
// decoded with schema.
func stateJSON(st *tickroomv1.State, schema game.Schema, store *statesync.Store) ([]byte, error) {
	res, err := store.Apply(st.Keyframe, st.Tick, st.BaseTick, st.Patch)
	if err != nil {
		return nil, err
	}
	js := jsonState{
		Room: st.RoomId, Tick: st.Tick, BaseTick: st.BaseTick, Keyframe: st.Keyframe,
		Upserts: make([]jsonEntity, 0, len(res.Upserted)), Removed: res.Removed,
	}
	for _, id := range res.Upserted {
		data, _ := store.Get(id)
		je := jsonEntity{ID: id}
		var mt protoreflect.MessageType
		if schema.Entity != nil {
			mt = schema.Entity(id)
		}
		if v, _, ok := schemajson.Decode(mt, data); ok {
			je.Value = v
		} else {
			je.Bytes = data
		}
		js.Upserts = append(js.Upserts, je)
	}
	if res.GlobalsChanged {
		g := store.Globals()
		if v, _, ok := schemajson.Decode(schema.Globals, g); ok {
			js.Globals = v
		} else if len(g) > 0 {
			js.GlobalsBytes = g
		} else {
			js.Globals = json.RawMessage("{}")
		}
	}
	return json.Marshal(&js)
}

// compact strips the optional spaces protojson may add, so each event's
// data is one line.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}
