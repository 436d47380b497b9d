package hub_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/hub"
)

func addFriend(user string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: user}}}
}

func queryPresence(users ...string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QueryPresence{QueryPresence: &tickroomv1.QueryPresence{UserIds: users}}}
}

func (c *client) nextPresence() *tickroomv1.Presence {
	c.t.Helper()
	return c.Next(isKind[*tickroomv1.ServerMessage_Presence]).GetPresence()
}

func TestDirectMessageAcrossRooms(t *testing.T) {
	e := start(t, options{})
	r1, one := e.room("ann")
	r2, two := e.room("bob")
	if r1 == r2 {
		t.Fatal("want two rooms")
	}
	a, b := one[0], two[0]
	ok(t, a.Request(direct("bob", "psst")))
	dm := b.Next(isKind[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage()
	if dm.FromUserId != "ann" || dm.FromName != "name-ann" || dm.ToUserId != "bob" || dm.Text != "psst" || dm.Id == 0 {
		t.Fatalf("bob got %v", dm)
	}
	for _, tc := range []struct {
		name string
		msg  *tickroomv1.ClientMessage
		want tickroomv1.ErrorCode
	}{
		{"offline recipient", direct("zed", "hi"), tickroomv1.ErrorCode_ERROR_CODE_USER_OFFLINE},
		{"no recipient", direct("", "hi"), tickroomv1.ErrorCode_ERROR_CODE_USER_NOT_FOUND},
		{"too long", direct("bob", strings.Repeat("x", 501)), tickroomv1.ErrorCode_ERROR_CODE_MESSAGE_TOO_LONG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errCode(t, a.Request(tc.msg)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBlockRefusesDirectAndHidesChat(t *testing.T) {
	e := start(t, options{})
	id, cs := e.room("ann", "bob", "cat")
	a, b, c := cs[0], cs[1], cs[2]
	ok(t, b.Request(block("ann", false)))

	if got := errCode(t, a.Request(direct("bob", "hello?"))); got != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("DM to a user who blocked the sender: %v", got)
	}
	ok(t, a.Request(direct("cat", "hello cat"))) // others still take them
	c.Next(isKind[*tickroomv1.ServerMessage_DirectMessage])

	ok(t, a.Request(roomChat(id, "from ann", false)))
	if l := c.nextChat(); l.Text != "from ann" {
		t.Fatalf("cat got %q, want ann's line", l.Text)
	}
	// (A reply wait skips other messages: cat reads ann's line first.)
	ok(t, c.Request(roomChat(id, "from cat", false)))
	if l := b.nextChat(); l.Text != "from cat" {
		t.Fatalf("bob saw %q from a blocked user", l.Text)
	}

	ok(t, b.Request(block("ann", true)))
	ok(t, a.Request(direct("bob", "friends again")))
	if dm := b.Next(isKind[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.Text != "friends again" {
		t.Fatalf("bob got %v", dm)
	}
}

func TestPresenceFollowsAFriend(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	ok(t, a.Request(addFriend("bob"))) // bob is offline: the request waits

	b, _ := e.connect("bob")
	befriend(t, a, b)
	if p := a.nextPresence(); p.UserId != "bob" || p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE || p.Name != "name-bob" {
		t.Fatalf("after accepting %v", p)
	}
	j := joined(t, b.Request(createRoom("tally")))
	if p := a.nextPresence(); p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM || p.RoomId != j.RoomId || p.Game != "tally" {
		t.Fatalf("after join %v", p)
	}
	list := a.Request(queryPresence("bob", "zed")).GetPresenceList()
	if len(list.Users) != 2 || list.Users[0].Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM ||
		list.Users[1].UserId != "zed" || list.Users[1].Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("query %v", list)
	}
	b.WS.Close()
	if p := a.nextPresence(); p.UserId != "bob" || p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("after disconnect %v", p)
	}
	if got := e.hub.Presence("bob").Status; got != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("Hub.Presence %v", got)
	}
}

// TestMessagingGivesNoPresence: a direct message does not let its sender
// follow the recipient's presence; only a friend does.
func TestMessagingGivesNoPresence(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	ok(t, a.Request(direct("bob", "hi")))
	joined(t, b.Request(createRoom("tally")))
	b.WS.Close()
	for _, m := range drain(a) {
		if m.GetPresence() != nil {
			t.Fatalf("a stranger got presence: %v", m)
		}
	}
}

func TestNotificationsArriveExactlyOnce(t *testing.T) {
	e := start(t, options{})
	id, cs := e.room("ann", "bob")
	a, b := cs[0], cs[1]
	c, _ := e.connect("cat")
	send := func(n hub.Notice) string {
		t.Helper()
		res, err := e.hub.Notify(n)
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	toAnn := send(hub.Notice{UserID: "ann", Kind: "reward", Title: "gift", Body: "a hat", Data: map[string]string{"item": "hat"}})
	toRoom := send(hub.Notice{RoomID: id, Kind: "room", Title: "closing soon"})
	toAll := send(hub.Notice{Everyone: true, Kind: "maintenance", Title: "restart at noon"})
	for _, tc := range []struct {
		c    *client
		want []string
	}{
		{a, []string{toAnn, toRoom, toAll}},
		{b, []string{toRoom, toAll}},
		{c, []string{toAll}},
	} {
		t.Run(tc.c.user, func(t *testing.T) {
			var got []string
			for {
				n := tc.c.Next(isKind[*tickroomv1.ServerMessage_Notification]).GetNotification()
				got = append(got, n.Id)
				if n.Id == toAnn && (n.Data["item"] != "hat" || n.Body != "a hat") {
					t.Fatalf("notification %v", n)
				}
				if n.Id == toRoom && n.RoomId != id {
					t.Fatalf("room notification %v", n)
				}
				if n.Id == toAll {
					break
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		n    hub.Notice
		want error
	}{
		{"no target", hub.Notice{Title: "x"}, hub.ErrBadNotice},
		{"two targets", hub.Notice{UserID: "ann", Everyone: true}, hub.ErrBadNotice},
		{"offline user", hub.Notice{UserID: "zed"}, hub.ErrNoSession},
		{"unknown room", hub.Notice{RoomID: "nope"}, hub.ErrNoRoom},
		{"too big", hub.Notice{Everyone: true, Body: strings.Repeat("x", 17<<10)}, hub.ErrBadNotice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.hub.Notify(tc.n); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// dialStalled connects user with a tiny receive buffer, joins roomID,
// and then never reads again.
func dialStalled(t *testing.T, e *env, user, roomID string) *websocket.Conn {
	t.Helper()
	return dialStalledOn(t, e, user, joinRoom(roomID, 0))
}

// dialStalledOn connects user with a tiny receive buffer, sends join (a
// JoinRoom or JoinChannel), reads until the ChatHistory that answers it,
// and then never reads again.
func dialStalledOn(t *testing.T, e *env, user string, join *tickroomv1.ClientMessage) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{
		Subprotocols: []string{"tickroom.v1"}, HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
			}
			return c, err
		},
	}
	conn, _, err := d.Dial(e.url+"?token="+e.token(user, time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := join
	m.RequestId = 1
	b, _ := m.MarshalVT()
	if err := conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
	for {
		_, p, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var sm tickroomv1.ServerMessage
		if err := sm.UnmarshalVT(p); err != nil {
			t.Fatal(err)
		}
		if sm.GetChatHistory() != nil {
			return conn
		}
	}
}

func TestSlowChatMemberIsClosedWhileOthersKeepChatting(t *testing.T) {
	e := start(t, options{
		server: func(c *server.Config) {
			c.ReliableBudget = 64 << 10
			c.MessageRate = 10000
			c.SlowDeadline = 100 * time.Millisecond
			c.SweepInterval = 20 * time.Millisecond
			c.SlowCloseCode = ws.StatusCode(protocol.CloseSlowClient)
		},
		hub: func(c *hub.Config) {
			c.Social = hub.SocialConfig{MaxTextBytes: 8 << 10, ChatRate: 10000, ChatBurst: 10000}
		},
	})
	id, cs := e.room("ann", "bob")
	a, b := cs[0], cs[1]
	stalled := dialStalled(t, e, "zed", id)
	line := strings.Repeat("z", 8<<10)
	closed := func() bool { return e.hub.Closes()[int(protocol.CloseSlowClient)] == 1 }
	sent := 0
	for ; sent < 4000 && !closed(); sent++ {
		ok(t, a.Request(roomChat(id, line, true)))
		b.nextChat()
	}
	if !closed() {
		deadline := time.Now().Add(10 * time.Second)
		for !closed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !closed() {
		t.Fatalf("the stalled member was not closed with %d after %d lines of 8 KiB; closes %v", protocol.CloseSlowClient, sent, e.hub.Closes())
	}
	// The stalled client learns of it: reading ends in an error (the
	// transport resets the connection), not in more chat. The reset alone
	// may never arrive: the client's window is closed, so a reset whose
	// sequence number is past what the client took in is dropped by its
	// kernel. Like every tickroom client, this one keeps sending
	// heartbeats, and the first one after the close is answered with a
	// reset it cannot miss.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		ping, _ := (&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 1}}}).MarshalVT()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if stalled.WriteMessage(websocket.BinaryMessage, ping) != nil {
					return
				}
			}
		}
	}()
	_ = stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := stalled.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the stalled connection is still open")
			}
			break
		}
	}
	// The readers were not touched: both keep chatting.
	ok(t, b.Request(roomChat(id, "still here", true)))
	for {
		if l := a.nextChat(); l.FromUserId == "bob" {
			break
		}
	}
	// OnClose counts the code before it takes the session out of the
	// room's chat.
	deadline := time.Now().Add(10 * time.Second)
	for got := e.hub.RoomMembers(id); !slices.Equal(got, []string{"ann", "bob"}); got = e.hub.RoomMembers(id) {
		if time.Now().After(deadline) {
			t.Fatalf("room chat members %v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListsSurviveASecondLogin(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	ok(t, b.Request(block("ann", false)))
	b2, _ := e.connect("bob") // replaces b
	if code := b.WaitClosed(); code != int(protocol.CloseDuplicateLogin) {
		t.Fatalf("replaced connection closed with %d", code)
	}
	if got := errCode(t, a.Request(direct("bob", "hi"))); got != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("after bob's second login: %v", got)
	}
	b2.WS.Close()
	// The server drops bob's lists when it sees his last connection go;
	// a login racing that close would replace b2 instead. Ann, whom bob
	// blocks, sees him offline all along, so a third user watches for it.
	cy, _ := e.connect("cy")
	waitFor(t, "bob offline", func() bool {
		list := cy.Request(queryPresence("bob")).GetPresenceList()
		return len(list.Users) == 1 && list.Users[0].Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
	})
	b3, _ := e.connect("bob") // bob was offline: his lists are gone
	ok(t, a.Request(direct("bob", "hi again")))
	if dm := b3.Next(isKind[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.Text != "hi again" {
		t.Fatalf("bob got %v", dm)
	}
}

func TestContactListLimits(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.MaxListSize = 2; c.Social.MaxPresenceQuery = 2 }})
	a, _ := e.connect("ann")
	for _, tc := range []struct {
		name string
		msg  *tickroomv1.ClientMessage
		want tickroomv1.ErrorCode // 0: Ok
	}{
		{"first friend", addFriend("u1"), 0},
		{"second friend", addFriend("u2"), 0},
		{"same friend again", addFriend("u2"), 0},
		{"friend list full", addFriend("u3"), tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL},
		{"befriend oneself", addFriend("ann"), tickroomv1.ErrorCode_ERROR_CODE_USER_NOT_FOUND},
		{"first block", block("u1", false), 0},
		{"second block", block("u2", false), 0},
		{"block list full", block("u3", false), tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL},
		{"unblock", block("u2", true), 0},
		{"room again", block("u3", false), 0},
		{"block oneself", block("ann", false), tickroomv1.ErrorCode_ERROR_CODE_USER_NOT_FOUND},
		{"message oneself", direct("ann", "hi me"), tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := a.Request(tc.msg)
			if tc.want == 0 {
				ok(t, m)
				return
			}
			if got := errCode(t, m); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	list := a.Request(queryPresence("u1", "u2", "u3")).GetPresenceList()
	if len(list.Users) != 2 || list.Users[0].UserId != "u1" || list.Users[1].UserId != "u2" {
		t.Fatalf("query capped at 2: %v", list)
	}
}

func TestPresenceWithSeveralSockets(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.MultipleSockets = true }})
	a, _ := e.connect("ann")
	ok(t, a.Request(addFriend("bob")))
	phone, _ := e.connect("bob")
	befriend(t, a, phone)
	if p := a.nextPresence(); p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("first socket: %v", p)
	}
	desk, _ := e.connect("bob")
	j := joined(t, desk.Request(createRoom("tally")))
	if p := a.nextPresence(); p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_IN_ROOM || p.RoomId != j.RoomId {
		t.Fatalf("in room: %v", p)
	}
	desk.WS.Close() // the socket in the room goes; the other stays
	if p := a.nextPresence(); p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("after the room's socket closed: %v", p)
	}
	phone.WS.Close()
	if p := a.nextPresence(); p.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("after the last socket closed: %v", p)
	}
}

func TestPlayerInfoMatchesWelcome(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.MultipleSockets = true }})
	id, _ := e.room("ann")
	var w *tickroomv1.Welcome
	for range 16 { // past the single digits, where bases differ
		_, w = e.connect("bob")
	}
	for _, tc := range []struct {
		user  string
		conns int
		rooms []string
	}{{"ann", 1, []string{id}}, {"bob", 16, []string{}}} {
		p, found := e.hub.Player(tc.user)
		if !found || p.UserID != tc.user || len(p.Connections) != tc.conns || !slices.Equal(p.Rooms, tc.rooms) {
			t.Fatalf("Player(%s) = %+v, %v", tc.user, p, found)
		}
	}
	p, _ := e.hub.Player("bob")
	if !slices.ContainsFunc(p.Connections, func(c hub.ConnInfo) bool { return c.ID == w.ConnectionId }) {
		t.Fatalf("no connection of %+v has the id Welcome told: %q", p.Connections, w.ConnectionId)
	}
	if _, found := e.hub.Player("zed"); found {
		t.Fatal("an offline user was found")
	}
	if ps := e.hub.Players(); len(ps) != 2 || ps[0].UserID != "ann" || ps[1].UserID != "bob" {
		t.Fatalf("Players() = %+v", ps)
	}
}

