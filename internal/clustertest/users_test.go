package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/cluster"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// connectUser logs name in on node n and opens its WebSocket there; it
// returns the client, past its Welcome, and the user id.
func connectUser(t *testing.T, n *Node, name string) (*testclient.Client, string) {
	t.Helper()
	tok, uid := n.Login(t, name)
	return dialAs(t, n, tok, name), uid
}

// dialAs opens a WebSocket on n with tok and reads the Welcome.
func dialAs(t *testing.T, n *Node, tok, label string) *testclient.Client {
	t.Helper()
	cl, _, err := testclient.Dial(t, n.WSURL(), tok, testclient.Options{Label: label + "@" + n.ID})
	if err != nil {
		t.Fatalf("%s on %s: %v", label, n.ID, err)
	}
	cl.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return cl
}

// ok fails t unless m is an Ok.
func ok(t *testing.T, what string, m *tickroomv1.ServerMessage) {
	t.Helper()
	if m.GetOk() == nil {
		t.Fatalf("%s: %v", what, m)
	}
}

// request sends body and waits for its reply.
func request(c *testclient.Client, body any) *tickroomv1.ServerMessage {
	m := &tickroomv1.ClientMessage{}
	switch b := body.(type) {
	case *tickroomv1.SendDirect:
		m.Body = &tickroomv1.ClientMessage_SendDirect{SendDirect: b}
	case *tickroomv1.AddFriend:
		m.Body = &tickroomv1.ClientMessage_AddFriend{AddFriend: b}
	case *tickroomv1.AnswerFriend:
		m.Body = &tickroomv1.ClientMessage_AnswerFriend{AnswerFriend: b}
	case *tickroomv1.QueryPresence:
		m.Body = &tickroomv1.ClientMessage_QueryPresence{QueryPresence: b}
	case *tickroomv1.JoinChannel:
		m.Body = &tickroomv1.ClientMessage_JoinChannel{JoinChannel: b}
	case *tickroomv1.SendChat:
		m.Body = &tickroomv1.ClientMessage_SendChat{SendChat: b}
	case *tickroomv1.BlockUser:
		m.Body = &tickroomv1.ClientMessage_BlockUser{BlockUser: b}
	case *tickroomv1.Ping:
		m.Body = &tickroomv1.ClientMessage_Ping{Ping: b}
	case *tickroomv1.SendSignal:
		m.Body = &tickroomv1.ClientMessage_SendSignal{SendSignal: b}
	default:
		panic(fmt.Sprintf("request: %T", body))
	}
	return c.Request(m)
}

// presenceOf waits for the next Presence about uid on c.
func presenceOf(c *testclient.Client, uid string) *tickroomv1.Presence {
	return c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetPresence().GetUserId() == uid }).GetPresence()
}

