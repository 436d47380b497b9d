package tickroom_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

// guest is a guest account with its device secret.
type guest struct{ id, name, secret string }

// newGuest logs a new guest in and returns its account.
func newGuest(t *testing.T, a api, name string) guest {
	t.Helper()
	st, out := a.post("/v1/login", "", map[string]string{"name": name})
	if st != 200 || str(out, "device_secret") == "" {
		t.Fatalf("guest login %s: %d %v", name, st, out)
	}
	return guest{id: str(out, "user_id"), name: name, secret: str(out, "device_secret")}
}

// newClaimed logs a new guest in and claims name for it, and returns the
// account with its device secret.
func newClaimed(t *testing.T, a api, name string) guest {
	t.Helper()
	st, in := a.post("/v1/login", "", map[string]string{"name": name})
	if st != 200 {
		t.Fatalf("guest login %s: %d %v", name, st, in)
	}
	st, out := a.post("/v1/account/claim", str(in, "token"), map[string]string{"name": name, "password": "correct horse", "device_secret": str(in, "device_secret")})
	if st != 200 || out["claimed"] != true || str(out, "device_secret") == "" {
		t.Fatalf("claim %s: %d %v", name, st, out)
	}
	return guest{id: str(in, "user_id"), name: name, secret: str(out, "device_secret")}
}

// connectAs logs g in with its device secret and connects it.
func connectAs(t *testing.T, srv *tickroom.Server, a api, g guest) *testclient.Client {
	t.Helper()
	st, out := a.post("/v1/login", "", map[string]string{"device_secret": g.secret})
	if st != 200 || str(out, "user_id") != g.id {
		t.Fatalf("device login %s: %d %v", g.name, st, out)
	}
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, str(out, "token"), testclient.Options{Label: g.name})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return c
}

func addFriend(id string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: id}}}
}

func answerFriend(id string, accept bool) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AnswerFriend{AnswerFriend: &tickroomv1.AnswerFriend{UserId: id, Accept: accept}}}
}

func presenceOf(id string, status tickroomv1.PresenceStatus) func(*tickroomv1.ServerMessage) bool {
	return func(m *tickroomv1.ServerMessage) bool {
		p := m.GetPresence()
		return p != nil && p.UserId == id && p.Status == status
	}
}

// TestSocialGraphSurvivesARestart: friendships, standing friend requests,
// declined ones and blocks are kept in the data directory. After a restart
// a user who logs in with its device secret gets its friends' presence and
// the requests standing for it (not the declined one), presence flows
// between the friends again, a block still refuses direct messages, and a
// request answered while its sender is offline makes the two friends when
// the sender comes back.
func TestSocialGraphSurvivesARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	ann, bob, cy, dee, eve := newGuest(t, a, "ann"), newGuest(t, a, "bob"), newGuest(t, a, "cy"), newGuest(t, a, "dee"), newGuest(t, a, "eve")
	ac, bc, cc, ec := connectAs(t, srv, a, ann), connectAs(t, srv, a, bob), connectAs(t, srv, a, cy), connectAs(t, srv, a, eve)
	// eve asks ann, who declines.
	if ec.Request(addFriend(ann.id)).GetOk() == nil {
		t.Fatal("eve's friend request refused")
	}
	ac.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetFriendRequest().GetFromUserId() == eve.id })
	if ac.Request(answerFriend(eve.id, false)).GetOk() == nil {
		t.Fatal("ann could not decline eve")
	}
	if fa := ec.Next(testclient.Is[*tickroomv1.ServerMessage_FriendAnswer]).GetFriendAnswer(); fa.UserId != ann.id || fa.Accepted {
		t.Fatalf("eve told %v, want ann's refusal", fa)
	}
	if bc.Request(addFriend(ann.id)).GetOk() == nil {
		t.Fatal("bob's friend request refused")
	}
	ac.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	if ac.Request(answerFriend(bob.id, true)).GetOk() == nil {
		t.Fatal("ann could not accept bob")
	}
	if cc.Request(addFriend(ann.id)).GetOk() == nil {
		t.Fatal("cy's friend request refused")
	}
	block := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: dee.id}}}
	if ac.Request(block).GetOk() == nil {
		t.Fatal("ann could not block dee")
	}
	cancel() // shutdown writes what the store queue holds
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, a, _, _ = accountServer(t, dir)
	ac = connectAs(t, srv, a, ann)
	ac.Next(presenceOf(bob.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE))
	if r := ac.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest(); r.FromUserId != cy.id || r.FromName != "cy" {
		t.Fatalf("standing request after the restart: %v, want cy's", r)
	}
	bc = connectAs(t, srv, a, bob)
	bc.Next(presenceOf(ann.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE))
	ac.Next(presenceOf(bob.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE))

	dc := connectAs(t, srv, a, dee)
	dm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: ann.id, Text: "hi"}}}
	if code := dc.Request(dm).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("dee's message to ann, who blocked dee before the restart: %v, want ERROR_CODE_BLOCKED", code)
	}

	// cy is offline: ann accepts anyway, and cy finds ann among its
	// friends when it connects.
	if ac.Request(answerFriend(cy.id, true)).GetOk() == nil {
		t.Fatal("ann could not accept the request of cy, offline")
	}
	ac.Next(presenceOf(cy.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE))
	cc = connectAs(t, srv, a, cy)
	cc.Next(presenceOf(ann.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE))
	ac.Next(presenceOf(cy.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE))

	// The declined request stayed declined: ann asking eve now is a new
	// request eve must answer, not a friendship made from eve's old one.
	ec = connectAs(t, srv, a, eve)
	if ac.Request(addFriend(eve.id)).GetOk() == nil {
		t.Fatal("ann's friend request to eve refused")
	}
	got := ec.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetFriendRequest() != nil || m.GetFriendAnswer() != nil || m.GetPresence().GetUserId() == ann.id
	})
	if got.GetFriendRequest().GetFromUserId() != ann.id {
		t.Fatalf("eve, whose request ann declined before the restart, got %v when ann asked; want ann's friend request", got)
	}
}