// TestBlockHidesChatHistory: a user who blocked another does not get that
// user's lines in the history a room or channel join replays either.
func TestBlockHidesChatHistory(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	c, _ := e.connect("cat")
	ok(t, b.Request(block("ann", false)))

	// A lobby channel.
	a.Request(joinChannel("general"))
	c.Request(joinChannel("general"))
	ok(t, a.Request(channelChat("general", "from ann")))
	ok(t, c.Request(channelChat("general", "from cat")))
	h := b.Request(joinChannel("general")).GetChatHistory()
	if h == nil {
		t.Fatal("no history on join")
	}
	var got []string
	for _, l := range h.Lines {
		got = append(got, l.FromUserId+":"+l.Text)
	}
	if strings.Join(got, ",") != "cat:from cat" {
		t.Fatalf("bob's channel history %v, want cat's line only", got)
	}

	// A room's chat.
	room := joined(t, a.Request(createRoom("tally"))).RoomId
	a.Next(isKind[*tickroomv1.ServerMessage_ChatHistory])
	joined(t, c.Request(joinRoom(room, 0)))
	c.Next(isKind[*tickroomv1.ServerMessage_ChatHistory])
	ok(t, a.Request(roomChat(room, "ann in the room", false)))
	ok(t, c.Request(roomChat(room, "cat in the room", false)))
	joined(t, b.Request(joinRoom(room, 0)))
	got = nil
	for _, l := range b.Next(isKind[*tickroomv1.ServerMessage_ChatHistory]).GetChatHistory().Lines {
		got = append(got, l.FromUserId+":"+l.Text)
	}
	if strings.Join(got, ",") != "cat:cat in the room" {
		t.Fatalf("bob's room history %v, want cat's line only", got)
	}
}
