package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

func roomChat(roomID, text string, exclude bool) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{RoomId: roomID, Text: text, ExcludeSender: exclude}}}
}

func channelChat(name, text string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: name, Text: text}}}
}

func joinChannel(name string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinChannel{JoinChannel: &tickroomv1.JoinChannel{Channel: name}}}
}

func leaveChannel(name string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveChannel{LeaveChannel: &tickroomv1.LeaveChannel{Channel: name}}}
}

func direct(to, text string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: to, Text: text}}}
}

func block(user string, undo bool) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: user, Unblock: undo}}}
}

func createRoom(gameName string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: gameName}}}
}

// ok fails the test unless m is Ok.
func ok(t *testing.T, m *tickroomv1.ServerMessage) {
	t.Helper()
	if m.GetOk() == nil {
		t.Fatalf("want Ok, got %v", m)
	}
}

// nextChat returns c's next chat line.
func (c *client) nextChat() *tickroomv1.Chat {
	c.t.Helper()
	return c.Next(isKind[*tickroomv1.ServerMessage_Chat]).GetChat()
}

// room puts the users in one tally room, in order, and returns the room id;
// each client has read its Joined and the room's ChatHistory.
func (e *env) room(users ...string) (string, []*client) {
	e.t.Helper()
	var id string
	var cs []*client
	for i, u := range users {
		c, _ := e.connect(u)
		var j *tickroomv1.Joined
		if i == 0 {
			j = joined(e.t, c.Request(createRoom("tally")))
			id = j.RoomId
		} else {
			j = joined(e.t, c.Request(joinRoom(id, 0)))
		}
		c.Next(isKind[*tickroomv1.ServerMessage_ChatHistory])
		cs = append(cs, c)
	}
	return id, cs
}

func TestRoomChatReachesEveryMember(t *testing.T) {
	for _, tc := range []struct {
		name    string
		exclude bool
	}{{"echoed to the sender", false}, {"sender excluded", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, options{})
			id, cs := e.room("ann", "bob", "cat")
			ok(t, cs[0].Request(roomChat(id, "hello all", tc.exclude)))
			var firstID uint64
			for _, c := range cs[1:] {
				line := c.nextChat()
				if firstID == 0 {
					firstID = line.Id
				}
				// Ids follow the lines' time (a thousand a millisecond).
				if line.Text != "hello all" || line.FromUserId != "ann" || line.FromName != "name-ann" || line.RoomId != id || line.Id != firstID || line.Id < uint64(line.SentAtMs)*1000 {
					t.Fatalf("%s got %v", c.user, line)
				}
			}
			// The second line tells whether the sender saw the first.
			ok(t, cs[1].Request(roomChat(id, "hi ann", false)))
			first := cs[0].nextChat()
			want := "hello all"
			if tc.exclude {
				want = "hi ann"
			}
			if first.Text != want {
				t.Fatalf("sender's first line %q, want %q", first.Text, want)
			}
			if got := cs[2].nextChat(); got.Text != "hi ann" || got.Id <= firstID {
				t.Fatalf("cat got %v", got)
			}
		})
	}
}

func TestChatHistoryOnJoin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines int // HistoryLines
		want  []string
	}{
		{"all kept", 0, []string{"one", "two", "three"}},
		{"last two kept", 2, []string{"two", "three"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, options{hub: func(c *hub.Config) { c.Social.HistoryLines = tc.lines }})
			id, cs := e.room("ann", "bob")
			for _, text := range []string{"one", "two", "three"} {
				ok(t, cs[0].Request(roomChat(id, text, false)))
			}
			cs[1].nextChat()
			cs[1].nextChat()
			cs[1].nextChat()
			late, _ := e.connect("cat")
			rid := late.Send(joinRoom(id, 0))
			joined(t, late.Reply(rid))
			h := late.Next(isKind[*tickroomv1.ServerMessage_ChatHistory]).GetChatHistory()
			var got []string
			for _, l := range h.Lines {
				got = append(got, l.Text)
			}
			if h.RoomId != id || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("history %s %v, want %v", h.RoomId, got, tc.want)
			}
		})
	}
}