func blockUser(id string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: id}}}
}

// errorCode is the code of r's Error, or 0 when r is no Error.
func errorCode(r *tickroomv1.ServerMessage) tickroomv1.ErrorCode { return r.GetError().GetCode() }

// TestContactsWithUnknownUsersAreRefused: with a store, a friend request
// or a block naming a user id no account has is refused with
// ERROR_CODE_USER_NOT_FOUND and stores nothing, while those naming
// existing users who are offline are kept.
func TestContactsWithUnknownUsersAreRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	ann, bob, cy := newGuest(t, a, "ann"), newGuest(t, a, "bob"), newGuest(t, a, "cy")
	ac := connectAs(t, srv, a, ann)
	ghost := strings.Repeat("g", 128)
	for _, tc := range []struct {
		name string
		msg  *tickroomv1.ClientMessage
		want tickroomv1.ErrorCode
	}{
		{"friend request to an unknown id", addFriend(ghost), tickroomv1.ErrorCode_ERROR_CODE_USER_NOT_FOUND},
		{"block of an unknown id", blockUser(ghost), tickroomv1.ErrorCode_ERROR_CODE_USER_NOT_FOUND},
		{"friend request to an offline user", addFriend(bob.id), 0},
		{"block of an offline user", blockUser(cy.id), 0},
	} {
		r := ac.Request(tc.msg)
		if errorCode(r) != tc.want || (tc.want == 0 && r.GetOk() == nil) {
			t.Errorf("%s: got %v, want code %v", tc.name, r, tc.want)
		}
	}
	cancel() // shutdown writes what the store queue holds
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(context.Background(), store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fs, err := db.Friendships(context.Background(), ann.id)
	if err != nil || len(fs) != 1 || fs[0].To != bob.id {
		t.Errorf("ann's stored friendships = %+v, %v; want the request to bob alone", fs, err)
	}
	if bs, err := db.Blocks(context.Background(), ann.id); err != nil || len(bs) != 1 || bs[0] != cy.id {
		t.Errorf("ann's stored blocks = %v, %v; want cy alone", bs, err)
	}
}

