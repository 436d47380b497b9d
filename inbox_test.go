package tickroom_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// adminGet reads path from srv's admin port.
func adminGet(t *testing.T, srv *tickroom.Server, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + srv.AdminAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func sendDirect(to, text string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: to, Text: text}}}
}

func nextDirect(t *testing.T, c *testclient.Client) *tickroomv1.DirectMessage {
	t.Helper()
	return c.Next(testclient.Is[*tickroomv1.ServerMessage_DirectMessage]).GetDirectMessage()
}

// TestOfflineDirectMessageSurvivesARestart: a direct message to a user
// connected nowhere is kept (the sender gets Ok), survives a restart, is
// delivered once at the recipient's next login and not at the one after;
// a message to an unknown user or to one who blocks the sender is refused.
func TestOfflineDirectMessageSurvivesARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	ann, bob, cy := newGuest(t, a, "ann"), newGuest(t, a, "bob"), newGuest(t, a, "cy")
	ac := connectAs(t, srv, a, ann)
	if r := ac.Request(sendDirect(bob.id, "while you were away")); r.GetOk() == nil {
		t.Fatalf("message to bob, offline: %v, want Ok", r)
	}
	if code := ac.Request(sendDirect("no-such-user", "hello?")).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_USER_NOT_FOUND {
		t.Fatalf("message to an unknown user: %v, want ERROR_CODE_USER_NOT_FOUND", code)
	}
	// An operator sees what was kept: one message, the refused one not.
	if body := adminGet(t, srv, "/metrics"); !strings.Contains(body, "tickroom_direct_messages_stored_total 1\n") {
		t.Fatalf("/metrics after one kept message:\n%s", grep(body, "tickroom_direct_messages_stored_total"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, a, cancel, done = accountServer(t, dir)
	bc := connectAs(t, srv, a, bob)
	if dm := nextDirect(t, bc); dm.FromUserId != ann.id || dm.FromName != "ann" || dm.Text != "while you were away" || dm.ToUserId != bob.id || dm.SentAtMs == 0 {
		t.Fatalf("kept message at bob's login: %v", dm)
	}
	block := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: cy.id}}}
	if bc.Request(block).GetOk() == nil {
		t.Fatal("bob could not block cy")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, a, _, _ = accountServer(t, dir)
	cc := connectAs(t, srv, a, cy)
	if code := cc.Request(sendDirect(bob.id, "let me in")).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("cy's message to bob, offline and blocking cy: %v, want ERROR_CODE_BLOCKED", code)
	}
	bc = connectAs(t, srv, a, bob)
	ac = connectAs(t, srv, a, ann)
	if ac.Request(sendDirect(bob.id, "now live")).GetOk() == nil {
		t.Fatal("ann's message to bob, online, refused")
	}
	if dm := nextDirect(t, bc); dm.Text != "now live" {
		t.Fatalf("bob's first message at the second login: %q, want the live one (the kept one was delivered already)", dm.Text)
	}
}

func joinChannel(name string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinChannel{JoinChannel: &tickroomv1.JoinChannel{Channel: name}}}
}

// TestChannelLinesSurviveARestart: lobby channel lines are kept in the
// data directory; after a restart the first user to join the channel gets
// them as its history, oldest first, followed by a line posted since.
func TestChannelLinesSurviveARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	ac := connectAs(t, srv, a, ann)
	if h := ac.Request(joinChannel("lobby")).GetChatHistory(); h == nil || len(h.Lines) != 0 {
		t.Fatalf("first join of a new channel: %v, want an empty ChatHistory", h)
	}
	for _, text := range []string{"first", "second"} {
		say := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "lobby", Text: text}}}
		if ac.Request(say).GetOk() == nil {
			t.Fatalf("ann could not say %q", text)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, a, _, _ = accountServer(t, dir)
	bc := connectAs(t, srv, a, bob)
	h := bc.Request(joinChannel("lobby")).GetChatHistory()
	if h == nil || len(h.Lines) != 2 {
		t.Fatalf("bob's join after the restart: %v, want the 2 kept lines", h)
	}
	for i, want := range []string{"first", "second"} {
		if l := h.Lines[i]; l.Text != want || l.FromUserId != ann.id || l.FromName != "ann" || l.Channel != "lobby" || l.SentAtMs == 0 {
			t.Fatalf("kept line %d: %v, want ann's %q", i, l, want)
		}
	}
	if h := bc.Request(joinChannel("other")).GetChatHistory(); h == nil || len(h.Lines) != 0 {
		t.Fatalf("join of a channel nobody spoke in: %v, want an empty ChatHistory", h)
	}
}

// TestChatHistoryLinesOption: ChatHistoryLines (-chat-history-lines) sets
// how many lines a lobby channel replays, also when it reads them back
// from the store after a restart.
func TestChatHistoryLinesOption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := func(o *tickroom.Options) { o.ChatHistoryLines = 1 }
	srv, a, cancel, done := accountServerWith(t, dir, one)
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	ac := connectAs(t, srv, a, ann)
	ac.Request(joinChannel("lobby"))
	for _, text := range []string{"first", "second"} {
		say := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "lobby", Text: text}}}
		if ac.Request(say).GetOk() == nil {
			t.Fatalf("ann could not say %q", text)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv, a, _, _ = accountServerWith(t, dir, one)
	h := connectAs(t, srv, a, bob).Request(joinChannel("lobby")).GetChatHistory()
	if h == nil || len(h.Lines) != 1 || h.Lines[0].Text != "second" {
		t.Fatalf("bob's join after the restart with ChatHistoryLines 1: %v, want only the newest line", h)
	}
}