// seesOnline waits until c's node sees the user uid (named who) online.
// The user records are written off the login path: a direct message sent
// before would be kept for the user's next login, the cluster having a
// store.
func seesOnline(t *testing.T, c *testclient.Client, name, uid, who string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pl := request(c, &tickroomv1.QueryPresence{UserIds: []string{uid}}).GetPresenceList()
		if len(pl.GetUsers()) == 1 && pl.Users[0].Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's node never saw %s online: %v", name, who, pl)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDirectMessageAndPresenceAcrossNodes has ada on n1 and bob on n2: a
// direct message crosses nodes; a friend request and its acceptance cross
// nodes and each learns the other's presence; a user who is not a friend
// sees only online or offline; when bob goes, ada is told he is offline;
// a direct message to a user connected nowhere is kept and reaches him
// when he logs in again, through the other node.
func TestDirectMessageAndPresenceAcrossNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	ada, adaID := connectUser(t, n1, "ada")
	bobToken, bobID := n2.Login(t, "bob")
	bob := dialAs(t, n2, bobToken, "bob")
	carol, _ := connectUser(t, n1, "carol")

	seesOnline(t, ada, "ada", bobID, "bob")
	ok(t, "direct message across nodes", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: "hi bob"}))
	dm := bob.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage()
	if dm.FromUserId != adaID || dm.FromName != "ada" || dm.Text != "hi bob" {
		t.Fatalf("bob got %v", dm)
	}

	// Not friends yet: carol (n1) sees bob (n2) online, no more.
	pl := request(carol, &tickroomv1.QueryPresence{UserIds: []string{bobID, "nobody"}}).GetPresenceList()
	if len(pl.GetUsers()) != 2 || pl.Users[0].Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE ||
		pl.Users[0].SinceMs != 0 || pl.Users[1].Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("carol's query: %v", pl)
	}

	ok(t, "ada asks bob", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	fr := bob.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest()
	if fr.FromUserId != adaID || fr.FromName != "ada" {
		t.Fatalf("bob's friend request: %v", fr)
	}
	ok(t, "bob accepts", request(bob, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
	if pr := presenceOf(bob, adaID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE || pr.Name != "ada" {
		t.Fatalf("bob sees ada as %v", pr)
	}
	fa := ada.Next(testclient.Is[*tickroomv1.ServerMessage_FriendAnswer]).GetFriendAnswer()
	if fa.UserId != bobID || !fa.Accepted {
		t.Fatalf("ada's friend answer: %v", fa)
	}
	if pr := presenceOf(ada, bobID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE || pr.SinceMs == 0 {
		t.Fatalf("ada sees bob as %v", pr)
	}
	// As a friend, ada's query gets bob's full status.
	pl = request(ada, &tickroomv1.QueryPresence{UserIds: []string{bobID}}).GetPresenceList()
	if pl.Users[0].Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE || pl.Users[0].SinceMs == 0 || pl.Users[0].Name != "bob" {
		t.Fatalf("ada's query: %v", pl)
	}

	// An operator's notice through n2 reaches ada on n1.
	st, body := n2.AdminRequest(t, http.MethodPost, "/v1/admin/notify", strings.NewReader(`{"user_id":"`+adaID+`","kind":"k","title":"hello","body":"b"}`))
	if st != http.StatusOK || !strings.Contains(string(body), `"delivered":1`) {
		t.Fatalf("notice through n2 to a user on n1: %d %s", st, body)
	}
	if n := ada.Next(testclient.Is[*tickroomv1.ServerMessage_Notification]).GetNotification(); n.Title != "hello" {
		t.Fatalf("ada's notice: %v", n)
	}

	bob.WS.Close()
	if pr := presenceOf(ada, bobID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("after bob left, ada sees %v", pr)
	}
	// carol, not a friend, was told nothing.
	for _, m := range carol.Drain(300 * time.Millisecond) {
		if m.GetPresence() != nil {
			t.Fatalf("carol got a presence: %v", m)
		}
	}
	// A message to a user connected nowhere is kept in the shared store
	// by ada's node and reaches bob at his next login, on the other node.
	ok(t, "direct message to a user gone from every node", request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: "still there?"}))
	// It is written off the request path; a login finds what is written.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, metrics := n1.AdminRequest(t, http.MethodGet, "/metrics", nil)
		if strings.Contains(string(metrics), `tickroom_store_written_total{kind="line"} 1`+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ada's node never wrote the kept message:\n%s", metrics)
		}
		time.Sleep(50 * time.Millisecond)
	}
	back := dialAs(t, n1, bobToken, "bob")
	if dm := back.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.FromUserId != adaID || dm.Text != "still there?" {
		t.Fatalf("bob, back on n1, got %v; want ada's kept message", dm)
	}
}

// TestChannelChatAcrossThreeNodes has a user on each of three nodes in
// one lobby channel: every line reaches all three with the same number,
// in one order; exclude_sender and blocks hold across nodes; the text
// limit holds as on one node.
func TestChannelChatAcrossThreeNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 3})
	var users []*testclient.Client
	var ids []string
	for i, n := range c.Nodes() {
		cl, uid := connectUser(t, n, fmt.Sprintf("u%d", i+1))
		if h := request(cl, &tickroomv1.JoinChannel{Channel: "lobby"}).GetChatHistory(); h == nil || h.Channel != "lobby" {
			t.Fatalf("join on %s: %v", n.ID, h)
		}
		users = append(users, cl)
		ids = append(ids, uid)
	}
	nextChat := func(cl *testclient.Client) *tickroomv1.Chat {
		return cl.Next(testclient.Is[*tickroomv1.ServerMessage_Chat]).GetChat()
	}
	for i, from := range users {
		text := fmt.Sprintf("line %d", i+1)
		ok(t, "send", request(from, &tickroomv1.SendChat{Channel: "lobby", Text: text}))
		var id uint64
		for j, to := range users {
			line := nextChat(to)
			if line.Text != text || line.FromUserId != ids[i] || line.Channel != "lobby" {
				t.Fatalf("user %d got %v, want %q from %s", j+1, line, text, ids[i])
			}
			if j == 0 {
				id = line.Id
			} else if line.Id != id {
				t.Fatalf("line %q numbered %d on one node, %d on another", text, id, line.Id)
			}
		}
	}

	// u3 blocks u1; u1 posts without its own echo: only u2 gets it.
	ok(t, "block", request(users[2], &tickroomv1.BlockUser{UserId: ids[0]}))
	ok(t, "send", request(users[0], &tickroomv1.SendChat{Channel: "lobby", Text: "quiet", ExcludeSender: true}))
	// The Ok says the line is accepted, not yet numbered: u2 sends once
	// it has u1's line.
	if line := nextChat(users[1]); line.Text != "quiet" {
		t.Fatalf("user 2 got %q, want %q", line.Text, "quiet")
	}
	ok(t, "send", request(users[1], &tickroomv1.SendChat{Channel: "lobby", Text: "after"}))
	for j, want := range [][]string{{"after"}, {"after"}, {"after"}} {
		for _, text := range want {
			if line := nextChat(users[j]); line.Text != text {
				t.Fatalf("user %d got %q, want %q", j+1, line.Text, text)
			}
		}
	}

	long := strings.Repeat("x", 501)
	if r := request(users[0], &tickroomv1.SendChat{Channel: "lobby", Text: long}); r.GetError().GetCode() != tickroomv1.ErrorCode(protocol.ErrorMessageTooLong) {
		t.Fatalf("a line over the limit: %v", r)
	}
}