// TestFriendRequestsStandingForAUserAreCapped: once SocialListSize
// requests stand for a user, the next sender gets ERROR_CODE_LIST_FULL
// and nothing is stored, whether the user is offline or online and
// after a restart (the store counts them); the user's requests and
// blocks still load at its login.
func TestFriendRequestsStandingForAUserAreCapped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := func(o *tickroom.Options) { o.SocialListSize = 2 }
	srv, a, cancel, done := accountServerWith(t, dir, small)
	// cy has a claimed name: guests may have only half of ann's requests.
	ann, bob, cy, dee, eve := newGuest(t, a, "ann"), newGuest(t, a, "bob"), newClaimed(t, a, "cy"), newGuest(t, a, "dee"), newGuest(t, a, "eve")
	ac := connectAs(t, srv, a, ann)
	if ac.Request(blockUser(eve.id)).GetOk() == nil {
		t.Fatal("ann could not block eve")
	}
	bc, cc, dc := connectAs(t, srv, a, bob), connectAs(t, srv, a, cy), connectAs(t, srv, a, dee)
	for _, c := range []*testclient.Client{bc, cc} {
		if r := c.Request(addFriend(ann.id)); r.GetOk() == nil {
			t.Fatalf("friend request to ann below the cap: %v", r)
		}
	}
	if code := errorCode(dc.Request(addFriend(ann.id))); code != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("third request to ann: %v, want ERROR_CODE_LIST_FULL", code)
	}
	cancel() // shutdown writes what the store queue holds
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, a, _, _ = accountServerWith(t, dir, small)
	dc = connectAs(t, srv, a, dee)
	if code := errorCode(dc.Request(addFriend(ann.id))); code != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("third request to ann, offline, after a restart: %v, want ERROR_CODE_LIST_FULL", code)
	}
	ac = connectAs(t, srv, a, ann)
	from := map[string]bool{}
	for range 2 {
		from[ac.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest().GetFromUserId()] = true
	}
	if !from[bob.id] || !from[cy.id] {
		t.Fatalf("requests standing for ann after the restart: %v, want bob's and cy's", from)
	}
	ec := connectAs(t, srv, a, eve)
	if code := errorCode(ec.Request(sendDirect(ann.id, "hi"))); code != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("eve's message to ann, who blocked eve: %v, want ERROR_CODE_BLOCKED", code)
	}
	if code := errorCode(dc.Request(addFriend(ann.id))); code != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("third request to ann, online again: %v, want ERROR_CODE_LIST_FULL", code)
	}
}

// TestBlockRefusesFriendRequestsWhileTheBlockerIsAway: a user's block
// stands while it is connected nowhere: a friend request from the user
// it blocked is refused with ERROR_CODE_BLOCKED (as while it is online),
// and it is shown no request from that user when it comes back.
func TestBlockRefusesFriendRequestsWhileTheBlockerIsAway(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	bc := connectAs(t, srv, a, bob)
	block := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: ann.id}}}
	if bc.Request(block).GetOk() == nil {
		t.Fatal("bob could not block ann")
	}
	cancel() // shutdown writes what the store queue holds
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, a, _, _ = accountServer(t, dir)
	ac := connectAs(t, srv, a, ann)
	if m := ac.Request(addFriend(bob.id)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("ann's request to bob, who blocked ann and is away: %v, want ERROR_CODE_BLOCKED", m)
	}
	bc = connectAs(t, srv, a, bob)
	for _, m := range bc.Drain(300 * time.Millisecond) {
		if r := m.GetFriendRequest(); r != nil {
			t.Fatalf("bob shown a friend request from a user it blocks: %v", r)
		}
	}
}

// startOnPostgres starts a server on a PostgreSQL of its own, which the
// test may stop and restart, and returns a dial that connects with a token
// and returns the client and its user id.
func startOnPostgres(t *testing.T) (*pgtest.Server, *tickroom.Server, func(tok, label string) (*testclient.Client, string)) {
	t.Helper()
	pg := pgtest.Start(t)
	srv, _, _ := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DatabaseURL: pg.NewDatabase(t), AdminAddr: "127.0.0.1:0",
	})
	dial := func(tok, label string) (*testclient.Client, string) {
		t.Helper()
		c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, tok, testclient.Options{Label: label})
		if err != nil {
			t.Fatal(err)
		}
		return c, c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId()
	}
	return pg, srv, dial
}

