package tickroom_test

import (
	"testing"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

func historyRequest(user string, before uint64, limit uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetMatchHistory{
		GetMatchHistory: &tickroomv1.GetMatchHistory{UserId: user, BeforeId: before, Limit: limit},
	}}
}

func leaderboardRequest(game string, limit uint32) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetLeaderboard{
		GetLeaderboard: &tickroomv1.GetLeaderboard{Game: game, Limit: limit},
	}}
}

// TestMatchHistoryAndLeaderboardOverTheProtocol plays a race to its end on
// a server with a data directory; both players then read the match in
// their history, with outcome and score, and the game's leaderboard ranks
// them. A player sees another's history only once they are friends.
func TestMatchHistoryAndLeaderboardOverTheProtocol(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DataDir: t.TempDir()})
	ada, adaW := dialWelcome(t, srv, "ada")
	bob, bobW := dialWelcome(t, srv, "bob")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	ja := ada.Request(qm).GetJoined()
	jb := bob.Request(qm).GetJoined()
	room := ja.GetRoomId()
	for seq := uint32(1); seq <= 3; seq++ {
		input(ada, room, seq, "+")
	}
	res := ada.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
	}).GetRoomEvent().GetResult()
	scores := map[uint32]int64{}
	for _, s := range res.GetScores() {
		scores[s.Seat] = s.Score
	}
	if len(scores) != 2 || scores[ja.GetSeat()] != 3 || scores[jb.GetSeat()] != 0 {
		t.Fatalf("MatchResult scores = %v, want ada's seat 3 and bob's 0", res.GetScores())
	}

	// The result reaches the store through the write queue: ask until it
	// is there.
	var hist *tickroomv1.MatchHistory
	waitUntil(t, "the match in ada's history", func() bool {
		hist = ada.Request(historyRequest("", 0, 0)).GetMatchHistory()
		return len(hist.GetMatches()) == 1
	})
	m := hist.Matches[0]
	if hist.UserId != adaW.UserId || hist.NextBeforeId != 0 || m.Game != "race" || m.RoomId != room || m.Reason != "finished" ||
		m.EndedAtMs < m.StartedAtMs || len(m.Players) != 2 {
		t.Fatalf("ada's history = %v", hist)
	}
	want := map[string]struct {
		outcome tickroomv1.MatchOutcome
		score   int64
	}{
		adaW.UserId: {tickroomv1.MatchOutcome_MATCH_OUTCOME_WIN, 3},
		bobW.UserId: {tickroomv1.MatchOutcome_MATCH_OUTCOME_LOSS, 0},
	}
	for _, p := range m.Players {
		if w := want[p.UserId]; p.Outcome != w.outcome || p.Score != w.score {
			t.Errorf("player %s (%s): %v score %d, want %v score %d", p.UserId, p.Name, p.Outcome, p.Score, w.outcome, w.score)
		}
	}

	board := bob.Request(leaderboardRequest("race", 0)).GetLeaderboard()
	if len(board.GetTop()) != 2 || board.Top[0].UserId != adaW.UserId || board.Top[0].Rank != 1 || board.Top[0].Wins != 1 || board.Top[0].Score != 3 ||
		board.Top[1].UserId != bobW.UserId || board.Top[1].Rank != 2 || board.Top[1].Losses != 1 || board.Top[1].Played != 1 ||
		board.GetOwn().GetUserId() != bobW.UserId || board.Own.Rank != 2 {
		t.Fatalf("race leaderboard for bob = %v", board)
	}
	if code := bob.Request(leaderboardRequest("chess", 0)).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_UNKNOWN_GAME {
		t.Fatalf("leaderboard of an unknown game: %v, want ERROR_CODE_UNKNOWN_GAME", code)
	}

	// Not friends: ada's history is hers alone.
	if code := bob.Request(historyRequest(adaW.UserId, 0, 0)).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("a stranger's history: %v, want ERROR_CODE_FORBIDDEN", code)
	}
	bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: adaW.UserId}}})
	ada.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	if ada.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AnswerFriend{AnswerFriend: &tickroomv1.AnswerFriend{UserId: bobW.UserId, Accept: true}}}).GetOk() == nil {
		t.Fatal("accepting the friend request failed")
	}
	if h := bob.Request(historyRequest(adaW.UserId, 0, 0)).GetMatchHistory(); len(h.GetMatches()) != 1 || h.UserId != adaW.UserId {
		t.Fatalf("a friend's history = %v", h)
	}
}

// TestMatchHistoryWithoutAStore: a server that keeps nothing says so.
func TestMatchHistoryWithoutAStore(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}})
	ada := dial(t, srv, "ada")
	for _, req := range []*tickroomv1.ClientMessage{historyRequest("", 0, 0), leaderboardRequest("race", 0)} {
		if code := ada.Request(req).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_UNSUPPORTED {
			t.Errorf("%v without a store: %v, want ERROR_CODE_UNSUPPORTED", req, code)
		}
	}
}

// TestScoreBoundsAgree: a room leaves out a score past game.MaxScore and
// the store refuses a result with one past store.MaxScore; were the
// store's the lower, a room's result would again be lost whole.
func TestScoreBoundsAgree(t *testing.T) {
	if game.MaxScore != store.MaxScore {
		t.Fatalf("game.MaxScore %d, store.MaxScore %d: they must be the same bound", int64(game.MaxScore), int64(store.MaxScore))
	}
}
