package hub_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
)

func TestHandshakeNeedsAValidToken(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	forged := e.token("mallory", time.Hour)
	forged = forged[:len(forged)-2] + "xx"
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"garbage", "not-a-token", http.StatusUnauthorized},
		{"forged", forged, http.StatusUnauthorized},
		{"expired", e.token("old", -time.Minute), http.StatusUnauthorized},
		{"valid", e.token("alice", time.Hour), http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := dial(t, e.url, tc.token)
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if c != nil {
				c.user = "alice"
				w := c.Next(isKind[*tickroomv1.ServerMessage_Welcome]).GetWelcome()
				if w.UserId != "alice" || w.Name != "name-alice" || w.ProtocolVersion != protocol.Version || w.ResumeWindowMs == 0 {
					t.Fatalf("welcome %v", w)
				}
			}
		})
	}
}

// A client declares the protocol version it speaks in the upgrade's query;
// one the server does not serve is closed with UNSUPPORTED_VERSION, with a
// reason naming both versions, which a browser can read (it cannot read an
// HTTP refusal). One that declares none is served, as before the handshake.
func TestProtocolVersionHandshake(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	d := websocket.Dialer{Subprotocols: []string{"tickroom.v1"}, HandshakeTimeout: 5 * time.Second}
	open := func(token, query string) (*websocket.Conn, *http.Response, error) {
		return d.Dial(e.url+"?token="+token+query, nil)
	}
	// alice's open connection must survive a refused one of hers.
	alice, _ := e.connect("alice")
	for _, tc := range []struct{ name, query, want string }{
		{"old", "&protocol_version=1", "protocol version 1,"},
		{"newer", "&protocol_version=3", "protocol version 3,"},
		{"not a number", "&protocol_version=x", `protocol version "x",`},
		{"empty", "&protocol_version=", `protocol version "",`},
		{"zero-padded", "&protocol_version=" + strings.Repeat("0", 120) + "3", "protocol version 3,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := open(e.token("alice", time.Hour), tc.query)
			if err != nil {
				t.Fatalf("upgrade: %v (%v)", err, resp)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, p, err := c.ReadMessage()
			ce, ok := errors.AsType[*websocket.CloseError](err)
			if !ok {
				t.Fatalf("read %d bytes, %v; want close %d", len(p), err, protocol.CloseUnsupportedVersion)
			}
			if ce.Code != int(protocol.CloseUnsupportedVersion) {
				t.Fatalf("close %d %q, want %d", ce.Code, ce.Text, protocol.CloseUnsupportedVersion)
			}
			if !strings.Contains(ce.Text, tc.want) || !strings.Contains(ce.Text, "server speaks 2") {
				t.Fatalf("close reason %q names not both versions", ce.Text)
			}
		})
	}
	t.Run("bad token", func(t *testing.T) {
		// The version is checked after the token: no 101 without one.
		_, resp, err := open("not-a-token", "&protocol_version=1")
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("upgrade: %v (%v), want 401", err, resp)
		}
	})
	for _, tc := range []struct{ name, query string }{{"current", "&protocol_version=2"}, {"none", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			user := "bob-" + tc.name
			c, _, err := open(e.token(user, time.Hour), tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			m := new(tickroomv1.ServerMessage)
			if err := m.UnmarshalVT(p); err != nil {
				t.Fatal(err)
			}
			if w := m.GetWelcome(); w == nil || w.ProtocolVersion != 2 || w.UserId != user {
				t.Fatalf("first message %v, want a Welcome with protocol_version 2", m)
			}
		})
	}
	if r := alice.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}}); r.GetPong() == nil {
		t.Fatalf("alice's first connection after the refused ones: %v (closed %d)", r, alice.CloseCode())
	}
	// The operator counts them (tickroom_connections_closed_total{code="4507"}).
	waitFor(t, "the five refusals counted by close code", func() bool { return e.hub.Closes()[4507] == 5 })
}