// TestGraphReadOnceTheDatabaseIsBack: a user who connects while the
// database is out of reach (a PostgreSQL restart) gets its friends,
// requests and blocks once it is back, without reconnecting. Its lists
// were read once, at its first connection; the failed read left them
// empty for the whole session: no friend's presence, and a user it had
// blocked reached it again with direct messages.
func TestGraphReadOnceTheDatabaseIsBack(t *testing.T) {
	t.Parallel()
	pg, srv, dialTok := startOnPostgres(t)
	annTok := login(t, srv, "ann")
	ann, annID := dialTok(annTok, "ann")
	bob, bobID := dialTok(login(t, srv, "bob"), "bob")
	eve, eveID := dialTok(login(t, srv, "eve"), "eve")
	if ann.Request(addFriend(bobID)).GetOk() == nil {
		t.Fatal("ann's friend request refused")
	}
	bob.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetFriendRequest().GetFromUserId() == annID })
	if bob.Request(answerFriend(annID, true)).GetOk() == nil {
		t.Fatal("bob could not accept")
	}
	if ann.Request(blockUser(eveID)).GetOk() == nil {
		t.Fatal("ann could not block eve")
	}
	toAnn := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: annID, Text: "hi"}}}
	if code := errorCode(eve.Request(toAnn)); code != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("eve's message to ann, who blocks her: %v, want BLOCKED", code)
	}
	// The block is answered Ok before the store has it: had the database
	// stopped with it still queued, ann's lists, read once it is back,
	// could come before the queue's retry wrote it.
	waitUntil(t, "the friendship and the block written", func() bool {
		return strings.Contains(adminGet(t, srv, "/metrics"), "tickroom_store_queue_depth 0\n")
	})
	ann.WS.Close()
	bob.Next(presenceOf(annID, tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE))
	pg.Stop(t)
	ann2, _ := dialTok(annTok, "ann again")
	time.Sleep(2 * time.Second) // its lists could not be read
	pg.Restart(t)
	// Once the database answers, ann gets bob's presence (her friend
	// list), and eve is blocked again.
	ann2.Next(presenceOf(bobID, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE))
	if code := errorCode(eve.Request(toAnn)); code != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("eve's message to ann once the database is back: %v, want BLOCKED", code)
	}
}

// TestInboxDeliveredOnceTheDatabaseIsBack: a user who connects while the
// database is out of reach gets the direct messages kept for it once the
// database is back, without reconnecting; they were read once, at its
// first connection, and waited for its next login.
func TestInboxDeliveredOnceTheDatabaseIsBack(t *testing.T) {
	t.Parallel()
	pg, srv, dialTok := startOnPostgres(t)
	bobTok := login(t, srv, "bob")
	bob, bobID := dialTok(bobTok, "bob")
	bob.WS.Close()
	time.Sleep(time.Second) // bob offline
	ada, _ := dialTok(login(t, srv, "ada"), "ada")
	toBob := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: bobID, Text: "while you were away"}}}
	if r := ada.Request(toBob); r.GetOk() == nil {
		t.Fatalf("a message to bob, offline: %v", r)
	}
	time.Sleep(time.Second) // written
	pg.Stop(t)
	bob2, _ := dialTok(bobTok, "bob again")
	time.Sleep(2 * time.Second) // its inbox could not be read
	pg.Restart(t)
	if dm := bob2.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage(); dm.Text != "while you were away" {
		t.Fatalf("bob got %q", dm.Text)
	}
}

// TestEveryLoginGetsTheFriendList: protocol/README.md says the server
// sends a user, after each login, a Presence for each friend (the friend
// list). A login made while another connection of the user is open (a
// second tab: with MultipleSockets a socket beside the first, without it
// one that replaces the first) gets it too, though the user's lists were
// read from the store at its first connection.
func TestEveryLoginGetsTheFriendList(t *testing.T) {
	t.Parallel()
	for _, multi := range []bool{true, false} {
		name := "replacing"
		if multi {
			name = "multi-sockets"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, a, _, _ := accountServerWith(t, t.TempDir(), func(o *tickroom.Options) { o.MultipleSockets = multi })
			ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
			ac, bc := connectAs(t, srv, a, ann), connectAs(t, srv, a, bob)
			if bc.Request(addFriend(ann.id)).GetOk() == nil {
				t.Fatal("bob's friend request refused")
			}
			ac.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
			if ac.Request(answerFriend(bob.id, true)).GetOk() == nil {
				t.Fatal("ann could not accept bob")
			}
			bc.Next(presenceOf(ann.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE))
			second := connectAs(t, srv, a, bob)
			for _, m := range second.Drain(time.Second) {
				if presenceOf(ann.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE)(m) {
					return
				}
			}
			t.Fatal("bob's second connection got no Presence of ann, his friend, who is online")
		})
	}
}

