package tickroom_test

import (
	"fmt"
	"testing"

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