func TestQuickMatchPlayAndAcks(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	b, _ := e.connect("bob")
	ja := joined(t, a.Request(quickMatch("tally")))
	jb := joined(t, b.Request(quickMatch("tally")))
	if ja.RoomId != jb.RoomId || ja.Seat == jb.Seat {
		t.Fatalf("quick-match put alice in %s seat %d and bob in %s seat %d", ja.RoomId, ja.Seat, jb.RoomId, jb.Seat)
	}
	if len(jb.Players) != 2 {
		t.Fatalf("bob's Joined lists %d players, want 2: %v", len(jb.Players), jb.Players)
	}
	const n = 5
	for seq := uint32(1); seq <= n; seq++ {
		a.Send(input(ja.RoomId, seq, []byte("+")))
		b.Send(input(jb.RoomId, seq, []byte("+")))
	}
	for _, c := range []*client{a, b} {
		waitFor(t, c.user+" sees both acks at 5", func() bool {
			return c.ack(ja.RoomId, ja.Seat) == n && c.ack(ja.RoomId, jb.Seat) == n
		})
	}
	ents := a.entities(ja.RoomId)
	if string(ents[uint64(ja.Seat)]) != "5" || string(ents[uint64(jb.Seat)]) != "5" {
		t.Fatalf("alice's entities %v", ents)
	}
	// Both rebuilt the same state at every tick both saw.
	sameHistories(t, ja.RoomId, a, b)
}

func TestConcurrentQuickMatchNeverOverfills(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	const players = 14 // tally rooms have 4 seats
	seats := map[string]map[uint32]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range players {
		c, _ := e.connect(fmt.Sprintf("p%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := c.Send(quickMatch("tally"))
			m := c.Next(func(*tickroomv1.ServerMessage) bool { return true })
			if m.RequestId != id || m.GetJoined() == nil {
				t.Errorf("%s: %v", c.user, m)
				return
			}
			j := m.GetJoined()
			mu.Lock()
			defer mu.Unlock()
			if seats[j.RoomId] == nil {
				seats[j.RoomId] = map[uint32]string{}
			}
			if other, dup := seats[j.RoomId][j.Seat]; dup {
				t.Errorf("seat %d of %s given to %s and %s", j.Seat, j.RoomId, other, c.user)
			}
			seats[j.RoomId][j.Seat] = c.user
		}()
	}
	wg.Wait()
	total := 0
	for room, s := range seats {
		if len(s) > 4 {
			t.Errorf("room %s has %d players, max 4", room, len(s))
		}
		total += len(s)
	}
	if total != players {
		t.Fatalf("%d players seated, want %d", total, players)
	}
}

func TestBadInputHarmsOnlyItsSender(t *testing.T) {
	t.Parallel()
	e := start(t, options{server: func(c *server.Config) { c.MessageRate = 50 }})
	// A bystander keeps playing in its own room throughout.
	by, _ := e.connect("bystander")
	jb := joined(t, by.Request(quickMatch("tally")))
	var seq uint32
	play := func() {
		seq++
		by.Send(input(jb.RoomId, seq, []byte("+")))
		want := seq
		waitFor(t, "bystander's input acked", func() bool { return by.ack(jb.RoomId, jb.Seat) == want })
	}
	play()

	for _, tc := range []struct {
		name  string
		run   func(t *testing.T, c *client)
		close int // expected close code; 0 when the connection stays open
	}{
		{"random bytes", func(t *testing.T, c *client) {
			c.WriteRaw(websocket.BinaryMessage, []byte{0xff, 0xff, 0xff, 0x0f, 0x99})
		}, int(protocol.CloseProtocolError)},
		{"text frame", func(t *testing.T, c *client) {
			c.WriteRaw(websocket.TextMessage, []byte("hello"))
		}, int(protocol.CloseProtocolError)},
		{"unknown oneof case", func(t *testing.T, c *client) {
			// request_id 9, then field 99 (a body this server does not know).
			c.WriteRaw(websocket.BinaryMessage, []byte{0x08, 9, 0x9a, 0x06, 0})
			if code := errCode(t, c.Reply(9)); code != tickroomv1.ErrorCode_ERROR_CODE_UNSUPPORTED {
				t.Fatalf("error %v", code)
			}
		}, 0},
		{"input for a room not joined", func(t *testing.T, c *client) {
			if code := errCode(t, c.Request(input(jb.RoomId, 1, []byte("+")))); code != tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM {
				t.Fatalf("error %v", code)
			}
		}, 0},
		{"join an unknown room", func(t *testing.T, c *client) {
			if code := errCode(t, c.Request(joinRoom("nope", 0))); code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_NOT_FOUND {
				t.Fatalf("error %v", code)
			}
		}, 0},
		{"unknown game", func(t *testing.T, c *client) {
			if code := errCode(t, c.Request(quickMatch("chess"))); code != tickroomv1.ErrorCode_ERROR_CODE_UNKNOWN_GAME {
				t.Fatalf("error %v", code)
			}
		}, 0},
		{"flood over the rate limit", func(t *testing.T, c *client) {
			limited := false
			for i := 0; i < 1000 && c.CloseCode() == 0; i++ {
				c.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
			}
			// Every reply sent before the close is queued once the
			// connection has ended; a quiet gap alone may come first on a
			// loaded machine.
			c.WaitClosed()
			for _, m := range drain(c) {
				if m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
					limited = true
				}
			}
			if !limited {
				t.Error("no ERROR_CODE_RATE_LIMITED before the close")
			}
		}, int(protocol.CloseRateLimited)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := e.connect("bad-" + tc.name)
			tc.run(t, c)
			if tc.close != 0 {
				if got := c.WaitClosed(); got != tc.close {
					t.Fatalf("close code %d, want %d", got, tc.close)
				}
			} else {
				// Still served: a ping gets its pong.
				c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 1.5}}}).GetPong()
			}
			play()
		})
	}
	if _, _, _, err := by.world(jb.RoomId); err != nil {
		t.Fatalf("bystander's state: %v", err)
	}
}

