package spectate_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/server/spectate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func opts(dial string) game.RoomOptions {
	return game.RoomOptions{Options: map[string]string{"dial": dial}}
}

func TestKeyframeThenDeltas(t *testing.T) {
	e := start(t, spectate.Config{})
	room, dial := e.room(opts(t.Name()))
	dial.Store(7)
	s, st, body := e.open(room.ID(), "", nil)
	if s == nil {
		t.Fatalf("status %d: %s", st, body)
	}
	if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Fatalf("Access-Control-Allow-Origin %q: a page on any origin may embed the feed", got)
	}
	first, ev := s.state()
	if !first.Keyframe || first.Room != room.ID() || ev.id != strconv.FormatUint(first.Tick, 10) {
		t.Fatalf("first event %+v (id %q), want a keyframe with the tick as its id", first, ev.id)
	}
	if len(first.Upserts) != 1 || string(first.Upserts[0].Value) != `"7"` || string(first.Globals) != `"70"` {
		t.Fatalf("keyframe %+v: want entity 1 = \"7\" and globals \"70\", decoded by the game's schema", first)
	}
	dial.Store(8)
	next := s.stateWith(`"8"`)
	if next.Keyframe || next.BaseTick != first.Tick || next.Tick <= first.Tick {
		t.Fatalf("after the keyframe at %d: %+v, want a delta from it", first.Tick, next)
	}
	if len(next.Upserts) != 1 || string(next.Globals) != `"80"` {
		t.Fatalf("delta %+v: want only the changed entity and globals", next)
	}
}

// TestJSONShowsZeroFields: the feed decodes entities as the admin state
// inspector does, so a field at its zero value, which proto3 leaves out of
// the bytes, still shows.
func TestJSONShowsZeroFields(t *testing.T) {
	e := start(t, spectate.Config{})
	room, dial := e.room(game.RoomOptions{Options: map[string]string{"dial": t.Name(), "stone": "1"}})
	dial.Store(5)
	s, code, body := e.open(room.ID(), "", nil)
	if s == nil {
		t.Fatalf("status %d: %s", code, body)
	}
	for {
		st, _ := s.state()
		for _, u := range st.Upserts {
			if u.ID != 3 {
				continue
			}
			var stone map[string]any
			if err := json.Unmarshal(u.Value, &stone); err != nil {
				t.Fatalf("entity 3 %s: %v", u.Value, err)
			}
			if x, ok := stone["x"]; !ok || x != 0.0 || stone["y"] != 5.0 {
				t.Fatalf("entity 3 %s, want x = 0 shown and y = 5", u.Value)
			}
			return
		}
	}
}

// TestRateCapMergesDeltas: a room whose state changes every tick, 50 times
// a second, watched by a stream capped at 2 events a second. The stream
// gets fewer events than the room has ticks: each state spans the ticks
// since the previous one (a delta from it, or a keyframe when the room
// chose to send one).
func TestRateCapMergesDeltas(t *testing.T) {
	e := start(t, spectate.Config{MaxRate: 2})
	room, _ := e.room(game.RoomOptions{Options: map[string]string{"dial": t.Name(), "tick": "1"}})
	s, code, body := e.open(room.ID(), "", nil)
	if s == nil {
		t.Fatalf("status %d: %s", code, body)
	}
	first, _ := s.state()
	prev := first
	const events = 4
	for range events {
		st, _ := s.state()
		if st.Tick <= prev.Tick || !st.Keyframe && st.BaseTick != prev.Tick {
			t.Fatalf("after tick %d: %+v, want a later state, a delta from it or a keyframe", prev.Tick, st)
		}
		prev = st
	}
	if span := prev.Tick - first.Tick; span <= events {
		t.Fatalf("%d states over %d ticks: the room's 50 ticks a second were not merged to the stream's 2 events", events, span)
	}
}

