package spectate_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/spectate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// env is a tickroom server (WebSocket port and hub) with the feeds on an
// HTTP test server in front of the same rooms.
type env struct {
	t     *testing.T
	hub   *hub.Hub
	auth  *auth.Authority
	feeds *spectate.Feeds
	http  *httptest.Server
	wsURL string
}

// start runs the stack with the "dial" game; cfg's zero fields get test
// values.
func start(t *testing.T, cfg spectate.Config) *env {
	t.Helper()
	return startRT(t, cfg, game.Config{})
}

// startRT is start with the room runtime's config rc (Shards defaults to 2).
func startRT(t *testing.T, cfg spectate.Config, rc game.Config) *env {
	t.Helper()
	return startHub(t, cfg, hub.Config{Runtime: rc})
}

// startHub is start with the hub's config hc (its Server, Auth and Games
// are the test's).
func startHub(t *testing.T, cfg spectate.Config, hc hub.Config) *env {
	t.Helper()
	rc := hc.Runtime
	if rc.Shards == 0 {
		rc.Shards = 2
	}
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "test", Secret: bytes.Repeat([]byte{7}, 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	reg := game.NewRegistry()
	if err := reg.Register(dialDefinition()); err != nil {
		t.Fatal(err)
	}
	hc.Server, hc.Auth, hc.Games, hc.Runtime = srv, a, reg, rc
	h, err := hub.New(hc)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(hub.Path, h)
	h.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	cfg.Rooms, cfg.Members, cfg.Auth, cfg.Games, cfg.Guesses, cfg.Passes = h.Runtime(), h, a, reg, h, h
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = time.Hour // keep-alive lines only where a test wants them
	}
	if cfg.MaxRate == 0 {
		cfg.MaxRate = 100
	}
	feeds, err := spectate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	feeds.Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = feeds.Close(ctx)
		hs.Close()
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	return &env{t: t, hub: h, auth: a, feeds: feeds, http: hs, wsURL: "ws://" + srv.Addr().String() + hub.Path}
}

