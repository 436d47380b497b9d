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
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

// TestChannelHistoryPagesHoldTheLinesNotYetWritten: a member paging back
// through a lobby channel while its newest lines still wait in the store's
// write queue (here the database is lost) gets them in the pages, as the
// join's history has them: the newest pages need no store, and the paging
// goes on, each line once and none missing, when the database comes back
// and the lines are written between two pages.
func TestChannelHistoryPagesHoldTheLinesNotYetWritten(t *testing.T) {
	t.Parallel()
	pg, ann, say, written := annInLobby(t)
	for i := 1; i <= 3; i++ {
		say(fmt.Sprintf("s%d", i))
	}
	written(3)
	pg.Stop(t)
	for i := 1; i <= 5; i++ {
		say(fmt.Sprintf("w%d", i))
	}

	var got []string // every page's lines, newest first
	var before uint64
	page := func(want ...string) {
		t.Helper()
		m := ann.Request(channelHistory("lobby", before, 2))
		p := m.GetChannelHistoryPage()
		var texts []string
		for _, l := range p.GetLines() {
			texts = append(texts, l.Text)
		}
		if p == nil || !slices.Equal(texts, want) {
			t.Fatalf("page %d before %d: %q (%v), want %q", len(got)/2+1, before, texts, m, want)
		}
		for j, l := range p.Lines {
			if l.Id == 0 || l.FromName != "ann" || l.SentAtMs == 0 || (j > 0 && l.Id <= p.Lines[j-1].Id) {
				t.Fatalf("page %q: line %d is %v, want ann's with an id above the one before", texts, j, l)
			}
		}
		if last := want[0] == "s1"; (p.NextBefore == 0) != last || (!last && p.NextBefore != p.Lines[0].Id) {
			t.Fatalf("page %q: next_before %d (first id %d), want the first id, 0 on the last page", texts, p.NextBefore, p.Lines[0].Id)
		}
		before = p.NextBefore
		slices.Reverse(texts)
		got = append(got, texts...)
	}
	// The database is lost: the newest pages hold the waiting lines.
	page("w4", "w5")
	page("w2", "w3")
	// It comes back and the queue writes them; the paging goes on.
	pg.Restart(t)
	written(8)
	page("s3", "w1")
	page("s1", "s2")
	slices.Reverse(got)
	if want := []string{"s1", "s2", "s3", "w1", "w2", "w3", "w4", "w5"}; !slices.Equal(got, want) {
		t.Fatalf("the pages together: %q, want %q", got, want)
	}
}

// TestChannelHistoryPageOfTheWaitingLinesWhileTheDatabaseIsLost: while the
// database is lost, a member asking for the usual page (the default size)
// of a channel with fewer waiting lines than a page gets those lines and a
// next_before, not an error, and pages on from it to the stored lines once
// the database is back.
func TestChannelHistoryPageOfTheWaitingLinesWhileTheDatabaseIsLost(t *testing.T) {
	t.Parallel()
	pg, ann, say, written := annInLobby(t)
	for _, text := range []string{"s1", "s2", "s3"} {
		say(text)
	}
	written(3)
	pg.Stop(t)
	say("w1")
	say("w2")

	page := func(before uint64, want ...string) *tickroomv1.ChannelHistoryPage {
		t.Helper()
		m := ann.Request(channelHistory("lobby", before, 0))
		p := m.GetChannelHistoryPage()
		var texts []string
		for _, l := range p.GetLines() {
			texts = append(texts, l.Text)
		}
		if p == nil || !slices.Equal(texts, want) {
			t.Fatalf("page before %d: %q (%v), want %q", before, texts, m, want)
		}
		return p
	}
	p := page(0, "w1", "w2")
	if p.NextBefore != p.Lines[0].Id {
		t.Fatalf("the waiting lines' page: next_before %d, want the oldest line's id %d", p.NextBefore, p.Lines[0].Id)
	}
	pg.Restart(t)
	written(5)
	if p = page(p.NextBefore, "s1", "s2", "s3"); p.NextBefore != 0 {
		t.Fatalf("the last page: next_before %d, want 0", p.NextBefore)
	}
}

// annInLobby starts a server on a private PostgreSQL (pg) with ann in the
// lobby channel; say posts ann's line, and written waits until the store
// holds n lines of lobby.
func annInLobby(t *testing.T) (pg *pgtest.Server, ann *testclient.Client, say func(string), written func(int)) {
	t.Helper()
	pg = pgtest.Start(t)
	url := pg.NewDatabase(t)
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DatabaseURL: url})
	ann = dial(t, srv, "ann")
	if ann.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ann could not join lobby")
	}
	say = func(text string) {
		t.Helper()
		if ann.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendChat{SendChat: &tickroomv1.SendChat{Channel: "lobby", Text: text}}}).GetOk() == nil {
			t.Fatalf("ann could not say %q", text)
		}
	}
	written = func(n int) {
		t.Helper()
		db, err := store.Open(context.Background(), store.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			lines, err := db.ChannelLines(context.Background(), "lobby", 0, 20)
			if err == nil && len(lines) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the store holds %d lines of lobby (%v), want %d", len(lines), err, n)
			}
		}
	}
	return pg, ann, say, written
}