func TestSecondLoginReplacesFirstAndResumesItsSeat(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a1, _ := e.connect("alice")
	j1 := joined(t, a1.Request(quickMatch("tally")))
	a1.Send(input(j1.RoomId, 1, []byte("+")))
	waitFor(t, "first input acked", func() bool { return a1.ack(j1.RoomId, j1.Seat) == 1 })

	a2, w := e.connect("alice")
	if got := a1.WaitClosed(); got != int(protocol.CloseDuplicateLogin) {
		t.Fatalf("first connection closed with %d, want %d", got, protocol.CloseDuplicateLogin)
	}
	if len(w.Seats) != 1 || w.Seats[0].RoomId != j1.RoomId || w.Seats[0].Seat != j1.Seat {
		t.Fatalf("Welcome seats %v, want room %s seat %d", w.Seats, j1.RoomId, j1.Seat)
	}
	tick, _, _, _ := a1.world(j1.RoomId)
	a2.adopt(a1, j1.RoomId)
	j2 := joined(t, a2.Request(joinRoom(j1.RoomId, tick)))
	if !j2.Resumed || j2.Seat != j1.Seat {
		t.Fatalf("resume: %v", j2)
	}
	a2.Send(input(j1.RoomId, 2, []byte("+")))
	waitFor(t, "input after resume acked", func() bool { return a2.ack(j1.RoomId, j1.Seat) == 2 })
	if v := string(a2.entities(j1.RoomId)[uint64(j1.Seat)]); v != "2" {
		t.Fatalf("entity after resume %q, want 2", v)
	}
}

func TestDroppedPlayerResumesSameSeat(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	b, _ := e.connect("bob")
	ja := joined(t, a.Request(quickMatch("tally")))
	joined(t, b.Request(quickMatch("tally")))
	for seq := uint32(1); seq <= 3; seq++ {
		a.Send(input(ja.RoomId, seq, []byte("+")))
	}
	waitFor(t, "inputs acked", func() bool { return a.ack(ja.RoomId, ja.Seat) == 3 })
	last, _, _, _ := a.world(ja.RoomId)

	a.WS.UnderlyingConn().Close() // the network goes away, no close frame
	a.WaitClosed()
	waitFor(t, "bob sees alice dropped", func() bool {
		for _, m := range drain(b) {
			if ev := m.GetRoomEvent(); ev != nil && ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED {
				return true
			}
		}
		return false
	})

	a2, w := e.connect("alice")
	if len(w.Seats) != 1 || w.Seats[0].RoomId != ja.RoomId {
		t.Fatalf("Welcome seats %v", w.Seats)
	}
	a2.adopt(a, ja.RoomId)
	j := joined(t, a2.Request(joinRoom(ja.RoomId, last)))
	if !j.Resumed || j.Seat != ja.Seat {
		t.Fatalf("resumed %v seat %d, want seat %d", j.Resumed, j.Seat, ja.Seat)
	}
	a2.Send(input(ja.RoomId, 4, []byte("+")))
	waitFor(t, "input after resume acked", func() bool { return a2.ack(ja.RoomId, ja.Seat) == 4 })
	if _, _, _, err := a2.world(ja.RoomId); err != nil {
		t.Fatalf("state after resume: %v", err)
	}
	if v := string(a2.entities(ja.RoomId)[uint64(ja.Seat)]); v != "4" {
		t.Fatalf("alice's entity after resume %q, want 4", v)
	}
	if got := e.hub.Stats().Resumes.Load(); got != 1 {
		t.Fatalf("resumes counted %d, want 1", got)
	}
}