// room creates a dial room; the returned dial sets the value its entity 1
// shows.
func (e *env) room(opts game.RoomOptions) (*game.Room, *atomic.Uint64) {
	e.t.Helper()
	opts.Game = "dial"
	r, err := e.hub.Runtime().CreateRoom(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return r, dialFor(opts.Options["dial"])
}

func (e *env) token(user string) string {
	e.t.Helper()
	now := time.Now()
	tok, err := e.auth.Issue(auth.Claims{UserID: user, Name: user, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// dials maps a room's "dial" option to the value the test sets; the game
// reads it on its tick worker.
var dials sync.Map

// dialFor returns the dial named name, making it on first use.
func dialFor(name string) *atomic.Uint64 {
	d, _ := dials.LoadOrStore(name, &atomic.Uint64{})
	return d.(*atomic.Uint64)
}

// dialGame shows one entity (id 1) holding the dial's value, as a
// google.protobuf.UInt64Value, and globals counting its changes; Bulk adds
// entity 2 with that many bytes, new every tick (for slow-reader tests);
// Tick makes the globals count ticks instead, so every tick has a delta;
// Stone adds entity 3, a gomoku Stone at x = 0, y = the dial's value;
// hold names the hold (holdRoom) its Encode waits in; End makes an
// input set the dial to 7 and end the match, its sender the winner.
type dialGame struct {
	v     *atomic.Uint64
	bulk  int
	stone bool
	tick  bool
	end   bool
	hold  string
	n     uint64
}

// holds maps a room's "hold" option to the hold a test set (holdRoom).
var holds sync.Map

// hold keeps a room's tick worker in its game's next Encode: entered is
// closed once it waits there, and it waits until gate is closed.
type hold struct {
	entered, gate chan struct{}
	release       func() // closes gate, once
}

// holdRoom makes the next Encode of the dial room whose "hold" option is
// name wait until the hold is released, or t ends.
func holdRoom(t *testing.T, name string) *hold {
	h := &hold{entered: make(chan struct{}), gate: make(chan struct{})}
	h.release = sync.OnceFunc(func() { close(h.gate) })
	holds.Store(name, h)
	t.Cleanup(h.release)
	return h
}

func dialDefinition() game.Definition {
	u64 := (*wrapperspb.UInt64Value)(nil).ProtoReflect().Type()
	return game.Definition{
		Name: "dial", TickRate: 50, MaxPlayers: 2, MaxSpectators: 8,
		New: func(s game.Setup) (game.Game, error) {
			g := &dialGame{v: dialFor(s.Options["dial"])}
			if s.Options["bulk"] != "" {
				g.bulk = 64 << 10
			}
			g.stone = s.Options["stone"] != ""
			g.tick = s.Options["tick"] != ""
			g.end = s.Options["end"] != ""
			g.hold = s.Options["hold"]
			return g, nil
		},
		Schema: game.Schema{
			Globals: u64,
			Entity: func(id uint64) protoreflect.MessageType {
				switch id {
				case 1:
					return u64
				case 3:
					return (*gomokuv1.Stone)(nil).ProtoReflect().Type()
				}
				return nil
			},
		},
	}
}

func (g *dialGame) Accept(*game.Context, game.Player) error            { return nil }
func (g *dialGame) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *dialGame) Input(ctx *game.Context, seat uint32, _ []byte) error {
	if g.end {
		g.v.Store(7)
		ctx.End(game.MatchResult{WinnerSeats: []uint32{seat}, Reason: "won"})
	}
	return nil
}

func (g *dialGame) Update(*game.Context, time.Duration) {}
func (g *dialGame) Encode(s *game.Snapshot) {
	if g.hold != "" {
		if v, ok := holds.LoadAndDelete(g.hold); ok {
			h := v.(*hold)
			close(h.entered)
			<-h.gate
		}
	}
	v := g.v.Load()
	b, _ := proto.Marshal(wrapperspb.UInt64(v))
	s.EntityBytes(1, b)
	if g.bulk > 0 {
		g.n++
		big := bytes.Repeat([]byte{byte(g.n)}, g.bulk)
		s.EntityBytes(2, big)
	}
	if g.stone {
		b, _ := proto.Marshal(&gomokuv1.Stone{X: 0, Y: uint32(v), Seat: 1, Move: 1})
		s.EntityBytes(3, b)
	}
	gv := v * 10
	if g.tick { // globals change every tick
		g.n++
		gv = g.n
	}
	gb, _ := proto.Marshal(wrapperspb.UInt64(gv))
	s.GlobalsBytes(gb)
}

// event is one Server-Sent Event.
type event struct {
	id, name, data string
}

// stateEvent is a "state" event's JSON.
type stateEvent struct {
	Room     string `json:"room"`
	Tick     uint64 `json:"tick"`
	BaseTick uint64 `json:"base_tick"`
	Keyframe bool   `json:"keyframe"`
	Upserts  []struct {
		ID    uint64          `json:"id"`
		Value json.RawMessage `json:"value"`
		Bytes []byte          `json:"bytes"`
	} `json:"upserts"`
	Removed []uint64        `json:"removed"`
	Globals json.RawMessage `json:"globals"`
}

// sse is an open event stream.
type sse struct {
	t      *testing.T
	resp   *http.Response
	events chan event
}

// open requests the feed of room with query and headers; a non-200
// answer is returned with its body and a nil stream.
func (e *env) open(room, query string, header http.Header) (*sse, int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+"/v1/rooms/"+room+"/events"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.stream(resp)
}

// openLater is open for a stream that answers only later: it asks at once
// and returns a func that waits for the answer, which must be a stream.
func (e *env) openLater(room string, header http.Header) func() *sse {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+"/v1/rooms/"+room+"/events", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	type answer struct {
		resp *http.Response
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		ch <- answer{resp, err}
	}()
	return func() *sse {
		e.t.Helper()
		var a answer
		select {
		case a = <-ch:
		case <-time.After(10 * time.Second):
			e.t.Fatal("no answer to the stream's request in 10 s")
		}
		if a.err != nil {
			e.t.Fatal(a.err)
		}
		s, code, body := e.stream(a.resp)
		if s == nil {
			e.t.Fatalf("status %d: %s", code, body)
		}
		return s
	}
}

// stream reads resp as an event stream; a non-200 answer is returned with
// its body and a nil stream.
func (e *env) stream(resp *http.Response) (*sse, int, string) {
	e.t.Helper()
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, b.String()
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		e.t.Fatalf("Content-Type %q", ct)
	}
	s := &sse{t: e.t, resp: resp, events: make(chan event, 1024)}
	go s.read()
	e.t.Cleanup(func() { resp.Body.Close() })
	return s, 200, ""
}

func (s *sse) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var ev event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				s.events <- ev
			}
			ev = event{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

// next returns the next event named name, skipping others; with name
// "", the next event.
func (s *sse) next(name string) event {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("stream ended while waiting for a %q event", name)
			}
			if name == "" || ev.name == name {
				return ev
			}
		case <-timeout:
			s.t.Fatalf("no %q event", name)
		}
	}
}

// state returns the next state event, decoded.
func (s *sse) state() (stateEvent, event) {
	s.t.Helper()
	ev := s.next("state")
	return s.decode(ev), ev
}

// decode decodes a state event's JSON.
func (s *sse) decode(ev event) stateEvent {
	s.t.Helper()
	var st stateEvent
	if err := json.Unmarshal([]byte(ev.data), &st); err != nil {
		s.t.Fatalf("state event %q: %v", ev.data, err)
	}
	return st
}

// stateWith waits for a state whose entity 1 shows want.
func (s *sse) stateWith(want string) stateEvent {
	s.t.Helper()
	for {
		st, _ := s.state()
		for _, u := range st.Upserts {
			if u.ID == 1 && string(u.Value) == want {
				return st
			}
		}
	}
}

// member connects user over WebSocket and seats it in room.
func (e *env) member(user, room string) *testclient.Client {
	e.t.Helper()
	return e.memberWith(user, room, "")
}

// memberWith is member for a room with a password.
func (e *env) memberWith(user, room, password string) *testclient.Client {
	e.t.Helper()
	c, _, err := testclient.Dial(e.t, e.wsURL, e.token(user), testclient.Options{Label: user})
	if err != nil {
		e.t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	r := c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Password: password}}})
	if r.GetError() != nil {
		e.t.Fatalf("join: %v", r.GetError())
	}
	return c
}

// rawStream opens a stream on a bare TCP connection that the test then
// leaves unread.
func (e *env) rawStream(room string) net.Conn {
	e.t.Helper()
	nc, err := net.Dial("tcp", e.http.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	e.t.Cleanup(func() { nc.Close() })
	_, _ = nc.Write([]byte("GET /v1/rooms/" + room + "/events HTTP/1.1\r\nHost: x\r\n\r\n"))
	return nc
}
