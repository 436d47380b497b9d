package tickroom_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func channelHistory(channel string, before uint64, limit uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetChannelHistory{
		GetChannelHistory: &tickroomv1.GetChannelHistory{Channel: channel, Before: before, Limit: limit},
	}}
}

// TestChannelHistoryPages: a member of a lobby channel reads its kept lines
// back in pages, newest page first and oldest line first within a page,
// each line with its store id, until next_before is 0; a user that did not
// join the channel and a page size past the most are refused.
func TestChannelHistoryPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	ac := connectAs(t, srv, a, ann)
	if ac.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ann could not join lobby")
	}
	for i := 1; i <= 5; i++ {
		say := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "lobby", Text: fmt.Sprintf("line %d", i)}}}
		if ac.Request(say).GetOk() == nil {
			t.Fatalf("ann could not say line %d", i)
		}
	}
	// Stopping the server writes what its store queue holds.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv, a, _, _ = accountServer(t, dir)
	bc := connectAs(t, srv, a, bob)
	if code := bc.Request(channelHistory("lobby", 0, 2)).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_CHANNEL_NOT_FOUND {
		t.Fatalf("history of a channel bob did not join: error %v, want CHANNEL_NOT_FOUND", code)
	}
	if bc.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("bob could not join lobby")
	}
	if code := bc.Request(channelHistory("lobby", 0, 501)).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("a page of 501 lines: error %v, want BAD_REQUEST", code)
	}

	want := [][]string{{"line 4", "line 5"}, {"line 2", "line 3"}, {"line 1"}}
	var before uint64
	for i, texts := range want {
		p := bc.Request(channelHistory("lobby", before, 2)).GetChannelHistoryPage()
		if p == nil || p.Channel != "lobby" || len(p.Lines) != len(texts) {
			t.Fatalf("page %d: %v, want %q", i, p, texts)
		}
		for j, l := range p.Lines {
			if l.Text != texts[j] || l.FromUserId != ann.id || l.FromName != "ann" || l.Channel != "lobby" || l.Id == 0 || l.SentAtMs == 0 {
				t.Fatalf("page %d line %d: %v, want ann's %q with its id", i, j, l, texts[j])
			}
			if j > 0 && l.Id <= p.Lines[j-1].Id {
				t.Fatalf("page %d: ids %d then %d, want oldest first", i, p.Lines[j-1].Id, l.Id)
			}
		}
		last := i == len(want)-1
		if (p.NextBefore == 0) != last || (!last && p.NextBefore != p.Lines[0].Id) {
			t.Fatalf("page %d: next_before %d (first id %d), want the first id, 0 on the last page", i, p.NextBefore, p.Lines[0].Id)
		}
		before = p.NextBefore
	}
}

// TestChatLineHoldingANULIsRefused: a chat line whose text held a NUL,
// in a lobby channel or a room, reached the members online (Ok), but no
// store keeps a NUL, so the channel's history left it out and after a
// reload the line players saw was gone. It is refused BAD_REQUEST naming
// the NUL, as a direct message holding one is, and reaches nobody: what
// members see and what history keeps agree.
func TestChatLineHoldingANULIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	ann, bob := newGuest(t, a, "ann"), newGuest(t, a, "bob")
	ac, bc := connectAs(t, srv, a, ann), connectAs(t, srv, a, bob)
	for _, c := range []*testclient.Client{ac, bc} {
		if c.Request(joinChannel("lobby")).GetChatHistory() == nil {
			t.Fatal("could not join lobby")
		}
	}
	room := ac.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}).GetJoined()
	if room == nil || bc.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room.RoomId}}}).GetJoined() == nil {
		t.Fatal("ann and bob could not share a room")
	}
	say := func(q *tickroomv1.SendChat) *tickroomv1.ServerMessage {
		return ac.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: q}})
	}
	for _, q := range []*tickroomv1.SendChat{
		{Channel: "lobby", Text: "nul\x00here"},
		{RoomId: room.RoomId, Text: "nul\x00here"},
	} {
		if e := say(q).GetError(); e.GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST || !strings.Contains(e.GetMessage(), "NUL") {
			t.Fatalf("ann's line with a NUL to %q%q: %v, want ERROR_CODE_BAD_REQUEST naming the NUL", q.Channel, q.RoomId, e)
		}
	}
	for _, q := range []*tickroomv1.SendChat{
		{Channel: "lobby", Text: "plain"},
		{RoomId: room.RoomId, Text: "plain"},
	} {
		if say(q).GetOk() == nil {
			t.Fatalf("ann could not say plain to %q%q", q.Channel, q.RoomId)
		}
		if l := bc.Next(testclient.Is[*tickroomv1.ServerMessage_Chat]).GetChat(); l.Text != "plain" || l.Channel != q.Channel || l.RoomId != q.RoomId {
			t.Fatalf("bob's next line: %v, want the plain one to %q%q, none with a NUL", l, q.Channel, q.RoomId)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv, a, _, _ = accountServer(t, dir)
	h := connectAs(t, srv, a, bob).Request(joinChannel("lobby")).GetChatHistory()
	if h == nil || len(h.Lines) != 1 || h.Lines[0].Text != "plain" {
		t.Fatalf("bob's lobby history after a reload: %v, want the one plain line bob saw", h)
	}
}