func TestSeatIsGivenUpAfterTheResumeWindow(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.Runtime.DropGrace = 200 * time.Millisecond }})
	a, _ := e.connect("alice")
	ja := joined(t, a.Request(quickMatch("tally")))
	a.WS.UnderlyingConn().Close()
	a.WaitClosed()
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	waitFor(t, "seat freed", func() bool { return room.Info().Players == 0 })
	// The kick revoked the old token: the user logs in again.
	a2, w := e.connectToken("alice", e.issuedAt("alice", time.Now().Add(time.Second)))
	if len(w.Seats) != 0 {
		t.Fatalf("Welcome still lists seats %v", w.Seats)
	}
	if code := errCode(t, a2.Request(joinRoom(ja.RoomId, 5))); code != tickroomv1.ErrorCode_ERROR_CODE_RESUME_UNAVAILABLE {
		t.Fatalf("error %v", code)
	}
}

func TestTypedCloses(t *testing.T) {
	t.Parallel()
	// The expiring token's server stands its clock one second before the
	// token's "exp": however long the handshake takes on a busy machine,
	// the session comes up with one second of the token's life left and
	// sees it run out.
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	frozen := func(c *hub.Config) { c.Now = func() time.Time { return exp.Add(-time.Second) } }
	for _, tc := range []struct {
		name  string
		clock func(*hub.Config)
		exp   time.Time
		do    func(e *env)
		want  protocol.CloseCode
	}{
		{"token expires mid-session", frozen, exp, func(*env) {}, protocol.CloseTokenExpired},
		{"kicked", nil, exp, func(e *env) { _ = e.hub.Kick("alice", "") }, protocol.CloseKicked},
		{"server shutdown", nil, exp, func(e *env) { _ = e.hub.Shutdown(context.Background()) }, protocol.CloseServerShutdown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, options{hub: tc.clock})
			tok, err := e.auth.Issue(auth.Claims{UserID: "alice", Name: "name-alice", IssuedAt: tc.exp.Add(-2 * time.Hour), ExpiresAt: tc.exp})
			if err != nil {
				t.Fatal(err)
			}
			a, _ := e.connectToken("alice", tok)
			tc.do(e)
			if got := a.WaitClosed(); got != int(tc.want) {
				t.Fatalf("close %d, want %d", got, tc.want)
			}
		})
	}
}

func TestKickFreesTheSeat(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	ja := joined(t, a.Request(quickMatch("tally")))
	if err := e.hub.Kick("alice", "cheating"); err != nil {
		t.Fatal(err)
	}
	a.WaitClosed()
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	waitFor(t, "seat freed at once", func() bool { return room.Info().Players == 0 })
	// The kick revoked the old token: the user logs in again.
	a2, w := e.connectToken("alice", e.issuedAt("alice", time.Now().Add(time.Second)))
	if len(w.Seats) != 0 {
		t.Fatalf("a kicked user's seat is held: %v", w.Seats)
	}
	_ = a2
}

func TestSpectatorReceivesStateAndSendsNoInput(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	ja := joined(t, a.Request(quickMatch("tally")))
	s, _ := e.connect("watcher")
	js := joined(t, s.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: ja.RoomId, Spectate: true}}}))
	if !js.Spectator {
		t.Fatalf("joined %v", js)
	}
	a.Send(input(ja.RoomId, 1, []byte("+")))
	waitFor(t, "spectator sees alice's input", func() bool {
		return string(s.entities(ja.RoomId)[uint64(ja.Seat)]) == "1"
	})
	if code := errCode(t, s.Request(input(ja.RoomId, 1, []byte("+")))); code != tickroomv1.ErrorCode_ERROR_CODE_NOT_A_PLAYER {
		t.Fatalf("error %v", code)
	}
}

