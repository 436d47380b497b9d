package tickroom_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/tickroomtest"
)

// race is a game from outside the built-in set: each "+" input moves the
// sender's counter on; the first to reach three wins. Entity id = seat,
// data = the counter as one byte.
type race struct{ at map[uint32]byte }

func raceDefinition() game.Definition {
	return game.Definition{
		Name: "race", TickRate: 30, MaxPlayers: 2,
		New: func(game.Setup) (game.Game, error) { return &race{at: map[uint32]byte{}}, nil },
	}
}

func (g *race) Accept(*game.Context, game.Player) error { return nil }

func (g *race) Notice(_ *game.Context, kind game.NoticeKind, p game.Player) {
	if kind == game.NoticeJoined && !p.Spectator {
		g.at[p.Seat] = 0
	}
}

func (g *race) Input(ctx *game.Context, seat uint32, data []byte) error {
	if string(data) != "+" {
		return &game.InputError{Code: 1, Text: "send +"}
	}
	if ctx.Phase() != game.PhaseRunning {
		return &game.InputError{Code: 2, Text: "the race is over"}
	}
	g.at[seat]++
	if g.at[seat] == 3 {
		res := game.MatchResult{WinnerSeats: []uint32{seat}, Reason: "finished"}
		for s, n := range g.at {
			res.Scores = append(res.Scores, game.SeatScore{Seat: s, Score: int64(n)})
		}
		ctx.End(res)
	}
	return nil
}

func (g *race) Update(*game.Context, time.Duration) {}

func (g *race) Encode(s *game.Snapshot) {
	for seat, n := range g.at {
		s.EntityBytes(uint64(seat), []byte{n})
	}
}

// start runs a server on loopback ports with opts adjusted
// (tickroomtest.Start) and returns it with the cancel of its Run context
// and Run's result.
func start(t *testing.T, opts tickroom.Options) (*tickroom.Server, context.CancelFunc, <-chan error) {
	t.Helper()
	srv := tickroomtest.Start(t, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		done <- srv.Run(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return srv, cancel, done
}

// startRegistered is start for a node of a cluster, returned once the
// node is registered in Redis (NodeReady). Until its first heartbeat has
// written its address there, Redis takes no seat in its rooms (the room
// is "lost"), and a room made there meanwhile, its creator's join let
// through, counts one player fewer in the directory until the node's
// next sync writes its seats: never, in a test that syncs hourly
// (WithDirectorySync).
func startRegistered(t *testing.T, opts tickroom.Options) *tickroom.Server {
	t.Helper()
	srv, _, _ := start(t, opts)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		err := tickroom.NodeReady(srv)
		if err == nil {
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node not registered in Redis 10 s after it started: %v", err)
		}
	}
}

// login logs name in as a guest over the public HTTP port.
func login(t *testing.T, srv *tickroom.Server, name string) string {
	t.Helper()
	resp, err := http.Post("http://"+srv.HTTPAddr().String()+"/v1/login", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("login %s: status %d, %v", name, resp.StatusCode, err)
	}
	return out.Token
}

func dial(t *testing.T, srv *tickroom.Server, name string) *testclient.Client {
	t.Helper()
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, login(t, srv, name), testclient.Options{Label: name})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return c
}

func input(c *testclient.Client, room string, seq uint32, data string) {
	c.Write(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room, Seq: seq, Data: []byte(data)}}})
}

