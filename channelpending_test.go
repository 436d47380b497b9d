package tickroom_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

// TestChannelReopenedBeforeItsLinesAreWritten: a lobby channel that closes
// (its last member left) and opens again while its last lines still wait
// in the store's write queue (here the database is lost) has them in its
// history; once they are written, a later opening has each line once.
func TestChannelReopenedBeforeItsLinesAreWritten(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DatabaseURL: url})
	say := func(text string) *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "lobby", Text: text}}}
	}
	leave := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveChannel{LeaveChannel: &tickroomv1.LeaveChannel{Channel: "lobby"}}}
	texts := func(h *tickroomv1.ChatHistory) []string {
		var out []string
		for _, l := range h.GetLines() {
			out = append(out, l.Text)
		}
		return out
	}
	ann := dial(t, srv, "ann")
	if ann.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ann could not join lobby")
	}
	pg.Stop(t)
	for _, text := range []string{"one", "two"} {
		if ann.Request(say(text)).GetOk() == nil {
			t.Fatalf("ann could not say %q", text)
		}
	}
	if ann.Request(leave).GetOk() == nil {
		t.Fatal("ann could not leave lobby")
	}
	bob := dial(t, srv, "bob")
	h := bob.Request(joinChannel("lobby")).GetChatHistory()
	if got := texts(h); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("bob's join of the reopened channel, its lines not yet written: history %q, want [one two]", got)
	}
	if bob.Request(say("three")).GetOk() == nil {
		t.Fatal("bob could not say three")
	}
	if bob.Request(leave).GetOk() == nil {
		t.Fatal("bob could not leave lobby")
	}
	pg.Restart(t)
	// Once the queue has written them, each line is read back once.
	db, err := store.Open(context.Background(), store.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lines, err := db.ChannelLines(context.Background(), "lobby", 0, 10)
		if err == nil && len(lines) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store holds %d lines of lobby (%v) 20 s after the database came back, want 3", len(lines), err)
		}
	}
	cy := dial(t, srv, "cy")
	if got := texts(cy.Request(joinChannel("lobby")).GetChatHistory()); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("cy's join once the lines are written: history %q, want [one two three]", got)
	}
}

// TestLinePostedWhileItsChannelLoadsIsInItsHistoryOnce: a member may post
// into a channel it just opened before the channel's kept lines are read
// (a client that sends JoinChannel and SendChat without waiting); that
// line, in the channel and waiting in the store's queue both, is in the
// history once.
func TestLinePostedWhileItsChannelLoadsIsInItsHistoryOnce(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DatabaseURL: pg.NewDatabase(t)})
	for u := range 4 {
		c := dial(t, srv, fmt.Sprintf("u%d", u))
		for i := range 3 {
			ch := fmt.Sprintf("ch-%d-%d", u, i)
			j := c.Send(joinChannel(ch))
			s := c.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: ch, Text: "x"}}})
			var h *tickroomv1.ChatHistory
			for answered := 0; answered < 2; answered++ {
				m := c.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId == j || m.RequestId == s })
				if m.RequestId == j {
					h = m.GetChatHistory()
				} else if m.GetOk() == nil {
					t.Fatalf("%s: the line was refused: %v", ch, m)
				}
			}
			var texts []string
			for _, l := range h.GetLines() {
				texts = append(texts, l.Text)
			}
			if len(texts) > 1 {
				t.Fatalf("%s: history %q, want the line posted while it loaded once", ch, texts)
			}
		}
	}
}
