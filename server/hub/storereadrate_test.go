package hub_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
)

// storeReads sends reqs one after the other, each once the one before is
// answered, and counts the pages served and the refusals RATE_LIMITED
// with a retry hint; any other answer fails the test.
func storeReads(t *testing.T, c *client, reqs ...*tickroomv1.ClientMessage) (served, limited int) {
	t.Helper()
	for _, q := range reqs {
		m := c.Request(q)
		switch {
		case m.GetChannelHistoryPage() != nil || m.GetMatchHistory() != nil || m.GetLeaderboard() != nil:
			served++
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().GetRetryAfterMs() > 0:
			limited++
		default:
			t.Fatalf("%v: %v", q, m)
		}
	}
	return served, limited
}

// storeReadRequests is n requests that read the store, channel history
// pages of lobby, match history and leaderboard pages in turn.
func storeReadRequests(n int) []*tickroomv1.ClientMessage {
	out := make([]*tickroomv1.ClientMessage, n)
	for i := range out {
		switch i % 3 {
		case 0:
			out[i] = getChannelHistory("lobby", 0, 0)
		case 1:
			out[i] = getHistory("", 0, 0)
		default:
			out[i] = getLeaderboard("tally", 0)
		}
	}
	return out
}

// TestStoreReadsAreRateLimited: channel history, match history and
// leaderboard pages are each a read of the database answered with far
// more bytes than asked, so one user asking for page after page is
// refused with ERROR_CODE_RATE_LIMITED and a retry hint past
// StoreReadBurst, before the store is read; another user is served
// meanwhile, and the user's new connection brings no new burst.
func TestStoreReadsAreRateLimited(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	// A rate that gives no token back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) {
		c.Records, c.ChannelLog = db, db
		c.Social.StoreReadRate, c.Social.StoreReadBurst = 0.001, 10
	}})
	ada, _ := e.connect("ada")
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada could not join lobby")
	}
	if served, limited := storeReads(t, ada, storeReadRequests(40)...); served != 10 || limited != 30 {
		t.Fatalf("40 store reads in a row: %d served, %d refused RATE_LIMITED with a retry hint; want 10 (the burst) and 30", served, limited)
	}
	bob, _ := e.connect("bob")
	if bob.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("bob could not join lobby")
	}
	if served, _ := storeReads(t, bob, storeReadRequests(3)...); served != 3 {
		t.Fatalf("another user's 3 store reads meanwhile: %d served", served)
	}
	again, _ := e.connect("ada")
	if again.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada could not join lobby on a new connection")
	}
	if served, limited := storeReads(t, again, storeReadRequests(3)...); served != 0 || limited != 3 {
		t.Fatalf("ada's store reads on a new connection: %d served, %d refused; want none served", served, limited)
	}
}

// TestRefusedStoreReadsTakeNoToken: a store read refused before it reads,
// a bad request or one past the reads a connection may have awaiting a
// reply, leaves the user's StoreReadBurst whole.
func TestRefusedStoreReadsTakeNoToken(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	g := gatedRecords{Records: db, gate: make(chan struct{})}
	e := start(t, options{hub: func(c *hub.Config) {
		c.Records, c.ChannelLog = g, db
		c.Social.StoreReadRate, c.Social.StoreReadBurst = 0.001, 10
	}})
	ada, _ := e.connect("ada")
	if ada.Request(joinChannel("lobby")).GetChatHistory() == nil {
		t.Fatal("ada could not join lobby")
	}
	for range 5 {
		if code := errCode(t, ada.Request(getChannelHistory("lobby", 0, 100000))); code != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST {
			t.Fatalf("a page past the most: %v", code)
		}
		if code := errCode(t, ada.Request(getLeaderboard("no-such-game", 0))); code != tickroomv1.ErrorCode_ERROR_CODE_UNKNOWN_GAME {
			t.Fatalf("an unknown game's leaderboard: %v", code)
		}
	}
	// Behind the gate 4 match history reads await the database and the
	// 6 after them are refused at once.
	ids := make([]uint32, 10)
	for i := range ids {
		ids[i] = ada.Send(getHistory("", 0, 0))
	}
	for _, id := range ids[4:] {
		if code := errCode(t, ada.Reply(id)); code != tickroomv1.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS_IN_FLIGHT {
			t.Fatalf("a read past the connection's share: %v", code)
		}
	}
	close(g.gate)
	waiting := map[uint32]bool{ids[0]: true, ids[1]: true, ids[2]: true, ids[3]: true}
	for len(waiting) > 0 {
		m := ada.Next(func(m *tickroomv1.ServerMessage) bool { return waiting[m.RequestId] })
		if m.GetMatchHistory() == nil {
			t.Fatalf("a read within the connection's share: %v", m)
		}
		delete(waiting, m.RequestId)
	}
	// 4 tokens taken: 6 more reads are served, and the one after them is
	// refused.
	if served, limited := storeReads(t, ada, storeReadRequests(7)...); served != 6 || limited != 1 {
		t.Fatalf("after 4 reads served and 16 refused before reading: %d of 7 served, %d refused RATE_LIMITED; want 6 (the burst left) and 1", served, limited)
	}
}

// failingRecords fails every match history read, as a database out of
// reach does.
type failingRecords struct{ hub.Records }

func (failingRecords) History(context.Context, string, int64, int) ([]store.Result, error) {
	return nil, errors.New("database out of reach")
}

// TestFailedStoreReadsKeepTheirToken: a store read that fails
// (ERROR_CODE_INTERNAL) keeps the token it took, so a client asking again
// and again while the database fails is held to StoreReadRate as ever.
func TestFailedStoreReadsKeepTheirToken(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) {
		c.Records = failingRecords{openStore(t)}
		c.Social.StoreReadRate, c.Social.StoreReadBurst = 0.001, 10
	}})
	ada, _ := e.connect("ada")
	failed, limited := 0, 0
	for range 15 {
		switch m := ada.Request(getHistory("", 0, 0)); m.GetError().GetCode() {
		case tickroomv1.ErrorCode_ERROR_CODE_INTERNAL:
			failed++
		case tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED:
			limited++
		default:
			t.Fatalf("a match history read while the database fails: %v", m)
		}
	}
	if failed != 10 || limited != 5 {
		t.Fatalf("15 match history reads while the database fails: %d failed INTERNAL, %d refused RATE_LIMITED; want 10 (the burst) and 5", failed, limited)
	}
}