// TestServerPlaysARegisteredGame runs a game registered by the library's
// user end to end: two players quick-match it over real connections, play
// it to its end, see the result, and the result reaches OnResult with who
// played; cancelling Run's context closes them with the resumable shutdown
// code and Run returns nil.
func TestServerPlaysARegisteredGame(t *testing.T) {
	t.Parallel()
	results := make(chan game.Result, 4)
	srv, cancel, done := start(t, tickroom.Options{
		Games:    []game.Definition{raceDefinition()},
		OnResult: func(r game.Result) { results <- r },
	})

	resp, err := http.Get("http://" + srv.HTTPAddr().String() + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Port  int      `json:"ws_port"`
		Path  string   `json:"ws_path"`
		Games []string `json:"games"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	if cfg.Path != tickroom.WebSocketPath || len(cfg.Games) != 1 || cfg.Games[0] != "race" || port == "" || cfg.Port == 0 {
		t.Fatalf("/v1/config = %+v, server on %s", cfg, srv.Addr())
	}

	ada, bob := dial(t, srv, "ada"), dial(t, srv, "bob")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	ja := ada.Request(qm).GetJoined()
	jb := bob.Request(qm).GetJoined()
	if ja == nil || jb == nil || ja.GetRoomId() != jb.GetRoomId() {
		t.Fatalf("quick-match: %v / %v", ja, jb)
	}
	room := ja.GetRoomId()

	input(bob, room, 1, "jump")
	if m := bob.Next(testclient.Is[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage(); m.Code != 1 || m.Text != "send +" {
		t.Fatalf("refused input: %v", m)
	}
	for seq := uint32(1); seq <= 3; seq++ {
		input(ada, room, seq, "+")
	}
	ended := func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
	}
	for _, c := range []*testclient.Client{ada, bob} {
		res := c.Next(ended).GetRoomEvent().GetResult()
		if res.GetReason() != "finished" || len(res.GetWinnerSeats()) != 1 || res.GetWinnerSeats()[0] != ja.GetSeat() {
			t.Fatalf("match ended with %v, want seat %d winning", res, ja.GetSeat())
		}
	}
	select {
	case r := <-results:
		w := r.Winners()
		if r.RoomID != room || r.Game != "race" || len(r.Players) != 2 || len(w) != 1 || w[0].Name != "ada" || r.Ended.Before(r.Started) {
			t.Fatalf("result %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result reported")
	}

	cancel()
	for _, c := range []*testclient.Client{ada, bob} {
		if code := c.WaitClosed(); code != int(protocol.CloseServerShutdown) {
			t.Fatalf("close code %d, want %d", code, protocol.CloseServerShutdown)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := net.Dial("tcp", srv.Addr().String()); err == nil {
		t.Fatal("the WebSocket port still accepts after Run returned")
	}
}

// TestServerServesPages serves a studio's own page on the public port
// with the headers that keep other users' text from running as script.
func TestServerServesPages(t *testing.T) {
	t.Parallel()
	pages := fstest.MapFS{"index.html": {Data: []byte("<h1>my game</h1>")}}
	srv, _, _ := start(t, tickroom.Options{Pages: pages})
	resp, err := http.Get("http://" + srv.HTTPAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "<h1>my game</h1>" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("GET /: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// TestServerAdmin serves the admin port with the token given, and refuses
// an explicit admin address that is taken.
func TestServerAdmin(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{AdminAddr: "127.0.0.1:0", AdminToken: "s3cret"})
	if srv.AdminToken() != "s3cret" || srv.AdminAddr() == nil {
		t.Fatalf("admin %v token %q", srv.AdminAddr(), srv.AdminToken())
	}
	for token, want := range map[string]int{"s3cret": 200, "wrong": 401} {
		req, _ := http.NewRequest("GET", "http://"+srv.AdminAddr().String()+"/v1/admin/overview", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}

	taken := srv.AdminAddr().String()
	other, err := tickroom.New(tickroom.Options{Addr: "127.0.0.1:0", HTTPAddr: tickroom.Off, AdminAddr: taken})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); err == nil {
		t.Fatalf("Start with admin address %s taken: no error", taken)
	}
	if _, err := net.Dial("tcp", other.Addr().String()); err == nil {
		t.Fatal("a server that failed to start still accepts WebSocket connections")
	}
	if err := other.Start(); !errors.Is(err, tickroom.ErrServerClosed) {
		t.Fatalf("second Start: %v, want ErrServerClosed", err)
	}
}

// TestServerRefuses covers the options and calls the library refuses.
func TestServerRefuses(t *testing.T) {
	t.Parallel()
	bad := []struct {
		name string
		opts tickroom.Options
		want error
	}{
		{"websocket off", tickroom.Options{Addr: tickroom.Off}, tickroom.ErrOptions},
		{"short token key", tickroom.Options{TokenKey: []byte("short")}, tickroom.ErrOptions},
		{"chat history past a page", tickroom.Options{ChatHistoryLines: 501}, tickroom.ErrOptions},
		{"guests kept no longer than a token", tickroom.Options{DataDir: "unused", GuestTTL: 24 * time.Hour}, tickroom.ErrOptions},
		{"guests kept no longer than a longer token", tickroom.Options{DataDir: "unused", GuestTTL: 48 * time.Hour, TokenTTL: 72 * time.Hour}, tickroom.ErrOptions},
		{"tokens outliving the default GuestTTL", tickroom.Options{DatabaseURL: "postgres://unused", TokenTTL: 31 * 24 * time.Hour}, tickroom.ErrOptions},
		{"public WebSocket URL without its scheme", tickroom.Options{PublicWebSocketURL: "play.example.com/v1/ws"}, tickroom.ErrOptions},
		{"public WebSocket URL without a host", tickroom.Options{PublicWebSocketURL: "wss:///v1/ws"}, tickroom.ErrOptions},
		{"duplicate game", tickroom.Options{Games: []game.Definition{raceDefinition(), raceDefinition()}}, game.ErrDuplicateGame},
		{"game without New", tickroom.Options{Games: []game.Definition{{Name: "empty"}}}, game.ErrInvalidDefinition},
		{"tick rate", tickroom.Options{Games: []game.Definition{{Name: "fast", TickRate: 500, New: raceDefinition().New}}}, game.ErrInvalidDefinition},
		{"NaN session rate", tickroom.Options{SessionRate: math.NaN()}, tickroom.ErrOptions},
		{"NaN room list rate", tickroom.Options{RoomListRatePerIP: math.NaN()}, tickroom.ErrOptions},
		{"NaN room creation rate", tickroom.Options{RoomCreateRate: math.NaN()}, tickroom.ErrOptions},
		{"NaN guest login rate", tickroom.Options{GuestLoginRate: math.NaN()}, tickroom.ErrOptions},
		{"NaN spectator open rate", tickroom.Options{SpectatorOpenRate: math.NaN()}, tickroom.ErrOptions},
	}
	for _, tc := range []struct {
		field string
		opts  tickroom.Options
	}{
		{"TokenTTL", tickroom.Options{TokenTTL: -time.Hour}},
		{"GuestTTL", tickroom.Options{GuestTTL: -time.Hour}},
		{"GuestLoginRate", tickroom.Options{GuestLoginRate: -1}},
		{"RoomListRatePerIP", tickroom.Options{RoomListRatePerIP: -1}},
		{"GuestLoginBurst", tickroom.Options{GuestLoginBurst: -1}},
		{"MaxSpectatorStreams", tickroom.Options{MaxSpectatorStreams: -1}},
		{"MaxSpectatorStreamsPerIP", tickroom.Options{MaxSpectatorStreamsPerIP: -1}},
		{"SpectatorOpenRate", tickroom.Options{SpectatorOpenRate: -1}},
		{"SpectatorOpenBurst", tickroom.Options{SpectatorOpenBurst: -1}},
		{"Loops", tickroom.Options{Loops: -1}},
		{"Shards", tickroom.Options{Shards: -1}},
		{"MaxConns", tickroom.Options{MaxConns: -1}},
		{"MaxConnsPerIP", tickroom.Options{MaxConnsPerIP: -1}},
		{"MaxOutboundBytes", tickroom.Options{MaxOutboundBytes: -1}},
		{"MaxFrameSize", tickroom.Options{MaxFrameSize: -1}},
		{"MaxMessageSize", tickroom.Options{MaxMessageSize: -5}},
		{"MessageRate", tickroom.Options{MessageRate: -1}},
		{"DropGrace", tickroom.Options{DropGrace: -3 * time.Second}},
		{"ShutdownTimeout", tickroom.Options{ShutdownTimeout: -time.Second}},
		{"StoreQueue", tickroom.Options{StoreQueue: -1}},
		{"RoomCreateRate", tickroom.Options{RoomCreateRate: -0.5}},
		{"RoomCreateBurst", tickroom.Options{RoomCreateBurst: -1}},
		{"MaxRoomCostPerUser", tickroom.Options{MaxRoomCostPerUser: -1}},
		{"KickDuration", tickroom.Options{KickDuration: -time.Minute}},
		{"MaxRoomsPerUser", tickroom.Options{MaxRoomsPerUser: -1}},
		{"BanDuration", tickroom.Options{BanDuration: -time.Minute}},
	} {
		t.Run("negative "+tc.field, func(t *testing.T) {
			_, err := tickroom.New(tc.opts)
			if !errors.Is(err, tickroom.ErrOptions) || !strings.HasPrefix(err.Error(), "tickroom: ") || !strings.Contains(err.Error(), tc.field+" is negative") {
				t.Fatalf("New with negative %s: %v, want ErrOptions naming it", tc.field, err)
			}
		})
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tickroom.New(tc.opts); !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("register after start", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{HTTPAddr: tickroom.Off})
		if err := srv.Register(raceDefinition()); !errors.Is(err, tickroom.ErrStarted) {
			t.Fatalf("Register after Start: %v", err)
		}
	})
}

// TestServerRoomBudgetOptions: the room creation budget and the cap on a
// user's live rooms come from Options. A race room (30 Hz, 2 players)
// costs 2 units.
func TestServerRoomBudgetOptions(t *testing.T) {
	t.Parallel()
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}
	errCode := func(m *tickroomv1.ServerMessage) tickroomv1.ErrorCode { return m.GetError().GetCode() }
	t.Run("burst", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, RoomCreateBurst: 4, RoomCreateRate: 0.001})
		ada := dial(t, srv, "ada")
		for i := range 2 {
			j := ada.Request(create).GetJoined()
			if j == nil {
				t.Fatalf("create %d refused", i)
			}
			leave := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: j.RoomId}}}
			if ada.Request(leave).GetLeft() == nil {
				t.Fatalf("leave %d refused", i)
			}
		}
		m := ada.Request(create)
		if errCode(m) != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || m.GetError().GetRetryAfterMs() == 0 {
			t.Fatalf("third create past a 4-unit burst: %v", m)
		}
	})
	t.Run("rooms per user", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, MaxRoomsPerUser: 1})
		ada := dial(t, srv, "ada")
		if ada.Request(create).GetJoined() == nil {
			t.Fatal("first create refused")
		}
		if m := ada.Request(create); errCode(m) != tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM {
			t.Fatalf("a second room at MaxRoomsPerUser 1: %v", m)
		}
	})
	t.Run("live rooms", func(t *testing.T) {
		srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, MaxRoomCostPerUser: 2})
		ada := dial(t, srv, "ada")
		if ada.Request(create).GetJoined() == nil {
			t.Fatal("first create refused")
		}
		if m := ada.Request(create); errCode(m) != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT {
			t.Fatalf("second live room past a 2-unit cap: %v", m)
		}
	})
}

// TestServerLimitsGuestLoginsPerAddress floods the public login with guest
// logins from loopback: past Options.GuestLoginBurst they get 429 with
// Retry-After; with GuestLoginRate +Inf (a load test) the limit is off.
func TestServerLimitsGuestLoginsPerAddress(t *testing.T) {
	post := func(srv *tickroom.Server) *http.Response {
		t.Helper()
		resp, err := http.Post("http://"+srv.HTTPAddr().String()+"/v1/login", "application/json", strings.NewReader(`{"name":"ann"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	srv, _, _ := start(t, tickroom.Options{GuestLoginRate: 0.01, GuestLoginBurst: 3})
	for i := range 3 {
		if resp := post(srv); resp.StatusCode != http.StatusOK {
			t.Fatalf("login %d: %d", i, resp.StatusCode)
		}
	}
	resp := post(srv)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth login: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	open, _, _ := start(t, tickroom.Options{GuestLoginRate: math.Inf(1)})
	for i := range 30 {
		if resp := post(open); resp.StatusCode != http.StatusOK {
			t.Fatalf("login %d with the limit off: %d", i, resp.StatusCode)
		}
	}
}

// TestServerServesICEServers: a logged-in player gets the configured STUN
// and TURN servers, the TURN ones with credentials for its own user id;
// without a session token the answer is 401.
func TestServerServesICEServers(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{
		ICEURLs: []string{"stun:stun.example.com:3478", "turn:turn.example.com:3478"}, TURNSecret: []byte("turn-secret"),
	})
	url := "http://" + srv.HTTPAddr().String() + "/v1/ice-servers"
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %v %v, want 401", resp.StatusCode, err)
	}
	tok := login(t, srv, "ann")
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Servers []struct {
			URLs       []string `json:"urls"`
			Username   string   `json:"username"`
			Credential string   `json:"credential"`
		} `json:"ice_servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || len(body.Servers) != 2 {
		t.Fatalf("status %d, %+v, %v", resp.StatusCode, body, err)
	}
	turn := body.Servers[1]
	if turn.URLs[0] != "turn:turn.example.com:3478" || turn.Credential == "" || !strings.Contains(turn.Username, ":") {
		t.Fatalf("TURN entry %+v", turn)
	}
	if _, user, _ := strings.Cut(turn.Username, ":"); user == "" {
		t.Fatalf("TURN username %q names no user", turn.Username)
	}
}
