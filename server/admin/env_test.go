package admin_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/internal/syncbuf"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/admin"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
)

const adminToken = "s3cret-admin-token"

// env is a running WebSocket server with the hub, and the admin handler on
// an httptest server.
type env struct {
	t     testing.TB
	srv   *server.Server
	hub   *hub.Hub
	auth  *auth.Authority
	wsURL string
	admin *httptest.Server
	ah    *admin.Handler
	logs  *syncbuf.Buffer
}

func start(t testing.TB, token string) *env {
	t.Helper()
	return startWith(t, token, nil)
}

// startWith is start with the admin Config adjusted by adjust; then the
// admin handler is served by its own Server, with the admin port's
// bounds. (start's httptest server has net/http's: a test may send
// heads of a megabyte and open any number of connections.)
func startWith(t testing.TB, token string, adjust func(*admin.Config)) *env {
	t.Helper()
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "test", Secret: bytes.Repeat([]byte{9}, 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 2, SlowCloseCode: ws.StatusCode(protocol.CloseSlowClient)})
	if err != nil {
		t.Fatal(err)
	}
	reg := game.NewRegistry()
	if err := reg.Register(game.Definition{Name: "count", New: newCount, TickRate: 50, MaxPlayers: 4}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(arena.Definition()); err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Config{Server: srv, Auth: a, Games: reg, Runtime: game.Config{Shards: 1}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(hub.Path, h)
	h.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	acfg := admin.Config{Hub: h, Server: srv, Token: token, Games: reg, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if adjust != nil {
		adjust(&acfg)
	}
	ah, err := admin.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(ah)
	if adjust != nil {
		hs.Config, hs.Listener = ah.Server(hs.Listener)
	}
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	return &env{t: t, srv: srv, hub: h, auth: a, wsURL: "ws://" + srv.Addr().String() + hub.Path, admin: hs, ah: ah, logs: logs}
}

// do sends an admin request with token (none when empty) and returns the
// status and body.
func (e *env) do(method, path, token, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.admin.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// client is a tickroom.v1 test client.
type client struct {
	*testclient.Client
	t testing.TB
}

// connect logs user in and waits for Welcome.
func (e *env) connect(user string) *client {
	e.t.Helper()
	now := time.Now()
	tok, err := e.auth.Issue(auth.Claims{UserID: user, Name: user, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	c, _, err := testclient.Dial(e.t, e.wsURL, tok, testclient.Options{Label: user})
	if err != nil {
		e.t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return &client{Client: c, t: e.t}
}

// join creates a count room (roomID empty) or joins one, and returns its id.
func (c *client) join(roomID string) string {
	c.t.Helper()
	if roomID == "" {
		return c.create("count")
	}
	return c.joinMsg(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: roomID}}})
}

// create creates a room of gameName and returns its id.
func (c *client) create(gameName string) string {
	c.t.Helper()
	return c.joinMsg(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: gameName}}})
}

// joinMsg sends a create or join request and returns the joined room's id.
func (c *client) joinMsg(m *tickroomv1.ClientMessage) string {
	c.t.Helper()
	j := c.Request(m).GetJoined()
	if j == nil {
		c.t.Fatal("join refused")
	}
	return j.RoomId
}

// count is the admin tests' game: each input bumps the sender's entity.
type count struct{ vals map[uint64]int }

func newCount(game.Setup) (game.Game, error) { return &count{vals: map[uint64]int{}}, nil }

func (g *count) Accept(*game.Context, game.Player) error            { return nil }
func (g *count) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *count) Update(*game.Context, time.Duration)                {}
func (g *count) Input(_ *game.Context, seat uint32, _ []byte) error {
	g.vals[uint64(seat)]++
	return nil
}
func (g *count) Encode(s *game.Snapshot) {
	for id, v := range g.vals {
		s.EntityBytes(id, strconv.AppendInt(nil, int64(v), 10))
	}
}