// connectFrom logs g in with its device secret and connects it as a
// client at ip, named in X-Forwarded-For to a server that trusts
// loopback as its proxy.
func connectFrom(t *testing.T, srv *tickroom.Server, a api, g guest, ip string) *testclient.Client {
	t.Helper()
	st, out := a.post("/v1/login", "", map[string]string{"device_secret": g.secret})
	if st != 200 || str(out, "user_id") != g.id {
		t.Fatalf("device login %s: %d %v", g.name, st, out)
	}
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, str(out, "token"),
		testclient.Options{Label: g.name, Header: http.Header{"X-Forwarded-For": {ip}}})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	return c
}

// TestFriendRequestsFromOneAddressAreCapped: the guests of one client
// address, each sending one friend request to a user at once, get 20 of
// them standing (the per-address cap) and the rest refused with
// ERROR_CODE_LIST_FULL, so that they cannot fill the user's 500; a user
// at another address still gets its request through, and after a
// restart the stored requests still count, but for one the user declined,
// which lets one more in.
func TestFriendRequestsFromOneAddressAreCapped(t *testing.T) {
	t.Parallel()
	const perAddress, flood = 20, 24
	dir := t.TempDir()
	proxied := func(o *tickroom.Options) { o.TrustedProxies = []string{"127.0.0.1"} }
	srv, a, cancel, done := accountServerWith(t, dir, proxied)
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	ac := connectFrom(t, srv, a, ann, "198.51.100.9")
	guests := make([]guest, flood+2)
	conns := make([]*testclient.Client, flood)
	for i := range guests {
		guests[i] = newGuest(t, a, fmt.Sprint("flood", i))
	}
	for i := range conns {
		conns[i] = connectFrom(t, srv, a, guests[i], "203.0.113.7")
	}
	ids := make([]uint32, flood)
	for i, c := range conns { // all at once: none waits for another's answer
		ids[i] = c.Send(addFriend(ann.id))
	}
	passed := map[string]bool{}
	for i, c := range conns {
		switch r := c.Reply(ids[i]); {
		case r.GetOk() != nil:
			passed[guests[i].id] = true
		case errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL:
			t.Fatalf("flood%d's request to ann: %v, want Ok or ERROR_CODE_LIST_FULL", i, r)
		}
	}
	if len(passed) != perAddress {
		t.Fatalf("%d of %d friend requests to ann from one address stand, want %d", len(passed), flood, perAddress)
	}
	for range perAddress {
		if from := ac.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest().GetFromUserId(); !passed[from] {
			t.Fatalf("ann was shown a request from %s, not one that stands", from)
		}
	}

	bc := connectFrom(t, srv, a, bob, "198.51.100.20")
	if r := bc.Request(addFriend(ann.id)); r.GetOk() == nil {
		t.Fatalf("bob's request to ann from another address: %v, want Ok", r)
	}
	if from := ac.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest]).GetFriendRequest().GetFromUserId(); from != bob.id {
		t.Fatalf("ann was shown a request from %s, want bob's", from)
	}

	// ann declines one of the address's requests: one more may come.
	var declined string
	for id := range passed {
		declined = id
		break
	}
	if r := ac.Request(answerFriend(declined, false)); r.GetOk() == nil {
		t.Fatalf("ann declining %s: %v", declined, r)
	}
	cancel() // shutdown writes what the store queue holds, the decline too
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// After a restart, ann offline: the stored requests still count.
	srv, a, _, _ = accountServerWith(t, dir, proxied)
	more := connectFrom(t, srv, a, guests[flood], "203.0.113.7")
	if r := more.Request(addFriend(ann.id)); r.GetOk() == nil {
		t.Fatalf("a request from the address after ann declined one of its, and a restart: %v, want Ok", r)
	}
	last := connectFrom(t, srv, a, guests[flood+1], "203.0.113.7")
	if code := errorCode(last.Request(addFriend(ann.id))); code != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("one more request from the address after a restart: %v, want ERROR_CODE_LIST_FULL", code)
	}
}