func TestChatRefusals(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.MaxTextBytes = 10 }})
	id, cs := e.room("ann")
	a := cs[0]
	for _, tc := range []struct {
		name string
		msg  *tickroomv1.ClientMessage
		want tickroomv1.ErrorCode
	}{
		{"too long", roomChat(id, "01234567890", false), tickroomv1.ErrorCode_ERROR_CODE_MESSAGE_TOO_LONG},
		{"empty", roomChat(id, "", false), tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST},
		{"not in the room", roomChat("nope", "hi", false), tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM},
		{"room and channel", &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{RoomId: id, Channel: "x", Text: "hi"}}}, tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST},
		{"channel not joined", channelChat("general", "hi"), tickroomv1.ErrorCode_ERROR_CODE_CHANNEL_NOT_FOUND},
		{"bad channel name", joinChannel("No Spaces"), tickroomv1.ErrorCode_ERROR_CODE_CHANNEL_NOT_FOUND},
		{"leave a channel not joined", leaveChannel("general"), tickroomv1.ErrorCode_ERROR_CODE_CHANNEL_NOT_FOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errCode(t, a.Request(tc.msg)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The connection is still served.
	ok(t, a.Request(roomChat(id, "still here", false)))
}

func TestLobbyChannel(t *testing.T) {
	e := start(t, options{})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	c, _ := e.connect("cat")
	for _, x := range []*client{a, b} {
		h := x.Request(joinChannel("general")).GetChatHistory()
		if h == nil || h.Channel != "general" || len(h.Lines) != 0 {
			t.Fatalf("%s: history %v", x.user, h)
		}
	}
	ok(t, a.Request(channelChat("general", "hey")))
	if l := b.nextChat(); l.Channel != "general" || l.Text != "hey" || l.FromUserId != "ann" {
		t.Fatalf("bob got %v", l)
	}
	h := c.Request(joinChannel("general")).GetChatHistory()
	if len(h.Lines) != 1 || h.Lines[0].Text != "hey" {
		t.Fatalf("cat's history %v", h)
	}
	ok(t, b.Request(leaveChannel("general")))
	ok(t, c.Request(channelChat("general", "bye")))
	if l := a.nextChat(); l.Text != "hey" {
		t.Fatalf("ann's first line %v", l)
	}
	if l := a.nextChat(); l.Text != "bye" {
		t.Fatalf("ann's second line %v", l)
	}
	// Bob left: the next line he sees is one posted after he rejoins.
	b.Request(joinChannel("general"))
	ok(t, a.Request(channelChat("general", "welcome back")))
	if l := b.nextChat(); l.Text != "welcome back" {
		t.Fatalf("bob got %q after leaving", l.Text)
	}
}

func TestChannelLimits(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.MaxChannelsPerUser = 2; c.Social.MaxChannels = 3 }})
	a, _ := e.connect("ann")
	b, _ := e.connect("bob")
	for _, name := range []string{"one", "two"} {
		if a.Request(joinChannel(name)).GetChatHistory() == nil {
			t.Fatalf("join %s refused", name)
		}
	}
	if got := errCode(t, a.Request(joinChannel("three"))); got != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("third channel for one connection: %v", got)
	}
	if b.Request(joinChannel("three")).GetChatHistory() == nil {
		t.Fatal("bob's first channel refused")
	}
	if got := errCode(t, b.Request(joinChannel("four"))); got != tickroomv1.ErrorCode_ERROR_CODE_CHANNEL_NOT_FOUND {
		t.Fatalf("fourth channel on a server capped at three: %v", got)
	}
	if b.Request(joinChannel("one")).GetChatHistory() == nil {
		t.Fatal("joining an existing channel at the server cap refused")
	}
	// A channel goes with its last subscriber, which frees a place.
	ok(t, a.Request(leaveChannel("two")))
	c, _ := e.connect("cat")
	if c.Request(joinChannel("four")).GetChatHistory() == nil {
		t.Fatal("a freed channel place was not reused")
	}
}

func TestChatFloodIsRefusedWhileOthersKeepChatting(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.ChatBurst = 5; c.Social.ChatRate = 0.5 }})
	id, cs := e.room("ann", "bob", "cat")
	a, b, c := cs[0], cs[1], cs[2]
	var ids []uint32
	for range 20 {
		ids = append(ids, a.Send(roomChat(id, "spam", false)))
	}
	limited := 0
	for _, rid := range ids {
		m := a.Reply(rid)
		if m.GetError() != nil {
			if m.GetError().Code != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
				t.Fatalf("flood refused with %v", m.GetError())
			}
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 20 lines over a burst of 5 were refused", limited)
	}
	if got := e.hub.Stats().ChatRefused.Load(); got != uint64(limited) {
		t.Fatalf("ChatRefused %d, want %d", got, limited)
	}
	ok(t, b.Request(roomChat(id, "anyway", true)))
	for {
		if l := c.nextChat(); l.FromUserId == "bob" {
			if l.Text != "anyway" {
				t.Fatalf("cat got %v", l)
			}
			break
		}
	}
	ok(t, c.Request(roomChat(id, "indeed", true)))
	for {
		if l := b.nextChat(); l.FromUserId == "cat" {
			break
		}
	}
}

// TestChatRefusedOverItsRateSaysWhenToRetry: a chat line or a direct
// message over the chat rate is refused with ERROR_CODE_RATE_LIMITED and a
// retry hint (the README: retry_after_ms is set for rate limits), of when
// the next line would pass: about 1/ChatRate.
func TestChatRefusedOverItsRateSaysWhenToRetry(t *testing.T) {
	e := start(t, options{hub: func(c *hub.Config) { c.Social.ChatBurst = 2; c.Social.ChatRate = 0.5 }})
	id, cs := e.room("ann", "bob")
	a := cs[0]
	for range 2 {
		ok(t, a.Request(roomChat(id, "hi", false)))
	}
	for _, m := range []*tickroomv1.ClientMessage{roomChat(id, "hi", false), direct("bob", "psst")} {
		wait := rateLimited(t, a.Request(m))
		if wait > 2*time.Second {
			t.Fatalf("retry hint %v, want at most 1/ChatRate (2s)", wait)
		}
	}
}