// TestDroppedRoomEventsAreCounted: room events beyond the 32 a stream
// holds between two writes are dropped and counted in
// tickroom_spectator_room_events_dropped_total.
func TestDroppedRoomEventsAreCounted(t *testing.T) {
	e := start(t, spectate.Config{MaxRate: 1})
	room, _ := e.room(opts(t.Name()))
	s, code, body := e.open(room.ID(), "", nil)
	if s == nil {
		t.Fatalf("status %d: %s", code, body)
	}
	s.state()
	if got := counted(t, e.feeds, "tickroom_spectator_room_events_dropped_total"); got != 0 {
		t.Fatalf("dropped before any event: %v", got)
	}
	ann := e.member("ann", room.ID())
	deadline := time.Now().Add(20 * time.Second)
	for e.feeds.Dropped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no room event dropped after many joins and leaves")
		}
		ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room.ID()}}})
		ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room.ID()}}})
	}
	if got := counted(t, e.feeds, "tickroom_spectator_room_events_dropped_total"); got < 1 || uint64(got) > e.feeds.Dropped() {
		t.Fatalf("tickroom_spectator_room_events_dropped_total %v, Dropped %d", got, e.feeds.Dropped())
	}
}

// protoState reads the next state event of a ?format=protobuf stream.
func protoState(t *testing.T, s *sse) *tickroomv1.State {
	t.Helper()
	ev := s.next("state")
	raw, err := base64.StdEncoding.DecodeString(ev.data)
	if err != nil {
		t.Fatalf("data %q is not base64: %v", ev.data, err)
	}
	var st tickroomv1.State
	if err := proto.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if ev.id != strconv.FormatUint(st.Tick, 10) {
		t.Fatalf("event id %q for tick %d", ev.id, st.Tick)
	}
	return &st
}

// dialValue applies st to store and returns entity 1's value.
func dialValue(t *testing.T, store *statesync.Store, st *tickroomv1.State) uint64 {
	t.Helper()
	if _, err := store.Apply(st.Keyframe, st.Tick, st.BaseTick, st.Patch); err != nil {
		t.Fatalf("apply %v: %v", st, err)
	}
	b, _ := store.Get(1)
	var v wrapperspb.UInt64Value
	if err := proto.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Value
}

func TestProtobufFormat(t *testing.T) {
	e := start(t, spectate.Config{})
	room, dial := e.room(opts(t.Name()))
	dial.Store(3)
	s, _, _ := e.open(room.ID(), "?format=protobuf", nil)
	var store statesync.Store
	st := protoState(t, s)
	if !st.Keyframe || st.RoomId != room.ID() || dialValue(t, &store, st) != 3 {
		t.Fatalf("first state %v, want a keyframe with entity 1 = 3", st)
	}
	dial.Store(4)
	for v := uint64(3); v != 4; {
		st = protoState(t, s)
		v = dialValue(t, &store, st)
	}
	if st.Keyframe {
		t.Fatalf("state %v, want a delta", st)
	}
	if _, code, body := e.open(room.ID(), "?format=xml", nil); code != http.StatusBadRequest {
		t.Fatalf("format=xml: %d %s, want 400", code, body)
	}
}

// TestProtobufFormatChecksTheVersion: a protobuf feed's client may declare
// the protocol version it decodes, as on the WebSocket; the server's own
// version is served, and one it does not serve is refused with a reason
// naming both, where the stream would otherwise hand it States it misreads.
func TestProtobufFormatChecksTheVersion(t *testing.T) {
	e := start(t, spectate.Config{})
	room, dial := e.room(opts(t.Name()))
	dial.Store(3)
	s, code, _ := e.open(room.ID(), "?format=protobuf&protocol_version="+strconv.Itoa(protocol.Version), nil)
	if code != http.StatusOK {
		t.Fatalf("protocol_version=%d: %d, want 200", protocol.Version, code)
	}
	if st := protoState(t, s); !st.Keyframe {
		t.Fatalf("first state %v, want a keyframe", st)
	}
	for _, v := range []string{"1", "99", "x"} {
		_, code, body := e.open(room.ID(), "?format=protobuf&protocol_version="+v, nil)
		if code != http.StatusBadRequest || !strings.Contains(body, "server speaks "+strconv.Itoa(protocol.Version)) {
			t.Fatalf("protocol_version=%s: %d %q, want 400 naming the server's version", v, code, body)
		}
	}
	if _, code, body := e.open(room.ID(), "?protocol_version=1", nil); code != http.StatusOK {
		t.Fatalf("a JSON feed with protocol_version=1: %d %s, want 200 (its layout is its own)", code, body)
	}
}