func TestListRoomsFilters(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	create := func(meta map[string]string, password string, private bool) string {
		m := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{
			Game: "tally", Metadata: meta, Password: password, Private: private, Spectate: true,
		}}})
		return joined(t, m).RoomId
	}
	eu := create(map[string]string{"region": "eu"}, "", false)
	us := create(map[string]string{"region": "us"}, "secret", false)
	create(map[string]string{"region": "eu"}, "", true) // private: never listed
	list := func(q *tickroomv1.ListRooms) map[string]*tickroomv1.RoomInfo {
		m := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: q}})
		out := map[string]*tickroomv1.RoomInfo{}
		for _, r := range m.GetRoomList().GetRooms() {
			out[r.RoomId] = r
		}
		return out
	}
	all := list(&tickroomv1.ListRooms{Game: "tally"})
	if len(all) != 2 || all[eu] == nil || all[us] == nil || !all[us].HasPassword {
		t.Fatalf("listing %v", all)
	}
	if got := list(&tickroomv1.ListRooms{Metadata: map[string]string{"region": "eu"}}); len(got) != 1 || got[eu] == nil {
		t.Fatalf("region=eu listing %v", got)
	}
	page1 := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{Limit: 1}}}).GetRoomList()
	if len(page1.Rooms) != 1 || page1.NextPageToken == "" {
		t.Fatalf("first page %v", page1)
	}
	page2 := list(&tickroomv1.ListRooms{Limit: 1, PageToken: page1.NextPageToken})
	if len(page2) != 1 || page2[page1.Rooms[0].RoomId] != nil {
		t.Fatalf("second page %v repeats or misses (first %s)", page2, page1.Rooms[0].RoomId)
	}
	if got := list(&tickroomv1.ListRooms{Game: "other"}); len(got) != 0 {
		t.Fatalf("other game listing %v", got)
	}
	fast := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "tally", TickRate: 30, Spectate: true}}})
	if j := joined(t, fast); j.TickRate != 30 {
		t.Fatalf("room created at 30 Hz reports %d Hz", j.TickRate)
	}
	c, _ := e.connect("carol") // alice is in as many rooms as a user may be
	tooFast := c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "tally", TickRate: 121}}})
	if code := errCode(t, tooFast); code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
		t.Fatalf("121 Hz: %v", code)
	}
	b, _ := e.connect("bob")
	m := b.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: us, Password: "wrong"}}})
	if code := errCode(t, m); code != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
		t.Fatalf("wrong password: %v", code)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sameHistories checks that clients rebuilt identical state at every tick
// they all applied.
func sameHistories(t *testing.T, room string, cs ...*client) {
	t.Helper()
	base := cs[0].history(room)
	shared := 0
	for _, c := range cs[1:] {
		for tick, d := range c.history(room) {
			if bd, ok := base[tick]; ok {
				shared++
				if bd != d {
					t.Fatalf("tick %d: %s rebuilt %q, %s rebuilt %q", tick, cs[0].user, bd, c.user, d)
				}
			}
		}
	}
	if shared == 0 {
		t.Fatal("clients shared no tick to compare")
	}
}

// TestTokenExpiriesShareOneSchedule: sessions whose tokens run out at
// different times are each closed with CLOSE_CODE_TOKEN_EXPIRED, while a
// session that closed earlier and one whose token lives on are left alone
// (the one still answers a ping).
func TestTokenExpiriesShareOneSchedule(t *testing.T) {
	t.Parallel()
	// The server's clock stands one second before the first expiry, as in
	// TestTypedCloses, so every session comes up with its whole margin.
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	e := start(t, options{hub: func(c *hub.Config) { c.Now = func() time.Time { return exp.Add(-time.Second) } }})
	issue := func(user string, at time.Time) string {
		tok, err := e.auth.Issue(auth.Claims{UserID: user, Name: "name-" + user, IssuedAt: exp.Add(-2 * time.Hour), ExpiresAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// gone's token expires first, but it leaves before: its entry goes.
	gone, _ := e.connectToken("gone", issue("gone", exp))
	gone.WS.UnderlyingConn().Close()
	gone.WaitClosed()
	late, _ := e.connectToken("late", issue("late", exp.Add(time.Second)))
	early, _ := e.connectToken("early", issue("early", exp))
	live, _ := e.connectToken("live", issue("live", exp.Add(time.Hour)))
	if got := early.WaitClosed(); got != int(protocol.CloseTokenExpired) {
		t.Fatalf("early: close %d, want %d", got, protocol.CloseTokenExpired)
	}
	if got := late.WaitClosed(); got != int(protocol.CloseTokenExpired) {
		t.Fatalf("late: close %d, want %d", got, protocol.CloseTokenExpired)
	}
	ping := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 1}}}
	if m := live.Request(ping); m.GetPong() == nil {
		t.Fatalf("live: %v, want a Pong", m)
	}
}

