package tickroom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
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
		Games: []game.Definition{raceDefinition()}, DataDir: dir, AdminAddr: "127.0.0.1:0",
		OnResult: func(r game.Result) { seen <- r },
	})
	ada, adaWelcome := dialWelcome(t, srv, "ada")
	bob := dial(t, srv, "bob")
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
	adaID := adaWelcome.GetUserId()

	// The admin API reads them back once the queue has written them.
	adminGet := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.AdminAddr().String()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var board struct {
		Top []struct {
			Name         string
			Rank         int
			Wins, Losses int64
		}
		User *struct {
			UserID string `json:"user_id"`
			Rank   int
		}
	}
	waitUntil(t, "the result on the admin leaderboard", func() bool {
		st, body := adminGet("/v1/admin/games/race/leaderboard?limit=10&user="+adaID, srv.AdminToken())
		return st == 200 && json.Unmarshal([]byte(body), &board) == nil && len(board.Top) == 2
	})
	if board.Top[0].Name != "ada" || board.Top[0].Wins != 1 || board.Top[1].Losses != 1 || board.User == nil || board.User.UserID != adaID || board.User.Rank != 1 {
		t.Fatalf("admin leaderboard = %+v", board)
	}
	if st, body := adminGet("/v1/admin/players/"+adaID+"/history?limit=5", srv.AdminToken()); st != 200 || !strings.Contains(body, `"room":"`+room+`"`) || !strings.Contains(body, `"outcome":"win"`) {
		t.Fatalf("admin history: %d %s", st, body)
	}
	for path, want := range map[string]int{
		"/v1/admin/games/race/leaderboard?limit=0":    400,
		"/v1/admin/players/x/history?before=-1":       400,
		"/v1/admin/games/race/leaderboard?limit=1000": 400,
	} {
		if st, body := adminGet(path, srv.AdminToken()); st != want {
			t.Errorf("%s: %d %s, want %d", path, st, body, want)
		}
	}
	if st, _ := adminGet("/v1/admin/games/race/leaderboard", ""); st != 401 {
		t.Errorf("leaderboard without the admin token: %d, want 401", st)
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
	top, err := db.Leaderboard(context.Background(), "race", 10)
	if err != nil || len(top) != 2 || top[0].Name != "ada" || top[0].Wins != 1 || top[1].Name != "bob" || top[1].Losses != 1 {
		t.Fatalf("race leaderboard after shutdown = %+v, %v", top, err)
	}
	hist, err := db.History(context.Background(), top[0].UserID, 0, 10)
	if err != nil || len(hist) != 1 || hist[0].Room != room || hist[0].Key != room || hist[0].Outcome != "finished" {
		t.Fatalf("ada's history = %+v, %v; want the match keyed by its room", hist, err)
	}
}

// TestRoomClosedEmptyKeepsNoResult: a running room its only player left
// closes empty; Options.OnResult still hears of it, but the store keeps
// no result without players.
func TestRoomClosedEmptyKeepsNoResult(t *testing.T) {
	t.Parallel()
	seen := make(chan game.Result, 1)
	srv, _, _ := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: t.TempDir(), AdminAddr: "127.0.0.1:0",
		OnResult: func(r game.Result) { seen <- r },
	})
	ada := dial(t, srv, "ada")
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
	room := ada.Request(qm).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("quick-match failed")
	}
	input(ada, room, 1, "+") // the race runs with one player
	leave := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}
	if ada.Request(leave).GetLeft() == nil {
		t.Fatal("ada could not leave")
	}
	var r game.Result
	select {
	case r = <-seen: // the room closed empty, after the hub's CreatorGoneTimeout
	case <-time.After(30 * time.Second):
		t.Fatal("OnResult not called for the room closed empty")
	}
	if r.RoomID != room || r.Outcome.Reason != "closed" || len(r.Players) != 0 {
		t.Fatalf("result of the emptied room: %+v", r)
	}
	// The store's queue takes a result before OnResult sees it: had it
	// taken this one, it would be queued or written by now.
	resp, err := http.Get("http://" + srv.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"tickroom_store_queue_depth 0\n", `tickroom_store_written_total{kind="result"} 0` + "\n"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %q: the store took the result of a room without players:\n%s", want, grep(string(body), "tickroom_store_"))
		}
	}
}

// TestServerNotReadyWhileTheDatabaseIsLost: with the PostgreSQL server
// gone, play goes on, /readyz answers 503 with the reason and /metrics
// shows the store down, and a direct message to a user connected nowhere,
// which cannot be kept, is refused with ERROR_CODE_UNAVAILABLE and a match
// history with ERROR_CODE_INTERNAL; when the database is back, the server
// is ready again and such a message is kept.
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
	// bob has an account but no connection: a direct message to him is
	// kept in the store.
	resp, err := http.Post("http://"+srv.HTTPAddr().String()+"/v1/login", "application/json", strings.NewReader(`{"name":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	var bob struct {
		UserID string `json:"user_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&bob)
	resp.Body.Close()
	if resp.StatusCode != 200 || bob.UserID == "" {
		t.Fatalf("bob's login: %d %+v", resp.StatusCode, bob)
	}
	toBob := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_SendDirect{SendDirect: &tickroomv1.SendDirect{ToUserId: bob.UserID, Text: "are you there?"}}}
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
	resp, err = http.Post("http://"+srv.HTTPAddr().String()+"/v1/login", "application/json", strings.NewReader(`{"name":"eve"}`))
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
	// A message to bob cannot be kept: it is refused, and nothing else of
	// ada's is lost.
	if code := ada.Request(toBob).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
		t.Fatalf("direct message to bob, connected nowhere, with the database down: %v, want ERROR_CODE_UNAVAILABLE", code)
	}
	hist := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetMatchHistory{GetMatchHistory: &tickroomv1.GetMatchHistory{}}}
	if code := ada.Request(hist).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_INTERNAL {
		t.Fatalf("match history with the database down: %v, want ERROR_CODE_INTERNAL", code)
	}
	if ada.Request(qm).GetJoined() == nil {
		t.Fatal("quick-match failed with the database down")
	}
	pg.Restart(t)
	waitUntil(t, "/readyz once the database is back", func() bool {
		st, _ := get("/readyz")
		return st == http.StatusOK
	})
	if r := ada.Request(toBob); r.GetOk() == nil {
		t.Fatalf("direct message to bob once the database is back: %v, want Ok (kept)", r)
	}
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