func TestLastEventIDResumes(t *testing.T) {
	e := start(t, spectate.Config{MaxStreamsPerIP: 16})
	room, dial := e.room(opts(t.Name()))
	dial.Store(1)
	s, _, _ := e.open(room.ID(), "?format=protobuf", nil)
	var kept statesync.Store // what the client keeps across reconnects
	seen := protoState(t, s)
	if dialValue(t, &kept, seen) != 1 {
		t.Fatal("first state does not show 1")
	}
	s.resp.Body.Close()
	waitFor(t, func() bool { return e.feeds.Open() == 0 })
	dial.Store(2)
	lastID := http.Header{"Last-Event-ID": {strconv.FormatUint(seen.Tick, 10)}}

	// Each format resumes from a tick the room holds with a delta from it:
	// protobuf for the client to apply to what it kept, JSON with the
	// entities that changed since, whole.
	t.Run("protobuf: a tick the room holds gets a delta", func(t *testing.T) {
		s, _, _ := e.open(room.ID(), "?format=protobuf", lastID)
		st := protoState(t, s)
		store := kept.Clone()
		if st.Keyframe || st.BaseTick != seen.Tick || dialValue(t, store, st) != 2 {
			t.Fatalf("resume from %d: %v, want a delta from it", seen.Tick, st)
		}
	})
	t.Run("JSON: a tick the room holds gets a delta", func(t *testing.T) {
		s, _, _ := e.open(room.ID(), "", lastID)
		st, ev := s.state()
		if st.Keyframe || st.BaseTick != seen.Tick || ev.id != strconv.FormatUint(st.Tick, 10) {
			t.Fatalf("resume from %d: %+v, want a delta from it as the first state", seen.Tick, st)
		}
		if len(st.Upserts) != 1 || st.Upserts[0].ID != 1 || string(st.Upserts[0].Value) != `"2"` || string(st.Globals) != `"20"` {
			t.Fatalf("resumed delta %+v: want entity 1 = \"2\" whole and globals \"20\"", st)
		}
		dial.Store(5) // the stream goes on with deltas from there
		if next := s.stateWith(`"5"`); next.Keyframe || next.BaseTick != st.Tick {
			t.Fatalf("after the resumed delta at %d: %+v, want a delta from it", st.Tick, next)
		}
		dial.Store(2)
		s.stateWith(`"2"`)
	})
	for _, id := range []string{"123456789", "junk"} {
		t.Run("Last-Event-ID "+id+" gets a keyframe", func(t *testing.T) {
			s, _, _ := e.open(room.ID(), "?format=protobuf", http.Header{"Last-Event-ID": {id}})
			var fresh statesync.Store
			if st := protoState(t, s); !st.Keyframe || dialValue(t, &fresh, st) != 2 {
				t.Fatalf("%v, want a keyframe", st)
			}
			js, _, _ := e.open(room.ID(), "", http.Header{"Last-Event-ID": {id}})
			if st, _ := js.state(); !st.Keyframe || string(st.Upserts[0].Value) != `"2"` {
				t.Fatalf("JSON: %+v, want a keyframe", st)
			}
		})
	}
	live, _, _ := e.open(room.ID(), "", nil)
	for v := uint64(3); v < 3+20; v++ { // more distinct states than the room keeps (16)
		dial.Store(v)
		live.stateWith(`"` + strconv.FormatUint(v, 10) + `"`)
	}
	t.Run("protobuf: a tick the room no longer holds gets a keyframe", func(t *testing.T) {
		s, _, _ := e.open(room.ID(), "?format=protobuf", lastID)
		var fresh statesync.Store
		if st := protoState(t, s); !st.Keyframe || dialValue(t, &fresh, st) != 22 {
			t.Fatalf("%v, want a keyframe", st)
		}
	})
	t.Run("JSON: a tick the room no longer holds gets a keyframe", func(t *testing.T) {
		s, _, _ := e.open(room.ID(), "", lastID)
		if st, _ := s.state(); !st.Keyframe || len(st.Upserts) != 1 || string(st.Upserts[0].Value) != `"22"` || string(st.Globals) != `"220"` {
			t.Fatalf("%+v, want a keyframe", st)
		}
	})
}