// TestResumeSaysTheLastInputApplied: a page that resumes a seat it did not
// hold before (a reload, a new login) numbered its inputs from 1, and the
// room dropped them as resends of inputs it had applied until a State
// told the page the seat's last one. The resume's Joined now says it
// (last_input_seq); a fresh join says 0.
func TestResumeSaysTheLastInputApplied(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a1, _ := e.connect("alice")
	j1 := joined(t, a1.Request(quickMatch("tally")))
	if j1.LastInputSeq != 0 {
		t.Fatalf("a fresh join's last_input_seq %d, want 0", j1.LastInputSeq)
	}
	for seq := uint32(1); seq <= 7; seq++ {
		a1.Send(input(j1.RoomId, seq, []byte("+")))
	}
	waitFor(t, "inputs acked", func() bool { return a1.ack(j1.RoomId, j1.Seat) == 7 })

	a2, _ := e.connect("alice")
	a1.WaitClosed()
	j2 := joined(t, a2.Request(joinRoom(j1.RoomId, 0)))
	if !j2.Resumed || j2.LastInputSeq != 7 {
		t.Fatalf("resume: %v, want resumed with last_input_seq 7", j2)
	}
	// Numbered above it, the next input is applied.
	a2.Send(input(j1.RoomId, j2.LastInputSeq+1, []byte("+")))
	waitFor(t, "the next input applied", func() bool { return a2.ack(j1.RoomId, j1.Seat) == 8 })
}

// TestInputSeqWrapsAfterTheLargest: Input.seq is a uint32, and a seat
// whose last input was numbered 2^32-1 (a client that counted from -1, or
// one that has played long enough) dropped every numbered input after it
// as a resend, in this session and in every later one that resumed the
// seat (client-js, numbering above Joined.last_input_seq, could not even
// encode 2^32). Numbering wraps to 1, as serial numbers (RFC 1982) do.
func TestInputSeqWrapsAfterTheLargest(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	j := joined(t, a.Request(quickMatch("tally")))
	a.Send(input(j.RoomId, math.MaxUint32, []byte("+")))
	waitFor(t, "the largest seq acked", func() bool { return a.ack(j.RoomId, j.Seat) == math.MaxUint32 })
	a.Send(input(j.RoomId, 1, []byte("+")))
	waitFor(t, "seq 1 after it applied", func() bool { return a.ack(j.RoomId, j.Seat) == 1 })
	// A resend from before the wrap is still a resend.
	a.Send(input(j.RoomId, math.MaxUint32, []byte("+")))
	a.Send(input(j.RoomId, 2, []byte("+")))
	waitFor(t, "seq 2 applied", func() bool { return a.ack(j.RoomId, j.Seat) == 2 })
	if got := string(a.entities(j.RoomId)[uint64(j.Seat)]); got != "3" {
		t.Fatalf("the seat's tally is %s after three inputs and a resend, want 3", got)
	}
	a2, _ := e.connect("alice")
	a.WaitClosed()
	if j2 := joined(t, a2.Request(joinRoom(j.RoomId, 0))); !j2.Resumed || j2.LastInputSeq != 2 {
		t.Fatalf("resume: %v, want resumed with last_input_seq 2", j2)
	}
}

// TestQuickMatchPassesOverTheRoomsTheConnectionIsIn: a quick-match looks
// past the open rooms its connection is in already, whether it watches one
// (a spectator who now wants to play) or sits in one, and seats the player
// in another room rather than refusing it as ALREADY_IN_ROOM.
func TestQuickMatchPassesOverTheRoomsTheConnectionIsIn(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	ann, _ := e.connect("ann")
	first := joined(t, ann.Request(quickMatch("tally"))).RoomId
	bob, _ := e.connect("bob")
	joined(t, bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: first, Spectate: true}}}))
	m := bob.Request(quickMatch("tally"))
	if j := m.GetJoined(); j == nil || j.RoomId == first || j.Spectator {
		t.Fatalf("a spectator of the only open room quick-matches: %v, want a player's seat in another room", m)
	}
	m = ann.Request(quickMatch("tally"))
	if j := m.GetJoined(); j == nil || j.RoomId == first || j.Spectator {
		t.Fatalf("a player of an open room quick-matches again: %v, want a seat in another room", m)
	}
}