// dialWelcome connects name and returns the client with its Welcome.
func dialWelcome(t *testing.T, srv *tickroom.Server, name string) (*testclient.Client, *tickroomv1.Welcome) {
	t.Helper()
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, login(t, srv, name), testclient.Options{Label: name})
	if err != nil {
		t.Fatal(err)
	}
	return c, c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome()
}

// TestLoginWhileTheDatabaseIsSilent: with PostgreSQL alive but answering
// nothing (a partition that drops packets; here its processes stopped),
// a guest login still gets a session for this visit and a returning
// guest's device login a 503 (docs/store.md: what needs a read degrades
// instead of waiting). A login whose store call took a pooled connection
// waited for the database's answer with no deadline, until its client
// gave up: the stopped database never answers, so each login is answered
// at all only by its store call's deadline (account.StoreTimeout, 5 s);
// the client's 60 s only catches a login that waits for good.
func TestLoginWhileTheDatabaseIsSilent(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	srv, _, _ := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DatabaseURL: pg.NewDatabase(t), AdminAddr: "127.0.0.1:0",
		GuestLoginRate: math.Inf(1),
	})
	post := func(body string) (int, string, time.Duration) {
		c := &http.Client{Timeout: silentDatabaseGuard}
		begin := time.Now()
		resp, err := c.Post("http://"+srv.HTTPAddr().String()+"/v1/login", "application/json", strings.NewReader(body))
		if err != nil {
			return 0, err.Error(), time.Since(begin)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), time.Since(begin)
	}
	var ada struct {
		DeviceSecret string `json:"device_secret"`
	}
	st, body, _ := post(`{"name":"ada"}`)
	if err := json.Unmarshal([]byte(body), &ada); st != 200 || err != nil || ada.DeviceSecret == "" {
		t.Fatalf("guest login with the database up: %d %s", st, body)
	}
	// Keep a few connections in the pool: the logins below take them.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); post(`{"name":"warm"}`) }()
	}
	wg.Wait()
	pg.Pause(t)
	type answer struct {
		what   string
		status int
		body   string
		took   time.Duration
	}
	answers := make(chan answer, 8)
	for i := range 6 {
		go func() {
			st, body, took := post(`{"name":"guest"}`)
			answers <- answer{fmt.Sprintf("guest login %d", i), st, body, took}
		}()
	}
	go func() {
		st, body, took := post(`{"device_secret":"` + ada.DeviceSecret + `"}`)
		answers <- answer{"device login", st, body, took}
	}()
	for range 7 {
		a := <-answers
		t.Logf("%s with the database silent: %d after %v", a.what, a.status, a.took.Round(time.Millisecond))
		want := 200
		if a.what == "device login" {
			want = http.StatusServiceUnavailable
		}
		if a.status != want {
			t.Errorf("%s with the database silent: %d %s after %v, want %d", a.what, a.status, a.body, a.took.Round(time.Millisecond), want)
		}
	}
	pg.Resume(t)
}

// silentDatabaseGuard is how long a test's client waits for an answer
// from a server whose database is stopped: over ten times the 5 s
// deadline of the store calls it makes, so that only a call with no
// deadline, which waits for good, fails it.
const silentDatabaseGuard = 60 * time.Second

// TestAdminHistoryWhileTheDatabaseIsSilent: with PostgreSQL answering
// nothing, the admin API's history and leaderboard answer 503, as the
// same reads over tickroom.v1 answer within their 5 s; they waited on the
// database with no deadline, until the operator's client gave up (the
// stopped database never answers: only the deadline answers them).
func TestAdminHistoryWhileTheDatabaseIsSilent(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	srv, _, _ := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DatabaseURL: pg.NewDatabase(t), AdminAddr: "127.0.0.1:0",
	})
	get := func(path string) (int, time.Duration) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.AdminAddr().String()+path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
		c := &http.Client{Timeout: silentDatabaseGuard}
		begin := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, time.Since(begin)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(begin)
	}
	paths := []string{"/v1/admin/players/nobody/history", "/v1/admin/games/race/leaderboard"}
	for _, p := range paths {
		if st, _ := get(p); st != http.StatusOK {
			t.Fatalf("GET %s with the database up: %d", p, st)
		}
	}
	pg.Pause(t)
	var wg sync.WaitGroup
	for _, p := range paths {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, took := get(p); st != http.StatusServiceUnavailable {
					t.Errorf("GET %s with the database silent: %d after %v, want 503", p, st, took.Round(time.Millisecond))
				}
			}()
		}
	}
	wg.Wait()
	pg.Resume(t)
}