func TestPrivateRoomNeedsAMembersToken(t *testing.T) {
	e := start(t, spectate.Config{})
	room, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	e.member("ann", room.ID())
	stranger := e.token("eve")
	tests := []struct {
		name   string
		query  string
		header http.Header
		want   int
	}{
		{"no token", "", nil, http.StatusUnauthorized},
		{"forged token", "?token=k.eyJ9.c2ln", nil, http.StatusUnauthorized},
		{"someone else's token", "?token=" + stranger, nil, http.StatusForbidden},
		{"a member's token", "?token=" + e.token("ann"), nil, http.StatusOK},
		{"a member's token as a header", "", http.Header{"Authorization": {"Bearer " + e.token("ann")}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, code, body := e.open(room.ID(), tt.query, tt.header)
			if code != tt.want {
				t.Fatalf("status %d (%s), want %d", code, strings.TrimSpace(body), tt.want)
			}
			if s != nil {
				if st, _ := s.state(); !st.Keyframe {
					t.Fatalf("first event %+v", st)
				}
			}
		})
	}
	if _, code, _ := e.open("no-such-room", "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown room: %d, want 404", code)
	}
}

func TestStreamCaps(t *testing.T) {
	t.Run("per IP, X-Forwarded-For from a direct client ignored", func(t *testing.T) {
		e := start(t, spectate.Config{MaxStreamsPerIP: 2, TrustedProxies: clientip.MustParse("10.0.0.0/8")})
		room, _ := e.room(opts(t.Name()))
		for i := 0; i < 2; i++ {
			s, code, _ := e.open(room.ID(), "", http.Header{"X-Forwarded-For": {"198.51.100." + strconv.Itoa(i)}})
			if s == nil {
				t.Fatalf("stream %d: %d", i, code)
			}
			s.state()
		}
		_, code, body := e.open(room.ID(), "", http.Header{"X-Forwarded-For": {"198.51.100.99"}})
		if code != http.StatusTooManyRequests {
			t.Fatalf("third stream from one address: %d %s, want 429", code, body)
		}
	})
	t.Run("per IP behind a trusted proxy counts the client", func(t *testing.T) {
		e := start(t, spectate.Config{MaxStreamsPerIP: 1, TrustedProxies: clientip.MustParse("127.0.0.1")})
		room, _ := e.room(opts(t.Name()))
		for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
			if s, code, body := e.open(room.ID(), "", http.Header{"X-Forwarded-For": {ip}}); s == nil {
				t.Fatalf("first stream of %s: %d %s", ip, code, body)
			}
		}
		if _, code, _ := e.open(room.ID(), "", http.Header{"X-Forwarded-For": {"198.51.100.1"}}); code != http.StatusTooManyRequests {
			t.Fatalf("second stream of one client: %d, want 429", code)
		}
	})
	t.Run("per IPv6 /64 and /48 behind a trusted proxy", func(t *testing.T) {
		// One subscriber holds a whole /64 and a site a /48: new addresses
		// from them get no new streams.
		e := startRT(t, spectate.Config{MaxStreamsPerIP: 1, TrustedProxies: clientip.MustParse("127.0.0.1")}, game.Config{MaxObservers: 64})
		room, _ := e.room(opts(t.Name()))
		open := func(ip string) int {
			s, code, _ := e.open(room.ID(), "", http.Header{"X-Forwarded-For": {ip}})
			if s != nil {
				s.state()
			}
			return code
		}
		if code := open("2001:db8:1:1::1"); code != http.StatusOK {
			t.Fatalf("first stream of a /64: %d", code)
		}
		for _, ip := range []string{"2001:db8:1:1::2", "2001:db8:1:1:ffff:ffff:ffff:ffff"} {
			if code := open(ip); code != http.StatusTooManyRequests {
				t.Fatalf("stream from %s, another address of a full /64: %d, want 429", ip, code)
			}
		}
		// The other /64s of the /48 share clientip.V6SiteFactor streams.
		for i := 2; i <= clientip.V6SiteFactor; i++ {
			if code := open("2001:db8:1:" + strconv.FormatInt(int64(i), 16) + "::1"); code != http.StatusOK {
				t.Fatalf("stream %d of the /48: %d", i, code)
			}
		}
		if code := open("2001:db8:1:ff::1"); code != http.StatusTooManyRequests {
			t.Fatalf("stream from a new /64 of a full /48: %d, want 429", code)
		}
		if code := open("2001:db8:2::1"); code != http.StatusOK {
			t.Fatalf("stream from another /48: %d, want it open", code)
		}
	})
	t.Run("global", func(t *testing.T) {
		e := start(t, spectate.Config{MaxStreams: 2, TrustedProxies: clientip.MustParse("127.0.0.1")})
		room, _ := e.room(opts(t.Name()))
		for i := 0; i < 2; i++ {
			if s, code, _ := e.open(room.ID(), "", http.Header{"X-Forwarded-For": {"198.51.100." + strconv.Itoa(i)}}); s == nil {
				t.Fatalf("stream %d: %d", i, code)
			}
		}
		if _, code, _ := e.open(room.ID(), "", http.Header{"X-Forwarded-For": {"198.51.100.9"}}); code != http.StatusServiceUnavailable {
			t.Fatalf("stream over the global cap: %d, want 503", code)
		}
	})
	t.Run("per room", func(t *testing.T) {
		e := startRT(t, spectate.Config{MaxStreamsPerIP: 8}, game.Config{MaxObservers: 2})
		room, _ := e.room(opts(t.Name()))
		for i := 0; i < 2; i++ {
			if s, code, _ := e.open(room.ID(), "", nil); s == nil {
				t.Fatalf("stream %d: %d", i, code)
			}
		}
		if _, code, body := e.open(room.ID(), "", nil); code != http.StatusConflict {
			t.Fatalf("stream over the room's cap: %d %s, want 409", code, body)
		}
		other, _ := e.room(opts(t.Name() + "-other"))
		if s, code, body := e.open(other.ID(), "", nil); s == nil {
			t.Fatalf("a stream of another room: %d %s, want it open", code, body)
		}
	})
}

