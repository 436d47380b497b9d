package hub_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
)

// env is a running server with the hub on hub.Path.
type env struct {
	t    *testing.T
	srv  *server.Server
	hub  *hub.Hub
	auth *auth.Authority
	url  string
}

type options struct {
	hub    func(*hub.Config)
	server func(*server.Config)
	games  func(*game.Registry)
	made   func(*hub.Hub) // runs before the hub starts
}

// start runs a server on 127.0.0.1:0 with the tally fixture game and
// whatever opts register; it is shut down in t.Cleanup.
func start(t *testing.T, opts options) *env {
	t.Helper()
	a, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "test", Secret: bytes.Repeat([]byte{7}, 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	// The transport's rate limit, which the hub relies on, closes with the
	// protocol's code, as the tickroom package wires it.
	scfg := server.Config{Addr: "127.0.0.1:0", Loops: 2, RateCloseCode: server.StatusCode(protocol.CloseRateLimited)}
	if opts.server != nil {
		opts.server(&scfg)
	}
	srv, err := server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := game.NewRegistry()
	if err := reg.Register(game.Definition{Name: "tally", New: newTally, TickRate: 50, MaxPlayers: 4}); err != nil {
		t.Fatal(err)
	}
	if opts.games != nil {
		opts.games(reg)
	}
	hcfg := hub.Config{Server: srv, Auth: a, Games: reg, Runtime: game.Config{Shards: 2}}
	if opts.hub != nil {
		opts.hub(&hcfg)
	}
	h, err := hub.New(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.made != nil {
		opts.made(h)
	}
	srv.Handle(hub.Path, h)
	h.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	return &env{t: t, srv: srv, hub: h, auth: a, url: "ws://" + srv.Addr().String() + hub.Path}
}

func (e *env) token(user string, ttl time.Duration) string {
	e.t.Helper()
	now := time.Now()
	tok, err := e.auth.Issue(auth.Claims{UserID: user, Name: "name-" + user, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(ttl)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// connect logs user in and waits for Welcome.
func (e *env) connect(user string) (*client, *tickroomv1.Welcome) {
	e.t.Helper()
	return e.connectToken(user, e.token(user, time.Hour))
}

func (e *env) connectToken(user, tok string) (*client, *tickroomv1.Welcome) {
	e.t.Helper()
	c, _, err := dial(e.t, e.url, tok)
	if err != nil {
		e.t.Fatalf("dial %s: %v", user, err)
	}
	c.user = user
	w := c.Next(isKind[*tickroomv1.ServerMessage_Welcome]).GetWelcome()
	return c, w
}

// tally is the hub tests' game: each player's entity (id = seat) counts the
// "+" inputs it sent; "!" is refused with a game error; globals count every
// applied input.
type tally struct {
	vals    map[uint64]int
	applied int
}

func newTally(game.Setup) (game.Game, error) { return &tally{vals: map[uint64]int{}}, nil }

func (g *tally) Accept(*game.Context, game.Player) error { return nil }

func (g *tally) Notice(_ *game.Context, kind game.NoticeKind, p game.Player) {
	switch {
	case kind == game.NoticeJoined && !p.Spectator:
		g.vals[uint64(p.Seat)] = 0
	case kind == game.NoticeLeft:
		delete(g.vals, uint64(p.Seat))
	}
}

func (g *tally) Input(_ *game.Context, seat uint32, data []byte) error {
	if string(data) == "!" {
		return &game.InputError{Code: 1, Text: "refused"}
	}
	g.vals[uint64(seat)]++
	g.applied++
	return nil
}

func (g *tally) Update(*game.Context, time.Duration) {}

func (g *tally) Encode(s *game.Snapshot) {
	for id, v := range g.vals {
		s.EntityBytes(id, strconv.AppendInt(nil, int64(v), 10))
	}
	s.GlobalsBytes(strconv.AppendInt(nil, int64(g.applied), 10))
}

// Message constructors.
func quickMatch(gameName string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: gameName}}}
}

func joinRoom(id string, resumeTick uint64) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: id, ResumeTick: resumeTick}}}
}

func input(room string, seq uint32, data []byte) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room, Seq: seq, Data: data}}}
}

// joined fails the test unless m is Joined and returns it.
func joined(t *testing.T, m *tickroomv1.ServerMessage) *tickroomv1.Joined {
	t.Helper()
	j := m.GetJoined()
	if j == nil {
		t.Fatalf("want Joined, got %v", m)
	}
	return j
}

// errCode returns the error code of m, failing unless it is an Error.
func errCode(t *testing.T, m *tickroomv1.ServerMessage) tickroomv1.ErrorCode {
	t.Helper()
	e := m.GetError()
	if e == nil {
		t.Fatalf("want Error, got %v", m)
	}
	return e.Code
}
