package tickroom_test

import (
	"testing"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
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
