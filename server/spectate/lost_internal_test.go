package spectate

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/frame"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// stateFrame is a room frame holding st.
func stateFrame(t *testing.T, st *tickroomv1.State) []byte {
	t.Helper()
	p, err := (&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_State{State: st}}).MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUnusableStateEndsTheStreamForAKeyframe: a state the stream cannot
// write (a JSON delta its store cannot apply, a resume base that does not
// apply, a frame that does not decode) is one its client never gets while
// the room counts it as sent and goes on with deltas from it. The stream
// sent only keep-alives from then on; it now ends after an empty "id:"
// line, so the EventSource reconnects without Last-Event-ID, which gets a
// keyframe. The room events of the same write still go out first.
func TestUnusableStateEndsTheStreamForAKeyframe(t *testing.T) {
	roomEvent, err := (&tickroomv1.ServerMessage{Body: &tickroomv1.ServerMessage_RoomEvent{RoomEvent: &tickroomv1.RoomEvent{
		RoomId: "r", Kind: tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_JOINED, UserId: "ann",
	}}}).MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		format   Format
		base     uint64 // the stream's resume tick
		reliable []byte // a state in a reliable frame: a resume base
		state    []byte
	}{
		{name: "JSON: a delta with no state to apply it to", format: FormatJSON,
			state: stateFrame(t, &tickroomv1.State{Tick: 7, BaseTick: 6})},
		{name: "JSON: a delta whose resume base did not apply", format: FormatJSON, base: 6,
			reliable: stateFrame(t, &tickroomv1.State{Tick: 6, Keyframe: true, Patch: []byte{0xff}}),
			state:    stateFrame(t, &tickroomv1.State{Tick: 7, BaseTick: 6})},
		{name: "protobuf: a state that does not decode", format: FormatProtobuf,
			state: []byte{stateTag, 0x05, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Feeds{closing: make(chan struct{}), cfg: Config{
				MaxRate: 10, KeepAlive: time.Hour, WriteTimeout: time.Second,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			}}
			s := newSink(&f.dropped)
			defer s.finish()
			take := func(p []byte, reliable bool) {
				fr := frame.New(len(p))
				fr.SetBuffer(append(fr.Buffer(), p...))
				s.TakeFrame(fr, reliable)
				fr.Release()
			}
			take(roomEvent, true)
			if tc.reliable != nil {
				take(tc.reliable, true)
			}
			take(tc.state, false)
			rec := httptest.NewRecorder()
			st := &stream{f: f, w: rec, rc: http.NewResponseController(rec), sink: s, format: tc.format, base: tc.base}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			reason := st.run(ctx)
			body := rec.Body.String()
			if reason != "state lost" || !strings.HasSuffix(body, "event: lost\ndata: {\"reason\":\"state_lost\"}\nid:\n\n") || f.lost.Load() != 1 {
				t.Fatalf("stream ended %q with %q; want it to end for the lost state with an empty id", reason, body)
			}
			if !strings.Contains(body, "event: room\n") || strings.Contains(body, "event: state") {
				t.Fatalf("stream wrote %q; want the room event and no state", body)
			}
		})
	}
}
