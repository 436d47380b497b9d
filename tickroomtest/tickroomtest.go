// Package tickroomtest runs a game end to end in a Go test: a
// tickroom.Server on loopback ports with the game registered, and players
// that log in over HTTP, connect over WebSocket, quick-match, send inputs
// and read the state they were sent, decoded as a client builds it, and
// which of their inputs the room dropped before the game saw them (over
// the game's InputRate, or with the room's inbox full: Player.Drops).
//
// It is for the tests of a studio's own module, next to game/gametest
// (the game alone on a manual clock): a test here exercises the real
// transport, login, matchmaking and state sync. Waits are bounded (10 s)
// and never part of what a test asserts.
package tickroomtest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// wait bounds every wait.
const wait = 10 * time.Second

// Start runs a server built from opts until the test ends, when it shuts
// down as on a SIGTERM, with 10 s to drain (so a match still running is
// ended with Reason "closed" and, with a store, written). Empty
// addresses become free loopback ports, the admin listener is off unless
// asked for, and logs are discarded unless opts.Logger is set.
func Start(t testing.TB, opts tickroom.Options) *tickroom.Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "127.0.0.1:0"
	}
	if opts.AdminAddr == "" {
		opts.AdminAddr = tickroom.Off
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := tickroom.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Not t.Context(): it is cancelled before cleanups run, and
		// Shutdown would give up at once on draining the clients and
		// writing the results queued for the store.
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// Player is one logged-in user on its own connection.
type Player struct {
	// Name and UserID are what the server's Welcome said.
	Name, UserID string
	// Room and Seat are set by QuickMatch.
	Room string
	Seat uint32

	t     testing.TB
	c     *testclient.Client
	state *gametest.Client
	seq   uint32

	mu    sync.Mutex
	drops []*tickroomv1.InputDropped // every one received, oldest first
}

// Join logs name in as a guest on srv's HTTP port and connects it to the
// WebSocket port; it returns once the Welcome arrived.
func Join(t testing.TB, srv *tickroom.Server, name string) *Player {
	t.Helper()
	resp, err := http.Post("http://"+srv.HTTPAddr().String()+"/v1/login", "application/json", strings.NewReader(`{"name":`+quote(name)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if err != nil || login.Token == "" {
		t.Fatalf("login %s: status %d, %v", name, resp.StatusCode, err)
	}
	p := &Player{t: t, state: gametest.NewClient(name)}
	p.c, _, err = testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, login.Token, testclient.Options{
		Label:   name,
		OnState: func(st *tickroomv1.State) error { return p.state.Apply(st) },
		OnMessage: func(m *tickroomv1.ServerMessage) {
			if d := m.GetInputDropped(); d != nil {
				p.mu.Lock()
				p.drops = append(p.drops, d)
				p.mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	w := p.c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome()
	p.Name, p.UserID = w.GetName(), w.GetUserId()
	return p
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// QuickMatch joins the fullest open room of gameName with options, or
// creates one, and records its id and the seat.
func (p *Player) QuickMatch(gameName string, options map[string]string) *tickroomv1.Joined {
	p.t.Helper()
	m := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{
		QuickMatch: &tickroomv1.QuickMatch{Game: gameName, Options: options},
	}})
	j := m.GetJoined()
	if j == nil {
		p.t.Fatalf("%s: quick-match %s: %v", p.Name, gameName, m)
	}
	p.Room, p.Seat = j.GetRoomId(), j.GetSeat()
	return j
}

// Send encodes in and sends it as the player's next input to its room,
// and returns its seq: the player numbers its inputs from 1, as client-js
// does, and Drops names them by it.
func (p *Player) Send(in game.Marshaler) uint32 {
	p.t.Helper()
	b := make([]byte, in.SizeVT())
	if _, err := in.MarshalToSizedBufferVT(b); err != nil {
		p.t.Fatalf("%s: encode input: %v", p.Name, err)
	}
	p.seq++
	p.c.Write(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{
		Input: &tickroomv1.Input{RoomId: p.Room, Seq: p.seq, Data: b},
	}})
	return p.seq
}

// Entity decodes the entity id of the state the player holds into m and
// reports whether the player has it.
func (p *Player) Entity(id uint64, m gametest.Unmarshaler) bool {
	p.t.Helper()
	return p.state.Entity(p.t, id, m)
}

// Entities returns the ids of every entity the player holds.
func (p *Player) Entities() []uint64 {
	ents, _ := p.state.Entities()
	out := make([]uint64, 0, len(ents))
	for id := range ents {
		out = append(out, id)
	}
	return out
}

// Globals decodes the globals the player holds into m.
func (p *Player) Globals(m gametest.Unmarshaler) {
	p.t.Helper()
	p.state.DecodeGlobals(p.t, m)
}

// Drops returns the InputDropped notices the player's room has sent it so
// far, oldest first: its inputs the room dropped before the game saw
// them, never applied, though a later state's ack passes over their seq.
// A room tells a seat at its next tick, in at most one notice a reason
// (Reason ERROR_CODE_RATE_LIMITED, over the game's InputRate;
// ERROR_CODE_INPUT_DROPPED, the room's inbox full): Count is how many it
// dropped for that reason since its previous tick, Runs their seqs as
// first and last of each run of consecutive seqs, the newest 8 runs. A
// test reads it in WaitFor, as it reads the state: each input a player
// sent reaches the game's Input in the end, or is counted in a notice.
func (p *Player) Drops() []*tickroomv1.InputDropped {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*tickroomv1.InputDropped
	for _, d := range p.drops {
		if d.GetRoomId() == p.Room {
			out = append(out, d)
		}
	}
	return out
}

// WaitFor waits until cond, checked against the state as it arrives,
// holds; it fails the test after 10 s, naming what.
func (p *Player) WaitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if err := p.c.Err(); err != nil {
			p.t.Fatalf("%s: %v", p.Name, err)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %s did not happen within %v", p.Name, what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Next returns the next message other than State that pred accepts,
// skipping others.
func (p *Player) Next(pred func(*tickroomv1.ServerMessage) bool) *tickroomv1.ServerMessage {
	p.t.Helper()
	return p.c.Next(pred)
}

// GameMessage returns the next GameMessage the game sent the player (a
// refused input, or the game's own news).
func (p *Player) GameMessage() *tickroomv1.GameMessage {
	p.t.Helper()
	return p.c.Next(testclient.Is[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage()
}

// MatchEnded waits for the player's room to end its match and returns the
// result.
func (p *Player) MatchEnded() *tickroomv1.MatchResult {
	p.t.Helper()
	return p.c.Next(func(m *tickroomv1.ServerMessage) bool {
		ev := m.GetRoomEvent()
		return ev != nil && ev.GetRoomId() == p.Room && ev.GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
	}).GetRoomEvent().GetResult()
}

// Leave leaves the player's room and waits for the server's Left.
func (p *Player) Leave() {
	p.t.Helper()
	m := p.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{
		LeaveRoom: &tickroomv1.LeaveRoom{RoomId: p.Room},
	}})
	if m.GetLeft() == nil {
		p.t.Fatalf("%s: leave %s: %v", p.Name, p.Room, m)
	}
}

// State is a room's state as the admin API's inspector answers it
// (GET /v1/admin/rooms/{id}/state): the globals and each entity decoded
// by the game's Definition.Schema, as JSON.
type State struct {
	GlobalsType string          `json:"globals_type"`
	Globals     json.RawMessage `json:"globals"`
	Entities    []struct {
		ID, Type string
		Value    json.RawMessage
	} `json:"entities"`
}

// RoomState reads room's state from srv's admin API, which srv must serve
// (Options.AdminAddr), or fails t.
func RoomState(t testing.TB, srv *tickroom.Server, room string) State {
	t.Helper()
	if srv.AdminAddr() == nil {
		t.Fatal("tickroomtest: RoomState needs the admin API (Options.AdminAddr)")
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.AdminAddr().String()+"/v1/admin/rooms/"+room+"/state", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st State
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("tickroomtest: state of room %s: %d %v", room, res.StatusCode, err)
	}
	return st
}