// TestStreamsAreInvisibleToPlayers: a stream takes no seat, and the
// players of its room get no join or leave when one opens and closes.
func TestStreamsAreInvisibleToPlayers(t *testing.T) {
	e := start(t, spectate.Config{})
	room, dial := e.room(opts(t.Name()))
	ann := e.member("ann", room.ID())
	bob := e.member("bob", room.ID())
	isEvent := testclient.Is[*tickroomv1.ServerMessage_RoomEvent]
	// ann sees bob join (and the match start); then the feed comes and goes.
	ann.Next(func(m *tickroomv1.ServerMessage) bool { return isEvent(m) && m.GetRoomEvent().GetUserId() == "bob" })
	s, code, body := e.open(room.ID(), "", nil)
	if s == nil {
		t.Fatalf("stream: %d %s", code, body)
	}
	dial.Store(4)
	s.stateWith(`"4"`)
	if info := room.Info(); info.Spectators != 0 || info.Observers != 1 || len(room.Players()) != 2 {
		t.Fatalf("room with a stream open: %+v, want no spectator seat taken and one observer", info)
	}
	s.resp.Body.Close()
	waitFor(t, func() bool { return e.feeds.Open() == 0 && room.Info().Observers == 0 })
	// bob leaves: it is the next member event ann sees, so nothing was
	// sent for the stream.
	bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room.ID()}}})
	ev := ann.Next(func(m *tickroomv1.ServerMessage) bool {
		k := m.GetRoomEvent().GetKind()
		return isEvent(m) && (k == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_JOINED || k == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_LEFT)
	}).GetRoomEvent()
	if ev.GetUserId() != "bob" || ev.GetKind() != tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_LEFT {
		t.Fatalf("ann's next member event: %v, want bob's leave (none for the stream)", ev)
	}
}