// TestRoomChatIDsGoOnAfterEveryMemberDropped: a room's chat outlives no
// member (the last to leave its chat takes the chat's state with it), so
// when every member dropped at once (a proxy restarted, a household's
// network went down) and resumed, the room's lines were numbered from 1
// again, under ids the members' pages had shown, and a page that skips the
// ids it has (Chat.id is for de-duplication; the demo does) hid them.
func TestRoomChatIDsGoOnAfterEveryMemberDropped(t *testing.T) {
	e := start(t, options{})
	id, cs := e.room("ann", "bob")
	var last uint64
	for _, text := range []string{"one", "two", "three"} {
		ok(t, cs[0].Request(roomChat(id, text, true)))
		last = cs[1].nextChat().Id
	}
	for _, c := range cs {
		c.WS.UnderlyingConn().Close() // the network goes away, no close frame
		c.WaitClosed()
	}
	var back []*client
	for _, u := range []string{"ann", "bob"} {
		c, w := e.connect(u)
		// The seat is held once the server saw the drop.
		for len(w.Seats) == 0 {
			time.Sleep(10 * time.Millisecond)
			c, w = e.connect(u)
		}
		if j := joined(t, c.Request(joinRoom(id, 1))); !j.Resumed {
			t.Fatalf("%s: not resumed: %v", u, j)
		}
		back = append(back, c)
	}
	ok(t, back[0].Request(roomChat(id, "four", true)))
	if got := back[1].nextChat(); got.Id <= last {
		t.Fatalf("the line after the resume has id %d, not above %d, the last before the drop", got.Id, last)
	}
}

// waitRoomChats waits until the hub holds n rooms' chats.
func (e *env) waitRoomChats(n int) {
	e.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); e.hub.RoomChats() != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d rooms' chats held, want %d", e.hub.RoomChats(), n)
		}
	}
}

// dropAll cuts every client's network (no close frame) and waits until
// the server holds each one's seat, and returns clients logged in again.
func (e *env) dropAll(cs []*client) []*client {
	e.t.Helper()
	for _, c := range cs {
		c.WS.UnderlyingConn().Close()
		c.WaitClosed()
	}
	var back []*client
	for _, c := range cs {
		nc, w := e.connect(c.user)
		for len(w.Seats) == 0 {
			time.Sleep(10 * time.Millisecond)
			nc, w = e.connect(c.user)
		}
		back = append(back, nc)
	}
	return back
}

// TestRoomChatHistoryOutlivesEveryMemberDropping: a room's chat lived only
// while a member was connected, so when every member dropped at once (a
// proxy restart) and resumed within the drop grace, the room and their
// seats lived on but ChatHistory came back empty. The chat now lasts as
// long as the room holds a seat, and goes with the room's last seat.
func TestRoomChatHistoryOutlivesEveryMemberDropping(t *testing.T) {
	history := func(t *testing.T, c *client, id string) []string {
		t.Helper()
		if j := joined(t, c.Request(joinRoom(id, 1))); !j.Resumed {
			t.Fatalf("%s: not resumed: %v", c.user, j)
		}
		var got []string
		for _, l := range c.Next(isKind[*tickroomv1.ServerMessage_ChatHistory]).GetChatHistory().Lines {
			got = append(got, l.Text)
		}
		return got
	}
	t.Run("resumed, then left", func(t *testing.T) {
		e := start(t, options{})
		id, cs := e.room("ann", "bob")
		for _, text := range []string{"one", "two"} {
			ok(t, cs[0].Request(roomChat(id, text, true)))
			cs[1].nextChat()
		}
		back := e.dropAll(cs)
		for _, c := range back {
			if got := history(t, c, id); strings.Join(got, ",") != "one,two" {
				t.Fatalf("%s resumed with history %v, want [one two]", c.user, got)
			}
		}
		e.waitRoomChats(1)
		for _, c := range back {
			if c.Request(leaveRoom(id)).GetLeft() == nil {
				t.Fatalf("%s: no Left", c.user)
			}
		}
		e.waitRoomChats(0)
	})
	t.Run("seats expired", func(t *testing.T) {
		e := start(t, options{hub: func(c *hub.Config) { c.Runtime.DropGrace = 300 * time.Millisecond }})
		id, cs := e.room("ann", "bob")
		ok(t, cs[0].Request(roomChat(id, "one", true)))
		cs[1].nextChat()
		for _, c := range cs {
			c.WS.UnderlyingConn().Close()
			c.WaitClosed()
		}
		e.waitRoomChats(0)
	})
	t.Run("room closed", func(t *testing.T) {
		e := start(t, options{})
		id, cs := e.room("ann", "bob")
		ok(t, cs[0].Request(roomChat(id, "one", true)))
		cs[1].nextChat()
		e.dropAll(cs)
		e.waitRoomChats(1)
		if err := e.hub.CloseRoom(id, "done"); err != nil {
			t.Fatal(err)
		}
		e.waitRoomChats(0)
	})
}
