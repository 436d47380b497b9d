package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
)

// openStore opens a SQLite store in a temporary directory, closed at the
// test's end.
func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func getHistory(user string, before uint64, limit uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetMatchHistory{
		GetMatchHistory: &tickroomv1.GetMatchHistory{UserId: user, BeforeId: before, Limit: limit},
	}}
}

func getLeaderboard(game string, limit uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetLeaderboard{
		GetLeaderboard: &tickroomv1.GetLeaderboard{Game: game, Limit: limit},
	}}
}

// TestMatchHistoryPages walks a long history page by page: every match
// once, newest first; a page never exceeds its cap, whatever is asked.
func TestMatchHistoryPages(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	const matches = 130
	t0 := time.Now().Add(-time.Hour)
	rs := make([]store.Result, matches)
	for i := range rs {
		rs[i] = store.Result{
			Game: "tally", Room: fmt.Sprintf("r%d", i), Outcome: "done",
			Started: t0.Add(time.Duration(i) * time.Second), Ended: t0.Add(time.Duration(i)*time.Second + 500*time.Millisecond),
			Players: []store.ResultPlayer{
				{UserID: "ada", Name: "Ada", Seat: 1, Outcome: store.OutcomeWin, Score: int64(i)},
				{UserID: fmt.Sprintf("p%03d", i), Name: "P", Seat: 2, Outcome: store.OutcomeLoss},
			},
		}
	}
	if err := db.WriteResults(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	e := start(t, options{hub: func(c *hub.Config) { c.Records = db }})
	ada, _ := e.connect("ada")

	if h := ada.Request(getHistory("", 0, 0)).GetMatchHistory(); len(h.GetMatches()) != 20 || h.NextBeforeId == 0 {
		t.Fatalf("default page: %d matches, next %d; want 20 and a next page", len(h.GetMatches()), h.GetNextBeforeId())
	}
	seen := map[string]bool{}
	var before uint64
	var last uint64 = 1<<64 - 1
	pages := 0
	for {
		h := ada.Request(getHistory("", before, 1000)).GetMatchHistory()
		if h == nil || len(h.Matches) > 50 {
			t.Fatalf("page %d: %v matches, want at most 50", pages, len(h.GetMatches()))
		}
		pages++
		for _, m := range h.Matches {
			if m.Id >= last || seen[m.RoomId] {
				t.Fatalf("match %d (%s) out of order or repeated", m.Id, m.RoomId)
			}
			last, seen[m.RoomId] = m.Id, true
			if m.Players[0].UserId != "ada" || m.Players[0].Outcome != tickroomv1.MatchOutcome_MATCH_OUTCOME_WIN {
				t.Fatalf("match %s players %v", m.RoomId, m.Players)
			}
		}
		if h.NextBeforeId == 0 {
			break
		}
		before = h.NextBeforeId
	}
	if len(seen) != matches || pages != 3 {
		t.Fatalf("walked %d matches in %d pages, want %d in 3", len(seen), pages, matches)
	}

	// The leaderboard is capped at 100 lines; the caller's own line comes
	// with it wherever it ranks.
	b := ada.Request(getLeaderboard("tally", 1000)).GetLeaderboard()
	if len(b.GetTop()) != 100 || b.Top[0].UserId != "ada" || b.Top[0].Wins != matches || b.Own.GetRank() != 1 {
		t.Fatalf("leaderboard: %d lines, first %v, own %v", len(b.GetTop()), b.GetTop()[0], b.GetOwn())
	}
	last1, _ := e.connect("p129")
	b = last1.Request(getLeaderboard("tally", 3)).GetLeaderboard()
	if len(b.GetTop()) != 3 || b.Own.GetUserId() != "p129" || b.Own.Rank != 2 || b.Own.Losses != 1 {
		t.Fatalf("leaderboard for a player outside the top: %v", b)
	}
	nobody, _ := e.connect("zed")
	if b := nobody.Request(getLeaderboard("tally", 0)).GetLeaderboard(); len(b.GetTop()) != 10 || b.Own != nil {
		t.Fatalf("leaderboard for a player who never played: %d lines, own %v", len(b.GetTop()), b.GetOwn())
	}
}

// gatedRecords holds every read until the test opens the gate, so that
// requests pile up as behind a slow database.
type gatedRecords struct {
	hub.Records
	gate chan struct{}
}

func (g gatedRecords) History(ctx context.Context, user string, before int64, limit int) ([]store.Result, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Records.History(ctx, user, before, limit)
}

// TestMatchHistoryRequestsInFlightAreBounded: behind a slow database a
// client that keeps asking gets ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT
// past its share, at once, and the requests it was allowed are answered
// once the database answers; the connection stays usable.
func TestMatchHistoryRequestsInFlightAreBounded(t *testing.T) {
	t.Parallel()
	g := gatedRecords{Records: openStore(t), gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) { c.Records = g }})
	ada, _ := e.connect("ada")
	ids := make([]uint32, 10)
	for i := range ids {
		ids[i] = ada.Send(getHistory("", 0, 0))
	}
	refused := 0
	for _, id := range ids[4:] {
		if code := errCode(t, ada.Reply(id)); code != tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT {
			t.Fatalf("request past the bound: %v", code)
		}
		refused++
	}
	close(g.gate)
	// The four workers answer in any order.
	waiting := map[uint32]bool{ids[0]: true, ids[1]: true, ids[2]: true, ids[3]: true}
	for len(waiting) > 0 {
		m := ada.Next(func(m *tickroomv1.ServerMessage) bool { return waiting[m.RequestId] })
		if h := m.GetMatchHistory(); h == nil || len(h.Matches) != 0 {
			t.Fatalf("request within the bound: %v", m)
		}
		delete(waiting, m.RequestId)
	}
	if refused != 6 || ada.Request(getHistory("", 0, 0)).GetMatchHistory() == nil {
		t.Fatal("no history once the reads drained")
	}
}