// TestStalledSpectatorCannotSlowTheRoom: a client that opens a stream of a
// room whose state changes a lot and then reads nothing. The room ticks on
// (the stalled stream is skipped as congested), a reading spectator keeps
// getting the latest state, and the stalled stream is ended by the write
// timeout, giving its seat back.
func TestStalledSpectatorCannotSlowTheRoom(t *testing.T) {
	e := start(t, spectate.Config{WriteTimeout: 500 * time.Millisecond})
	room, dial := e.room(game.RoomOptions{Options: map[string]string{"dial": t.Name(), "bulk": "1"}})
	e.rawStream(room.ID())
	waitFor(t, func() bool { return room.Info().Observers == 1 })
	reader, _, _ := e.open(room.ID(), "", nil)
	for i := uint64(1); i <= 5; i++ {
		dial.Store(i)
		reader.stateWith(`"` + strconv.FormatUint(i, 10) + `"`)
	}
	// The stalled stream's write times out; its seat is freed.
	waitFor(t, func() bool { return room.Info().Observers == 1 && e.feeds.Open() == 1 })
	if skipped := room.Stats().StateSkipped; skipped == 0 {
		t.Fatalf("the stalled stream was never skipped as congested (stats %+v)", room.Stats())
	}
	dial.Store(99)
	reader.stateWith(`"99"`)
}

func TestRoomEventsAndEnd(t *testing.T) {
	e := start(t, spectate.Config{})
	room, _ := e.room(opts(t.Name()))
	s, _, _ := e.open(room.ID(), "", nil)
	s.state()
	e.member("ann", room.ID())
	if ev := s.next("room"); !strings.Contains(ev.data, `"PLAYER_JOINED"`) && !strings.Contains(ev.data, `"ROOM_EVENT_KIND_PLAYER_JOINED"`) {
		t.Fatalf("room event %s, want ann's join", ev.data)
	}
	room.Close("test over")
	if ev := s.next("end"); ev.data != `{"reason":"room_closed"}` {
		t.Fatalf("end event %q", ev.data)
	}
	waitFor(t, func() bool { return e.feeds.Open() == 0 })
}