// TestOfflineDirectMessageHoldingANULIsRefusedAsBadRequest: text holding a
// NUL character is valid UTF-8 and reaches a user who is online, but no
// store can keep it; to a user connected nowhere it was refused with
// ERROR_CODE_UNAVAILABLE, which tells the client to retry shortly, a retry
// that never succeeds. It is ERROR_CODE_BAD_REQUEST saying why, and the
// same text without the NUL is kept.
func TestOfflineDirectMessageHoldingANULIsRefusedAsBadRequest(t *testing.T) {
	t.Parallel()
	srv, a, _, _ := accountServer(t, t.TempDir())
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	ac := connectAs(t, srv, a, ann)
	e := ac.Request(sendDirect(bob.id, "nul\x00here")).GetError()
	if e.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST || !strings.Contains(e.GetMessage(), "NUL") {
		t.Fatalf("message with a NUL to bob, offline: %v, want ERROR_CODE_BAD_REQUEST naming the NUL", e)
	}
	if r := ac.Request(sendDirect(bob.id, "nul here")); r.GetOk() == nil {
		t.Fatalf("message to bob, offline: %v, want Ok", r)
	}
}

// TestDirectMessageHoldingANULIsAnsweredAlikeOnlineAndOffline: a direct
// message whose text held a NUL reached a recipient who was online (Ok)
// and was refused BAD_REQUEST to one connected nowhere, as no store keeps
// a NUL; every other message gets the same Ok on both paths, so the NUL
// told any sender whether its recipient was online. It is refused
// BAD_REQUEST naming the NUL on both, as text that is not UTF-8 is, before
// the recipient is looked at, and the online recipient gets nothing.
func TestDirectMessageHoldingANULIsAnsweredAlikeOnlineAndOffline(t *testing.T) {
	t.Parallel()
	srv, a, _, _ := accountServer(t, t.TempDir())
	ann, bob, cy := newGuest(t, a, "ann"), newGuest(t, a, "bob"), newGuest(t, a, "cy")
	ac, bc := connectAs(t, srv, a, ann), connectAs(t, srv, a, bob)
	var answers []*tickroomv1.Error
	for _, c := range []struct{ what, to string }{
		{"bob, online", bob.id},
		{"cy, offline", cy.id},
		{"an unknown user", "no-such-user"},
	} {
		e := ac.Request(sendDirect(c.to, "nul\x00here")).GetError()
		if e.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST || !strings.Contains(e.GetMessage(), "NUL") {
			t.Errorf("ann's message with a NUL to %s: %v, want ERROR_CODE_BAD_REQUEST naming the NUL", c.what, e)
		}
		answers = append(answers, e)
	}
	for _, e := range answers[1:] {
		if e.GetMessage() != answers[0].GetMessage() {
			t.Errorf("answers to a NUL online and elsewhere differ: %q and %q", answers[0].GetMessage(), e.GetMessage())
		}
	}
	if r := ac.Request(sendDirect(bob.id, "nul here")); r.GetOk() == nil {
		t.Fatalf("ann's message to bob without the NUL: %v, want Ok", r)
	}
	if dm := nextDirect(t, bc); dm.Text != "nul here" {
		t.Fatalf("bob's first direct message: %q, want only the one without the NUL", dm.Text)
	}
}

// TestDirectMessageHoldingANULToABlockerIsAnsweredAlikeOnlineAndOffline:
// a sender blocked by the recipient is answered the same whether the
// recipient is online or not: BLOCKED for any text, and BAD_REQUEST for
// text holding a NUL, which is refused before the recipient is looked at.
// The offline path checked the NUL before the blocks, so a blocked sender
// learnt from a NUL that its blocker was offline.
func TestDirectMessageHoldingANULToABlockerIsAnsweredAlikeOnlineAndOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	bob, cy := newGuest(t, a, "bob"), newGuest(t, a, "cy")
	bc, cc := connectAs(t, srv, a, bob), connectAs(t, srv, a, cy)
	block := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: cy.id}}}
	if bc.Request(block).GetOk() == nil {
		t.Fatal("bob could not block cy")
	}
	texts := []string{"hello", "nul\x00here"}
	var online []tickroomv1.ErrorCode
	for _, text := range texts {
		online = append(online, cc.Request(sendDirect(bob.id, text)).GetError().GetCode())
	}
	if want := []tickroomv1.ErrorCode{tickroomv1.ErrorCode_ERROR_CODE_BLOCKED, tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST}; !slices.Equal(online, want) {
		t.Fatalf("cy's messages %q to bob, online and blocking cy: %v, want %v", texts, online, want)
	}
	// A restart writes the block through; bob does not come back.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv, a, _, _ = accountServer(t, dir)
	cc = connectAs(t, srv, a, cy)
	for i, text := range texts {
		if code := cc.Request(sendDirect(bob.id, text)).GetError().GetCode(); code != online[i] {
			t.Errorf("cy's message %q to bob, offline and blocking cy: %v, want %v as online", text, code, online[i])
		}
	}
}

