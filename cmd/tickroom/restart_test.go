package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// player is a guest of the binary, with its device secret and, once
// connected, its client and its view of the one room it plays in.
type player struct {
	id, secret string
	c          *testclient.Client

	mu sync.Mutex
	st statesync.Store
}

func (p *player) onState(s *tickroomv1.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.st.Apply(s.Keyframe, s.Tick, s.BaseTick, s.Patch)
	return err
}

func (p *player) acked(seat uint32) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	seq, _ := p.st.AckFor(seat)
	return seq
}

// loginBinary logs in with body and returns the reply.
func loginBinary(t *testing.T, r *running, body string) (token, id, secret string) {
	t.Helper()
	resp, err := http.Post("http://"+r.http+"/v1/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token        string `json:"token"`
		UserID       string `json:"user_id"`
		DeviceSecret string `json:"device_secret"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login %s: %d %v", body, resp.StatusCode, err)
	}
	return out.Token, out.UserID, out.DeviceSecret
}

func (p *player) connect(t *testing.T, r *running, token, label string) {
	t.Helper()
	c, _, err := testclient.Dial(t, "ws://"+r.ws+"/v1/ws", token, testclient.Options{Label: label, OnState: p.onState})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	p.c = c
}

// TestBinaryRestartKeepsAccountsFriendsAndResults runs the real binary on
// a data directory: two guests play gomoku to a win and become friends;
// after a restart, logging in with their device secrets gives the same
// accounts, the friendship (each friend's presence at login), the match in
// both histories and the win on the gomoku leaderboard.
func TestBinaryRestartKeepsAccountsFriendsAndResults(t *testing.T) {
	env := []string{"TICKROOM_DATA_DIR=" + t.TempDir()}
	r := startBinary(t, env)
	black, white := &player{}, &player{}
	tb, idb, sb := loginBinary(t, r, `{"name":"black"}`)
	tw, idw, sw := loginBinary(t, r, `{"name":"white"}`)
	black.id, black.secret, white.id, white.secret = idb, sb, idw, sw
	black.connect(t, r, tb, "black")
	white.connect(t, r, tw, "white")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "gomoku"}}}
	jb := black.c.Request(qm).GetJoined()
	jw := white.c.Request(qm).GetJoined()
	if jb == nil || jw == nil || jb.RoomId != jw.RoomId || jb.Seat != 1 || jw.Seat != 2 {
		t.Fatalf("quick-match: %v / %v", jb, jw)
	}
	room := jb.RoomId
	seq := map[*player]uint32{}
	play := func(p *player, seat, x, y uint32) {
		t.Helper()
		seq[p]++
		mv, _ := (&gomokuv1.Move{X: x, Y: y}).MarshalVT()
		p.c.Write(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: room, Seq: seq[p], Data: mv}}})
		deadline := time.Now().Add(10 * time.Second)
		for p.acked(seat) < seq[p] {
			if time.Now().After(deadline) {
				t.Fatalf("seat %d move %d not applied", seat, seq[p])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i := range uint32(4) {
		play(black, 1, i, 0)
		play(white, 2, i, 1)
	}
	play(black, 1, 4, 0) // five in a row
	res := white.c.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
	}).GetRoomEvent().GetResult()
	if len(res.GetWinnerSeats()) != 1 || res.WinnerSeats[0] != 1 {
		t.Fatalf("match result %v, want black (seat 1) winning", res)
	}
	white.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AddFriend{AddFriend: &tickroomv1.AddFriend{UserId: black.id}}})
	black.c.Next(testclient.Is[*tickroomv1.ServerMessage_FriendRequest])
	if black.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_AnswerFriend{AnswerFriend: &tickroomv1.AnswerFriend{UserId: white.id, Accept: true}}}).GetOk() == nil {
		t.Fatal("black could not accept white's friend request")
	}
	r.stop(t)

	r2 := startBinary(t, env)
	for _, p := range []*player{black, white} {
		tok, id, _ := loginBinary(t, r2, `{"device_secret":"`+p.secret+`"}`)
		if id != p.id {
			t.Fatalf("device login after the restart: user %s, want %s", id, p.id)
		}
		p.connect(t, r2, tok, "after restart")
	}
	// Each gets the other's presence: the friendship came back.
	black.c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetPresence().GetUserId() == white.id })
	white.c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetPresence().GetUserId() == black.id })

	hist := white.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetMatchHistory{GetMatchHistory: &tickroomv1.GetMatchHistory{UserId: black.id}}}).GetMatchHistory()
	if len(hist.GetMatches()) != 1 || hist.Matches[0].RoomId != room || hist.Matches[0].Game != "gomoku" {
		t.Fatalf("black's history read by white, its friend, after the restart: %v", hist)
	}
	for _, mp := range hist.Matches[0].Players {
		want := map[string]tickroomv1.MatchOutcome{black.id: tickroomv1.MatchOutcome_MATCH_OUTCOME_WIN, white.id: tickroomv1.MatchOutcome_MATCH_OUTCOME_LOSS}[mp.UserId]
		if mp.Outcome != want {
			t.Errorf("%s (%s): %v, want %v", mp.Name, mp.UserId, mp.Outcome, want)
		}
	}
	board := black.c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetLeaderboard{GetLeaderboard: &tickroomv1.GetLeaderboard{Game: "gomoku"}}}).GetLeaderboard()
	if len(board.GetTop()) != 2 || board.Top[0].UserId != black.id || board.Top[0].Wins != 1 || board.GetOwn().GetRank() != 1 || board.Top[1].Losses != 1 {
		t.Fatalf("gomoku leaderboard after the restart: %v", board)
	}
}