func TestCloseEndsStreams(t *testing.T) {
	e := start(t, spectate.Config{})
	room, _ := e.room(opts(t.Name()))
	s, _, _ := e.open(room.ID(), "", nil)
	s.state()
	done := make(chan error, 1)
	go func() { done <- e.feeds.Close(t.Context()) }()
	if ev := s.next("end"); ev.data != `{"reason":"server_shutdown"}` {
		t.Fatalf("end event %q", ev.data)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, code, _ := e.open(room.ID(), "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("stream after Close: %d, want 503", code)
	}
	waitFor(t, func() bool { return room.Info().Observers == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFeedPasswordGuessesAreBounded: a listed room's password could be
// guessed through its spectator feed at the HTTP request rate (each wrong
// one a 403), past the bound on wrong passwords a JoinRoom has; the feed
// now takes from the same per-address bucket, and past it is 429 with a
// Retry-After, the right password too.
func TestFeedPasswordGuessesAreBounded(t *testing.T) {
	e := start(t, spectate.Config{TrustedProxies: clientip.MustParse("127.0.0.1")})
	room, _ := e.room(game.RoomOptions{Password: "sesame"})
	from := http.Header{"X-Forwarded-For": {"198.51.100.7"}}
	wrong := 0
	for i := range 200 {
		_, code, body := e.open(room.ID(), "?password=guess"+strconv.Itoa(i), from)
		if code == http.StatusTooManyRequests {
			break
		}
		if code != http.StatusForbidden {
			t.Fatalf("guess %d: HTTP %d %s, want 403 or 429", i, code, body)
		}
		wrong++
	}
	if wrong > 10 {
		t.Fatalf("%d wrong passwords answered 403 from one address, want 429 past 10", wrong)
	}
	if _, code, _ := e.open(room.ID(), "?password=sesame", from); code != http.StatusTooManyRequests {
		t.Fatalf("the right password while the guesses are spent: HTTP %d, want 429", code)
	}
	// Another address is not held.
	s, code, body := e.open(room.ID(), "?password=sesame", http.Header{"X-Forwarded-For": {"198.51.100.8"}})
	if code != 200 {
		t.Fatalf("the right password from another address: HTTP %d %s", code, body)
	}
	s.resp.Body.Close()
}

// counted returns the value of counter name that c collects.
func counted(t *testing.T, c prometheus.Collector, name string) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 8)
	c.Collect(ch)
	close(ch)
	for m := range ch {
		if strings.Contains(m.Desc().String(), `"`+name+`"`) {
			var out dto.Metric
			if err := m.Write(&out); err != nil {
				t.Fatal(err)
			}
			return out.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s collected", name)
	return 0
}

// A kick refuses the member's session tokens issued before it, at the
// upgrade and in a private room's feed alike: a member who logs in again
// and takes its seat back opens the feed with its new token, while the
// old one, which the kick was there to cut off (a token leaked in a
// link), opens nothing, as the old token's watch pass would not.
func TestKickedMembersOldTokenOpensNoFeed(t *testing.T) {
	e := start(t, spectate.Config{})
	room, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	ann := e.member("ann", room.ID())
	old := e.token("ann")
	if _, code, body := e.open(room.ID(), "?token="+old, nil); code != http.StatusOK {
		t.Fatalf("a member's token before the kick: %d (%s), want 200", code, strings.TrimSpace(body))
	}
	if err := e.hub.Kick("ann", "leaked link"); err != nil {
		t.Fatal(err)
	}
	ann.WaitClosed()
	// Logged in again: a token issued after the kick's second.
	now := time.Now()
	fresh, err := e.auth.Issue(auth.Claims{UserID: "ann", Name: "ann", IssuedAt: now.Add(2 * time.Second), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := testclient.Dial(t, e.wsURL, fresh, testclient.Options{Label: "ann again"})
	if err != nil {
		t.Fatal(err)
	}
	back.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	if r := back.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room.ID()}}}); r.GetError() != nil {
		t.Fatalf("join again: %v", r.GetError())
	}
	if _, code, body := e.open(room.ID(), "?token="+fresh, nil); code != http.StatusOK {
		t.Fatalf("the member's new token: %d (%s), want 200", code, strings.TrimSpace(body))
	}
	if _, code, body := e.open(room.ID(), "?token="+old, nil); code != http.StatusForbidden || !strings.Contains(body, "kick") {
		t.Fatalf("the member's token from before the kick: %d (%s), want 403 naming the kick", code, strings.TrimSpace(body))
	}
}

// TestRefusalsAreReadableFromAnyOrigin: a feed answers a page on any
// origin, and so do its refusals, so that a client built on fetch on an
// overlay's origin can tell a room that is gone, an expired pass or the
// per-address cap (and its Retry-After) from a network failure, rather
// than retry blindly.
func TestRefusalsAreReadableFromAnyOrigin(t *testing.T) {
	e := start(t, spectate.Config{MaxStreamsPerIP: 1})
	private, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	public, _ := e.room(opts(t.Name() + "-public"))
	hdr := http.Header{"Origin": {"http://overlay.example"}}
	for _, c := range []struct {
		name, room string
		want       int
	}{
		{"no such room", "no-such-room", http.StatusNotFound},
		{"private room without a pass", private.ID(), http.StatusUnauthorized},
		{"over the per-address cap", public.ID(), http.StatusTooManyRequests},
	} {
		if c.want == http.StatusTooManyRequests {
			if held, code, _ := e.open(public.ID(), "", hdr); held == nil {
				t.Fatalf("the address's one stream: %d", code)
			}
		}
		req, _ := http.NewRequest("GET", e.http.URL+"/v1/rooms/"+c.room+"/events", nil)
		req.Header = hdr.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s from another origin: %d, Access-Control-Allow-Origin %q; want %d readable by any origin",
				c.name, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), c.want)
		}
		if resp.Header.Get("Retry-After") != "" && !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
			t.Fatalf("%s: Retry-After %q not exposed to another origin (Access-Control-Expose-Headers %q)",
				c.name, resp.Header.Get("Retry-After"), resp.Header.Get("Access-Control-Expose-Headers"))
		}
	}
}

