package hub_test

import (
	"context"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
)

func getChannelHistory(channel string, before uint64, limit uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetChannelHistory{
		GetChannelHistory: &tickroomv1.GetChannelHistory{Channel: channel, Before: before, Limit: limit},
	}}
}

// TestChannelHistoryWithoutAStore: a hub without a store refuses a channel
// history request with ERROR_CODE_UNSUPPORTED and keeps the connection.
func TestChannelHistoryWithoutAStore(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	ada, _ := e.connect("ada")
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada could not join lobby")
	}
	if code := errCode(t, ada.Request(getChannelHistory("lobby", 0, 0))); code != tickroomv1.ErrorCode_ERROR_CODE_UNSUPPORTED {
		t.Fatalf("channel history without a store: %v", code)
	}
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("connection unusable after the refusal")
	}
}

// gatedLog holds every channel read until the test opens the gate.
type gatedLog struct {
	hub.ChannelLog
	gate chan struct{}
}

func (g gatedLog) ChannelLines(ctx context.Context, channel string, before int64, limit int) ([]store.Line, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.ChannelLog.ChannelLines(ctx, channel, before, limit)
}

// TestChannelHistoryRequestsInFlightAreBounded: behind a slow database a
// member that keeps asking for channel history is refused past its share
// of store reads, at once; the reads it was allowed are answered once the
// database answers.
func TestChannelHistoryRequestsInFlightAreBounded(t *testing.T) {
	t.Parallel()
	g := gatedLog{ChannelLog: openStore(t), gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.ChannelLog = g }})
	ada, _ := e.connect("ada")
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada could not join lobby")
	}
	ids := make([]uint32, 10)
	for i := range ids {
		ids[i] = ada.Send(getChannelHistory("lobby", 0, 0))
	}
	for _, id := range ids[4:] {
		if code := errCode(t, ada.Reply(id)); code != tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT {
			t.Fatalf("request past the bound: %v", code)
		}
	}
	close(g.gate)
	waiting := map[uint32]bool{ids[0]: true, ids[1]: true, ids[2]: true, ids[3]: true}
	for len(waiting) > 0 {
		m := ada.Next(func(m *tickroomv1.ServerMessage) bool { return waiting[m.RequestId] })
		if p := m.GetChannelHistoryPage(); p == nil || p.Channel != "lobby" || len(p.Lines) != 0 || p.NextBefore != 0 {
			t.Fatalf("request within the bound: %v", m)
		}
		delete(waiting, m.RequestId)
	}
}

// fixedLog answers every channel read with its lines, newest first.
type fixedLog []store.Line

func (f fixedLog) ChannelLines(context.Context, string, int64, int) ([]store.Line, error) {
	return f, nil
}

// TestChannelHistoryPageHidesBlockedUsers: a page of a channel's kept
// lines leaves out the lines of users the reader blocks, as live chat
// and the history replayed on join do; paging goes on past them.
func TestChannelHistoryPageHidesBlockedUsers(t *testing.T) {
	t.Parallel()
	log := fixedLog{
		{ID: 3, Channel: "lobby", From: "cat", Text: "three"},
		{ID: 2, Channel: "lobby", From: "ann", Text: "two"},
		{ID: 1, Channel: "lobby", From: "cat", Text: "one"},
	}
	e := start(t, options{hub: func(c *hub.Config) { c.ChannelLog = log }})
	bob, _ := e.connect("bob")
	ok(t, bob.Request(block("ann", false)))
	if bob.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("bob could not join lobby")
	}
	p := bob.Request(getChannelHistory("lobby", 0, 2)).GetChannelHistoryPage()
	if p == nil {
		t.Fatal("no page")
	}
	for _, l := range p.Lines {
		if l.FromUserId == "ann" {
			t.Fatalf("page %v holds a line of a user bob blocks", p.Lines)
		}
	}
	if len(p.Lines) != 1 || p.Lines[0].Text != "three" || p.NextBefore != 2 {
		t.Fatalf("page %v next %d, want cat's \"three\" and next 2", p.Lines, p.NextBefore)
	}
}