// TestSecondLoginOnAnotherNodeClosesTheFirst connects ada to n1, then
// again (the same token) to n2: the first connection is closed with
// CLOSE_CODE_DUPLICATE_LOGIN and the second keeps working.
func TestSecondLoginOnAnotherNodeClosesTheFirst(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	tok, _ := n1.Login(t, "ada")
	first := dialAs(t, n1, tok, "ada")
	// The first connection's record is written off the login path.
	time.Sleep(300 * time.Millisecond)
	second := dialAs(t, n2, tok, "ada")
	if code := first.WaitClosed(); code != int(protocol.CloseDuplicateLogin) {
		t.Fatalf("first connection closed with %d, want %d", code, protocol.CloseDuplicateLogin)
	}
	if r := request(second, &tickroomv1.Ping{ClientTimeMs: 1}); r.GetPong() == nil {
		t.Fatalf("second connection: %v", r)
	}
	if code := second.CloseCode(); code != 0 {
		t.Fatalf("second connection closed with %d", code)
	}
}

// TestBanOnOneNodeAppliesOnAnother bans, through n1's admin API, a user
// connected to n2: the connection closes with CLOSE_CODE_BANNED and n2
// refuses the user's token; a kick through n1 of a user on n2 closes it
// with CLOSE_CODE_KICKED; unbanning on n1 lets the user back on n2.
func TestBanOnOneNodeAppliesOnAnother(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	tok, uid := n1.Login(t, "mallory")
	cl := dialAs(t, n2, tok, "mallory")
	if st, body := n1.AdminRequest(t, http.MethodPost, "/v1/admin/players/"+uid+"/ban", strings.NewReader(`{"reason":"cheating"}`)); st != http.StatusOK {
		t.Fatalf("ban on n1: %d %s", st, body)
	}
	if code := cl.WaitClosed(); code != int(protocol.CloseBanned) {
		t.Fatalf("connection on n2 closed with %d, want %d", code, protocol.CloseBanned)
	}
	if _, resp, err := testclient.Dial(t, n2.WSURL(), tok, testclient.Options{}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("banned token on n2: %v %v", resp, err)
	}
	if st, body := n1.AdminRequest(t, http.MethodPost, "/v1/admin/players/"+uid+"/unban", nil); st != http.StatusOK {
		t.Fatalf("unban on n1: %d %s", st, body)
	}
	// The unban reaches n2 through the bus: retry until it has.
	deadline := time.Now().Add(10 * time.Second)
	var back *testclient.Client
	for back == nil {
		cl, _, err := testclient.Dial(t, n2.WSURL(), tok, testclient.Options{Label: "mallory back"})
		if err == nil {
			back = cl
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after unban, n2 still refuses: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	back.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	time.Sleep(300 * time.Millisecond) // the record of the new connection
	if st, body := n1.AdminRequest(t, http.MethodPost, "/v1/admin/players/"+uid+"/kick", nil); st != http.StatusOK {
		t.Fatalf("kick on n1 of a user on n2: %d %s", st, body)
	}
	if code := back.WaitClosed(); code != int(protocol.CloseKicked) {
		t.Fatalf("kicked connection closed with %d, want %d", code, protocol.CloseKicked)
	}
}

// sendUntil sends a direct message from c to uid until the reply's code
// is want (0: Ok), failing t after 20 s.
func sendUntil(t *testing.T, c *testclient.Client, uid string, want protocol.ErrorCode) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := request(c, &tickroomv1.SendDirect{ToUserId: uid, Text: "ping"})
		if uint32(r.GetError().GetCode()) == uint32(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("direct message to %s: %v, want code %v", uid, r, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reachUntil sends direct messages from c to uid until to, uid's
// connection, is pushed one, failing t after 20 s: a message sent before
// uid's session record reached Redis finds uid connected nowhere and is
// kept for its next login (Ok, but not pushed).
func reachUntil(t *testing.T, c *testclient.Client, uid string, to *testclient.Client) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sendUntil(t, c, uid, 0)
		for _, m := range to.Drain(300 * time.Millisecond) {
			if m.GetDirectMessage() != nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no direct message to %s pushed within 20 s", uid)
		}
	}
}

// TestUsersAcrossNodesWithoutRedis stops Redis under two nodes: a direct
// message to a user of the other node is refused with
// ERROR_CODE_UNAVAILABLE, while one to a user of the same node and a
// lobby channel line to the node's own members still arrive; once Redis
// is back (empty), the nodes record their users again and direct
// messages cross nodes again.
func TestUsersAcrossNodesWithoutRedis(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	ada, _ := connectUser(t, n1, "ada")
	carol, carolID := connectUser(t, n1, "carol")
	bob, bobID := connectUser(t, n2, "bob")
	for _, u := range []*testclient.Client{ada, carol} {
		request(u, &tickroomv1.JoinChannel{Channel: "lobby"})
	}
	reachUntil(t, ada, bobID, bob)

	c.Redis.Stop(t)
	if r := request(ada, &tickroomv1.SendDirect{ToUserId: bobID, Text: "across"}); r.GetError().GetCode() != tickroomv1.ErrorCode(protocol.ErrorUnavailable) {
		t.Fatalf("direct message across nodes without Redis: %v", r)
	}
	ok(t, "local direct message", request(ada, &tickroomv1.SendDirect{ToUserId: carolID, Text: "here"}))
	if dm := carol.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.Text != "here" {
		t.Fatalf("carol got %v", dm)
	}
	ok(t, "channel line without Redis", request(ada, &tickroomv1.SendChat{Channel: "lobby", Text: "local line"}))
	if line := carol.Next(testclient.Is[*tickroomv1.ServerMessage_Chat]).GetChat(); line.Text != "local line" {
		t.Fatalf("carol got %v", line)
	}

	c.Redis.Restart(t)
	// Until n2 records bob again (its next heartbeat), a message to him is
	// stored as to a user connected nowhere: send until one is pushed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		sendUntil(t, ada, bobID, 0)
		for _, m := range bob.Drain(300 * time.Millisecond) {
			if dm := m.GetDirectMessage(); dm != nil {
				if dm.FromName != "ada" {
					t.Fatalf("bob got %v", dm)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no direct message reached bob across nodes after Redis came back")
		}
	}
}

// TestFriendRequestReachesAUserWhoConnectsElsewhere: ada on n1 asks bob,
// who is connected nowhere; bob connects to n2 and gets the request, and
// accepts it. When bob's login moves to n1 (a second login there closes
// his n2 connection), ada is not told he went offline.
func TestFriendRequestReachesAUserWhoConnectsElsewhere(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	ada, adaID := connectUser(t, n1, "ada")
	bobTok, bobID := n2.Login(t, "bob")
	ok(t, "ada asks bob, offline", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bob := dialAs(t, n2, bobTok, "bob")
	fr := bob.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest()
	if fr.FromUserId != adaID || fr.FromName != "ada" || fr.SentAtMs == 0 {
		t.Fatalf("bob's standing request: %v", fr)
	}
	ok(t, "bob accepts", request(bob, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
	if pr := presenceOf(ada, bobID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("ada sees bob as %v", pr)
	}

	time.Sleep(300 * time.Millisecond) // bob's record on n2
	dialAs(t, n1, bobTok, "bob again")
	if code := bob.WaitClosed(); code != int(protocol.CloseDuplicateLogin) {
		t.Fatalf("bob's n2 connection closed with %d", code)
	}
	for _, m := range ada.Drain(500 * time.Millisecond) {
		if pr := m.GetPresence(); pr != nil && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
			t.Fatalf("ada told bob is offline while he moved: %v", pr)
		}
	}
}

// TestFriendsSeeEachOtherOnlineAfterLoggingInOnDifferentNodes: ada (n1)
// and bob (n2), friends in the shared store, log in again on their nodes:
// bob's friend list, read as he connects, brings ada's presence from her
// node, and ada is told bob is online, though neither changes status.
func TestFriendsSeeEachOtherOnlineAfterLoggingInOnDifferentNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	adaTok, adaID := n1.Login(t, "ada")
	bobTok, bobID := n2.Login(t, "bob")
	ada, bob := dialAs(t, n1, adaTok, "ada"), dialAs(t, n2, bobTok, "bob")
	reachUntil(t, ada, bobID, bob) // bob's record reached Redis
	ok(t, "ada asks bob", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bob.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "bob accepts", request(bob, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
	presenceOf(ada, bobID)
	ada.WS.Close()
	bob.WS.Close()
	time.Sleep(time.Second) // both sessions' records leave Redis

	ada = dialAs(t, n1, adaTok, "ada again")
	time.Sleep(500 * time.Millisecond) // ada's record on n1
	bob = dialAs(t, n2, bobTok, "bob again")
	if pr := presenceOf(bob, adaID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE || pr.Name != "ada" {
		t.Fatalf("bob, logging in on n2, sees ada (on n1) as %v", pr)
	}
	// ada's own login found bob offline; his login tells her otherwise.
	ada.Next(func(m *tickroomv1.ServerMessage) bool {
		pr := m.GetPresence()
		return pr.GetUserId() == bobID && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE && pr.Name == "bob"
	})
}

// TestChannelLineIdsKeepIncreasingWhenRedisForgets: a lobby channel's
// line ids increase by one per line (protocol/README.md), numbered by a
// counter in Redis. When Redis forgets it (a restart that comes back
// empty, here FLUSHALL; or the counter's day-long TTL past while members
// sat in a quiet channel), the next line was numbered 1 again, below the
// ids the members had seen; it now goes on from the sender's last id.
func TestChannelLineIdsKeepIncreasingWhenRedisForgets(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	var users []*testclient.Client
	for i, n := range c.Nodes() {
		cl, _ := connectUser(t, n, fmt.Sprintf("u%d", i+1))
		if h := request(cl, &tickroomv1.JoinChannel{Channel: "lobby"}).GetChatHistory(); h == nil {
			t.Fatalf("join on %s: %v", n.ID, h)
		}
		users = append(users, cl)
	}
	send := func(text string) []uint64 {
		t.Helper()
		ok(t, "send", request(users[0], &tickroomv1.SendChat{Channel: "lobby", Text: text}))
		var ids []uint64
		for _, to := range users {
			line := to.Next(testclient.Is[*tickroomv1.ServerMessage_Chat]).GetChat()
			if line.Text != text {
				t.Fatalf("got %q, want %q", line.Text, text)
			}
			ids = append(ids, line.Id)
		}
		return ids
	}
	var last uint64
	for i := range 3 {
		last = send(fmt.Sprintf("line %d", i+1))[0]
	}
	if err := c.Redis.Client(t).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	for j, id := range send("after the flush") {
		if id != last+1 {
			t.Errorf("user %d: the line after Redis forgot the counter has id %d, after %d", j+1, id, last)
		}
	}
}

// TestFriendsOfACrashedNodesUsersSeeThemOffline: a node that crashes
// (kill -9) casts no OFFLINE for its users, so their friends on other
// nodes saw them online for good. Now the other nodes take a node missing
// from the live nodes for a few heartbeats for gone, and tell each local
// user whose friend was on it that the friend is offline: carol, who
// learned ada's presence when they became friends, and bob, who learned
// it at his login.
func TestFriendsOfACrashedNodesUsersSeeThemOffline(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	adaTok, adaID := n1.Login(t, "ada")
	bobTok, bobID := n2.Login(t, "bob")
	carolTok, carolID := n2.Login(t, "carol")
	ada := dialAs(t, n1, adaTok, "ada")
	bob, carol := dialAs(t, n2, bobTok, "bob"), dialAs(t, n2, carolTok, "carol")
	reachUntil(t, ada, bobID, bob)
	reachUntil(t, ada, carolID, carol)
	for _, f := range []struct {
		id string
		c  *testclient.Client
	}{{bobID, bob}, {carolID, carol}} {
		ok(t, "ada asks", request(ada, &tickroomv1.AddFriend{UserId: f.id}))
		f.c.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
		ok(t, "accept", request(f.c, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
		if pr := presenceOf(f.c, adaID); pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
			t.Fatalf("a new friend sees ada as %v", pr)
		}
	}
	// bob logs in again: he learns ada's presence from her node's answer.
	bob.WS.Close()
	time.Sleep(time.Second)
	bob = dialAs(t, n2, bobTok, "bob again")
	if pr := presenceOf(bob, adaID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("bob, logging in again, sees ada as %v", pr)
	}

	n1.Kill(t)
	killed := time.Now()
	for _, f := range []*testclient.Client{bob, carol} {
		for deadline := killed.Add(2*cluster.MaxTTL + 15*time.Second); ; {
			if time.Now().After(deadline) {
				t.Fatalf("%v after the crash of ada's node, a friend still sees her online", time.Since(killed))
			}
			found := false
			for _, m := range f.Drain(500 * time.Millisecond) {
				if pr := m.GetPresence(); pr.GetUserId() == adaID && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
					found = true
				}
			}
			if found {
				break
			}
		}
	}
	t.Logf("friends told ada is offline %v after her node was killed", time.Since(killed).Round(100*time.Millisecond))
}

// TestFriendsOfANodeRestartedAtOnceSeeItsUsersOffline: a node killed and
// started again under its id (-node-id) at once, within its
// registration's TTL, was never missing from the live nodes, so the
// friends elsewhere of the users it had before the crash saw them online
// for good. Notes made before the node's current start are now taken as
// its earlier process's: those users are pushed as offline.
func TestFriendsOfANodeRestartedAtOnceSeeItsUsersOffline(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	adaTok, adaID := n1.Login(t, "ada")
	bobTok, bobID := n2.Login(t, "bob")
	ada, bob := dialAs(t, n1, adaTok, "ada"), dialAs(t, n2, bobTok, "bob")
	reachUntil(t, ada, bobID, bob)
	ok(t, "ada asks", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bob.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "accept", request(bob, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
	if pr := presenceOf(bob, adaID); pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("bob sees his new friend ada as %v", pr)
	}
	n1.Kill(t)
	killed := time.Now()
	n1.Restart(t)
	for deadline := killed.Add(2*cluster.MaxTTL + 15*time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatalf("%v after ada's node was killed and started again at once, bob still sees her online", time.Since(killed))
		}
		found := false
		for _, m := range bob.Drain(500 * time.Millisecond) {
			if pr := m.GetPresence(); pr.GetUserId() == adaID && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
				found = true
			}
		}
		if found {
			break
		}
	}
	t.Logf("bob told ada is offline %v after her node was killed", time.Since(killed).Round(100*time.Millisecond))
	// Back on the restarted node, ada is online for bob, and stays so.
	_ = dialAs(t, n1, adaTok, "ada again")
	if pr := presenceOf(bob, adaID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE {
		t.Fatalf("bob sees ada, back on her node, as %v", pr)
	}
	for _, m := range bob.Drain(4 * time.Second) {
		if pr := m.GetPresence(); pr.GetUserId() == adaID && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
			t.Fatalf("bob told ada is offline while she is connected to the restarted node")
		}
	}
}

// TestMultiSocketUserStaysOnlineWhileASocketElsewhereStays: with
// -multi-sockets a user may hold connections on several nodes, and
// protocol/README.md says a user is ONLINE from its first connection to
// its last. bob has a socket on n2 and one on n1; when either closes, his
// friend ada (on n1) must not be told he is offline, since the other
// stays.
func TestMultiSocketUserStaysOnlineWhileASocketElsewhereStays(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2, Args: []string{"-multi-sockets"}})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	adaTok, adaID := n1.Login(t, "ada")
	bobTok, bobID := n2.Login(t, "bob")
	ada, bobFar := dialAs(t, n1, adaTok, "ada"), dialAs(t, n2, bobTok, "bob")
	reachUntil(t, ada, bobID, bobFar)
	ok(t, "ada asks bob", request(ada, &tickroomv1.AddFriend{UserId: bobID}))
	bobFar.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	ok(t, "bob accepts", request(bobFar, &tickroomv1.AnswerFriend{UserId: adaID, Accept: true}))
	presenceOf(ada, bobID)

	offline := func(what string) {
		t.Helper()
		for _, m := range ada.Drain(2 * time.Second) {
			if pr := m.GetPresence(); pr.GetUserId() == bobID && pr.Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
				t.Fatalf("%s, ada was told bob is offline though his socket on the other node is open", what)
			}
		}
		pl := request(ada, &tickroomv1.QueryPresence{UserIds: []string{bobID}}).GetPresenceList()
		if len(pl.GetUsers()) != 1 || pl.Users[0].Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
			t.Fatalf("%s, ada's query: %v", what, pl)
		}
	}
	bobNear := dialAs(t, n1, bobTok, "bob on n1")
	time.Sleep(500 * time.Millisecond) // its record reaches Redis
	bobNear.WS.Close()
	offline("after bob's socket on ada's node closed")

	bobNear = dialAs(t, n1, bobTok, "bob on n1 again")
	time.Sleep(500 * time.Millisecond)
	bobFar.WS.Close()
	offline("after bob's socket on the other node closed")

	// His last socket closes: now he is offline.
	bobNear.WS.Close()
	if pr := presenceOf(ada, bobID); pr.Status != tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE {
		t.Fatalf("after bob's last socket closed, ada sees him as %v", pr)
	}
}

// TestShutdownRemovesUserRecords: a node shut down with SIGTERM leaves
// no record of its users' connections in Redis. It leaves the cluster
// before it closes its connections, and the records used to stay for
// their TTL (2 min), counting again as soon as a node of the same id
// registered.
func TestShutdownRemovesUserRecords(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1 := c.Nodes()[0]
	rdb := c.Redis.Client(t)
	ctx := context.Background()
	_, uid := connectUser(t, n1, "ada")
	key := "tickroom:user:" + uid
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Exists(ctx, key).Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("ada's connection was never recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := n1.Term(t, 20*time.Second); err != nil {
		t.Fatalf("n1 exited with %v", err)
	}
	if v := rdb.HGetAll(ctx, key).Val(); len(v) != 0 {
		t.Fatalf("after n1's shutdown, ada's record holds %v (TTL %v)", v, rdb.PTTL(ctx, key).Val())
	}
}