// TestOfflineDirectMessageWrittenAfterItsRecipientLoggedInIsDelivered: a
// direct message to a user connected nowhere is answered Ok once it is on
// the store's write queue, and the recipient's inbox is read at its login.
// A recipient that logged in before the message was written (a moment
// later, or while the store's writes lagged) read an empty inbox, and the
// message waited in the store for its next login however long it stayed
// online. It is delivered once written, in that session, and not again.
func TestOfflineDirectMessageWrittenAfterItsRecipientLoggedInIsDelivered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, _, _ := accountServer(t, dir)
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	ac := connectAs(t, srv, a, ann)
	st, out := a.post("/v1/login", "", map[string]string{"device_secret": bob.secret})
	if st != 200 {
		t.Fatalf("bob's device login: %d %v", st, out)
	}
	// Another connection holds SQLite's write lock: the write queue's
	// writes wait (and fail, and are retried) while reads go on.
	ctx := context.Background()
	lock, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tickroom.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	held, err := lock.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if r := ac.Request(sendDirect(bob.id, "just now")); r.GetOk() == nil {
		t.Fatalf("message to bob, offline: %v, want Ok", r)
	}
	bc, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, str(out, "token"), testclient.Options{Label: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bc.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	time.Sleep(500 * time.Millisecond) // bob's inbox read, empty
	if _, err := held.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range bc.Drain(3 * time.Second) {
		if dm := m.GetDirectMessage(); dm != nil {
			got = append(got, dm.Text)
		}
	}
	if !slices.Equal(got, []string{"just now"}) {
		// Where it went: to bob's next login.
		bc.WS.Close()
		time.Sleep(500 * time.Millisecond) // bob offline
		again := connectAs(t, srv, a, bob)
		var next []string
		for _, m := range again.Drain(time.Second) {
			if dm := m.GetDirectMessage(); dm != nil {
				next = append(next, dm.Text)
			}
		}
		t.Fatalf("bob, online, got direct messages %q once the message was written, want [\"just now\"]; his next login got %q", got, next)
	}
	bc.WS.Close()
	time.Sleep(500 * time.Millisecond) // bob offline
	for _, m := range connectAs(t, srv, a, bob).Drain(time.Second) {
		if dm := m.GetDirectMessage(); dm != nil {
			t.Fatalf("bob's next login got %q again", dm.Text)
		}
	}
}

// TestBlockWaitingToBeWrittenHolds: a block still on the store's write
// queue (the database file locked by another program) when its maker goes
// offline refuses the blocked user's direct message kept for offline
// delivery, and its friend request, as it does once written, and holds
// when its maker comes back and its lists are read: the store's reads of
// a user's blocks saw the rows written only.
func TestBlockWaitingToBeWrittenHolds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, _, _ := accountServer(t, dir)
	bob, cy, dee := newGuest(t, a, "bob"), newGuest(t, a, "cy"), newGuest(t, a, "dee")
	bc, cc, dc := connectAs(t, srv, a, bob), connectAs(t, srv, a, cy), connectAs(t, srv, a, dee)
	// dee, bob's friend, sees him go offline.
	if bc.Request(addFriend(dee.id)).GetOk() == nil {
		t.Fatal("bob's friend request refused")
	}
	dc.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	if dc.Request(answerFriend(bob.id, true)).GetOk() == nil {
		t.Fatal("dee could not accept bob")
	}
	conn := lockSQLiteFile(t, dir) // another program's write transaction: writes wait, reads go on
	t.Cleanup(func() { _, _ = conn.ExecContext(context.Background(), "ROLLBACK") })
	block := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_BlockUser{BlockUser: &tickroomv1.BlockUser{UserId: cy.id}}}
	if bc.Request(block).GetOk() == nil {
		t.Fatal("bob could not block cy")
	}
	bc.WS.Close()
	dc.Next(presenceOf(bob.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE))
	if m := cc.Request(sendDirect(bob.id, "let me in")); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("cy's message to bob, away, whose block of cy waits to be written: %v, want ERROR_CODE_BLOCKED", m)
	}
	if m := cc.Request(addFriend(bob.id)); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("cy's friend request to bob, away, whose block of cy waits to be written: %v, want ERROR_CODE_BLOCKED", m)
	}
	// Back, bob's lists are read from the store with the block still
	// waiting: it holds.
	bc = connectAs(t, srv, a, bob)
	bc.Next(presenceOf(dee.id, tickroomv1.PresenceStatus_PRESENCE_STATUS_ONLINE)) // his lists are read
	if m := cc.Request(sendDirect(bob.id, "and now?")); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BLOCKED {
		t.Fatalf("cy's message to bob, back, whose block of cy waits to be written: %v, want ERROR_CODE_BLOCKED", m)
	}
}