// TestResultComesAfterTheStateThatEndedIt: a feed wrote a match's result
// before the state of the tick that ended it, twice over: the room sent
// the result first, and a stream wrote the room events it held before the
// state it held, whatever order they came in. Paced to one write a
// second, the stream takes the winning move and the result in one go.
func TestResultComesAfterTheStateThatEndedIt(t *testing.T) {
	e := start(t, spectate.Config{MaxRate: 1})
	room, _ := e.room(game.RoomOptions{Options: map[string]string{"dial": t.Name(), "end": "1"}})
	s, code, body := e.open(room.ID(), "", nil)
	if s == nil {
		t.Fatalf("status %d: %s", code, body)
	}
	s.state()
	ann := e.member("ann", room.ID())
	s.next("room") // ann's join
	ann.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room.ID(), Seq: 1, Data: []byte("move")}}})
	shown := `"0"`
	for {
		ev := s.next("")
		if ev.name == "state" {
			for _, u := range s.decode(ev).Upserts {
				if u.ID == 1 {
					shown = string(u.Value)
				}
			}
		}
		if ev.name == "room" && strings.Contains(ev.data, "MATCH_ENDED") {
			break
		}
	}
	if shown != `"7"` {
		t.Fatalf("the feed's result came while its state showed %s, want the winning move's \"7\"", shown)
	}
}

// TestSlowFeedGetsTheFinalStateBeforeTheResult: the room hands the state
// of the tick that ended the match to a stream whose last state still
// waits to be written (paced to one write a second) rather than skip it,
// so that it comes before the result. The stream holds both states in
// order, rather than ending as overrun.
func TestSlowFeedGetsTheFinalStateBeforeTheResult(t *testing.T) {
	e := start(t, spectate.Config{MaxRate: 1})
	room, dial := e.room(game.RoomOptions{Options: map[string]string{"dial": t.Name(), "end": "1"}})
	s, code, body := e.open(room.ID(), "", nil)
	if s == nil {
		t.Fatalf("status %d: %s", code, body)
	}
	s.state()
	ann := e.member("ann", room.ID())
	s.next("room") // ann's join, written: the next write waits a second
	tick := room.Info().Tick
	dial.Store(5) // a state for the stream, which waits with it
	waitFor(t, func() bool { return room.Info().Tick > tick+2 })
	ann.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room.ID(), Seq: 1, Data: []byte("move")}}})
	var shown []string
	for {
		ev := s.next("")
		if ev.name == "state" {
			for _, u := range s.decode(ev).Upserts {
				if u.ID == 1 {
					shown = append(shown, string(u.Value))
				}
			}
		}
		if ev.name == "room" && strings.Contains(ev.data, "MATCH_ENDED") {
			break
		}
	}
	if !slices.Equal(shown, []string{`"5"`, `"7"`}) {
		t.Fatalf("the feed showed %v before the result, want the waiting state's \"5\" and the winning move's \"7\"", shown)
	}
}
