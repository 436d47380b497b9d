package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/schemajson"
)

// stateTimeout bounds the wait for a room's tick to copy its state; the
// slowest room ticks once a second.
const stateTimeout = 3 * time.Second

// maxStateEntities caps the entities a state answer lists; entity_count
// says how many the room holds.
const maxStateEntities = 5000

// stateJSON is a room's current state, decoded with its game's Schema.
// Ids are decimal strings: a uint64 does not fit a JavaScript number.
type stateJSON struct {
	Room         string          `json:"room"`
	Game         string          `json:"game"`
	Tick         uint64          `json:"tick"`
	Globals      json.RawMessage `json:"globals,omitempty"`
	GlobalsType  string          `json:"globals_type,omitempty"`
	GlobalsBytes []byte          `json:"globals_bytes,omitempty"`
	EntityCount  int             `json:"entity_count"`
	Entities     []entityJSON    `json:"entities"`
}

// entityJSON is one entity: decoded (value and its type) when the game's
// Schema names a type its bytes parse as, else its bytes in base64.
type entityJSON struct {
	ID    string          `json:"id"`
	Type  string          `json:"type,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
	Bytes []byte          `json:"bytes,omitempty"`
}

// roomState answers GET /v1/admin/rooms/{id}/state: the room's whole state
// at its next tick (game.Room.State), hidden information included.
func (h *Handler) roomState(w http.ResponseWriter, r *http.Request) {
	if h.roomElsewhere(w, r, r.PathValue("id"), nil) {
		return
	}
	room, ok := h.hub.Runtime().Room(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), stateTimeout)
	defer cancel()
	st, err := room.State(ctx)
	switch {
	case errors.Is(err, game.ErrFinished):
		writeError(w, http.StatusNotFound, "no such room")
		return
	case errors.Is(err, game.ErrControlFull):
		writeError(w, http.StatusServiceUnavailable, "the room is answering other state requests; retry")
		return
	case err != nil:
		writeError(w, http.StatusGatewayTimeout, "the room did not answer: "+err.Error())
		return
	}
	var schema game.Schema
	if h.games != nil {
		if d, ok := h.games.Lookup(room.Game()); ok {
			schema = d.Schema
		}
	}
	out := stateJSON{Room: room.ID(), Game: room.Game(), Tick: st.Tick, EntityCount: len(st.Entities), Entities: []entityJSON{}}
	if len(st.Globals) > 0 {
		if v, name, ok := schemajson.Decode(schema.Globals, st.Globals); ok {
			out.Globals, out.GlobalsType = v, name
		} else {
			out.GlobalsBytes = st.Globals
		}
	}
	for i, e := range st.Entities {
		if i == maxStateEntities {
			break
		}
		ej := entityJSON{ID: strconv.FormatUint(e.ID, 10)}
		var mt protoreflect.MessageType
		if schema.Entity != nil {
			mt = schema.Entity(e.ID)
		}
		if v, name, ok := schemajson.Decode(mt, e.Data); ok {
			ej.Value, ej.Type = v, name
		} else {
			ej.Bytes = e.Data
		}
		out.Entities = append(out.Entities, ej)
	}
	writeJSON(w, http.StatusOK, out)
}