// TestGuestFriendRequestsLeaveRoomForClaimedAccounts: guests together may
// have at most half of a user's standing requests (SocialListSize 8: 4),
// whatever their addresses, so that guests made one after another cannot
// fill them; the next guest gets ERROR_CODE_LIST_FULL, and an account
// with a claimed name still gets its request through.
func TestGuestFriendRequestsLeaveRoomForClaimedAccounts(t *testing.T) {
	t.Parallel()
	srv, a, _, _ := accountServerWith(t, t.TempDir(), func(o *tickroom.Options) { o.SocialListSize = 8 })
	ann := newGuest(t, a, "ann")
	ac := connectAs(t, srv, a, ann)
	for i := range 5 {
		g := newGuest(t, a, fmt.Sprint("guest", i))
		r := connectAs(t, srv, a, g).Request(addFriend(ann.id))
		switch {
		case i < 4 && r.GetOk() == nil:
			t.Fatalf("guest%d's request to ann, within the guests' half: %v, want Ok", i, r)
		case i == 4 && errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL:
			t.Fatalf("a fifth guest's request to ann, past the guests' half of 8: %v, want ERROR_CODE_LIST_FULL", r)
		}
	}
	ida := newClaimed(t, a, "Ida")
	if r := connectAs(t, srv, a, ida).Request(addFriend(ann.id)); r.GetOk() == nil {
		t.Fatalf("a claimed account's request to ann, the guests' half full: %v, want Ok", r)
	}
	if from := ac.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetFriendRequest().GetFromUserId() == ida.id
	}).GetFriendRequest().GetFromName(); from != "Ida" {
		t.Fatalf("ann was shown Ida's request from %q", from)
	}
}

// TestALinkedGuestIsNoLongerAGuest: a guest that links an identity gets a
// new session token in the link's reply, as a claim's reply carries one,
// and that token's session is no guest's: its friend request passes the
// guests' share (SocialListSize 4: 2) that refused the guest's session
// before the link. The token the link was made with still connects.
func TestALinkedGuestIsNoLongerAGuest(t *testing.T) {
	t.Parallel()
	srv, a, _, _ := accountServerWith(t, t.TempDir(), func(o *tickroom.Options) { o.SocialListSize = 4 })
	ann := newGuest(t, a, "ann")
	for i := range 2 {
		if r := connectAs(t, srv, a, newGuest(t, a, fmt.Sprint("guest", i))).Request(addFriend(ann.id)); r.GetOk() == nil {
			t.Fatalf("guest%d's request to ann, within the guests' half: %v, want Ok", i, r)
		}
	}
	cy := newGuest(t, a, "cy")
	st, in := a.post("/v1/login", "", map[string]string{"device_secret": cy.secret})
	if st != 200 || in["guest"] != true {
		t.Fatalf("cy's login: %d %v", st, in)
	}
	dial := func(token string) (*testclient.Client, *tickroomv1.Welcome) {
		t.Helper()
		c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "cy"})
		if err != nil {
			t.Fatal(err)
		}
		return c, c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome()
	}
	guestC, _ := dial(str(in, "token"))
	if r := guestC.Request(addFriend(ann.id)); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_LIST_FULL {
		t.Fatalf("cy's request to ann as a guest, past the guests' half of 4: %v, want ERROR_CODE_LIST_FULL", r)
	}
	st, linked := a.post("/v1/account/link", str(in, "token"), map[string]string{"identity_token": identityToken(t, "ext-cy", "Cy"), "device_secret": cy.secret})
	if st != 200 || linked["guest"] != false || str(linked, "token") == "" || str(linked, "expires_at") == "" {
		t.Fatalf("cy's link: %d %v, want a new session token", st, linked)
	}
	c, w := dial(str(linked, "token"))
	if w.GetGuest() || w.GetUserId() != cy.id {
		t.Fatalf("welcome of the link's token: %v, want cy, no guest", w)
	}
	if r := c.Request(addFriend(ann.id)); r.GetOk() == nil {
		t.Fatalf("cy's request to ann with the link's token, the guests' half full: %v, want Ok", r)
	}
	if _, w := dial(str(in, "token")); w.GetUserId() != cy.id {
		t.Fatalf("welcome of the token the link was made with: %v", w)
	}
}
