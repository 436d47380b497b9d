package tickroom_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/store"
)

// TestServerKeepsResultsInTheStore plays a match to its end on a server
// with a data directory: after shutdown the result is in the store and
// the leaderboard counts it, while Options.OnResult still sees it.
func TestServerKeepsResultsInTheStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seen := make(chan game.Result, 1)
	srv, cancel, done := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: dir,
		OnResult: func(r game.Result) { seen <- r },
	})
	ada, bob := dial(t, srv, "ada"), dial(t, srv, "bob")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	room := ada.Request(qm).GetJoined().GetRoomId()
	bob.Request(qm)
	for seq := uint32(1); seq <= 3; seq++ {
		input(ada, room, seq, "+")
	}
	ada.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
	})
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("OnResult not called")
	}
	cancel()
	for _, c := range []*testclient.Client{ada, bob} {
		c.WaitClosed()
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	db, err := store.Open(context.Background(), store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	board, err := db.Leaderboard(context.Background(), "race", 10)
	if err != nil || len(board) != 2 || board[0].Name != "ada" || board[0].Wins != 1 || board[1].Name != "bob" || board[1].Losses != 1 {
		t.Fatalf("race leaderboard = %+v, %v", board, err)
	}
	hist, err := db.History(context.Background(), board[0].UserID, 0, 10)
	if err != nil || len(hist) != 1 || hist[0].Room != room || hist[0].Outcome != "finished" {
		t.Fatalf("ada's history = %+v, %v", hist, err)
	}
}

// TestServerNotReadyWhileTheDatabaseIsLost: with the PostgreSQL server
// gone, play goes on, /readyz answers 503 with the reason and /metrics
// shows the store down; when it is back, the server is ready again.
func TestServerNotReadyWhileTheDatabaseIsLost(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	srv, _, _ := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DatabaseURL: pg.NewDatabase(t), AdminAddr: "127.0.0.1:0",
	})
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.AdminAddr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("/readyz"); st != http.StatusOK {
		t.Fatalf("/readyz with the database up: %d %s", st, body)
	}
	pg.Stop(t)
	waitUntil(t, "/readyz to report the lost database", func() bool {
		st, body := get("/readyz")
		return st == http.StatusServiceUnavailable && strings.Contains(body, "store writes failing")
	})
	if _, body := get("/metrics"); !strings.Contains(body, "tickroom_store_up 0") || !strings.Contains(body, "tickroom_store_queue_depth 0") {
		t.Fatalf("/metrics with the database down lacks the store series:\n%s", grep(body, "tickroom_store_"))
	}
	// Play goes on: a guest login (a session for this visit, no device
	// secret) and a match need no database.
	resp, err := http.Post("http://"+srv.HTTPAddr().String()+"/v1/login", "application/json", strings.NewReader(`{"name":"eve"}`))
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Token        string `json:"token"`
		DeviceSecret string `json:"device_secret"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&in)
	resp.Body.Close()
	if resp.StatusCode != 200 || in.Token == "" || in.DeviceSecret != "" {
		t.Fatalf("guest login with the database down: %d %+v, want a session without a device secret", resp.StatusCode, in)
	}
	ada := dial(t, srv, "ada")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	if ada.Request(qm).GetJoined() == nil {
		t.Fatal("quick-match failed with the database down")
	}
	pg.Restart(t)
	waitUntil(t, "/readyz once the database is back", func() bool {
		st, _ := get("/readyz")
		return st == http.StatusOK
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grep(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
