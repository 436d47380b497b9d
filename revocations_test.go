package tickroom_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
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

// TestKicksAndBansSurviveARestart: with a data directory, a ban and a
// kicked session are still refused after the server restarts (a new login
// after the kick is not); a kick given a length of its own keeps it across
// the restart; an unban is kept too.
func TestKicksAndBansSurviveARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := restartable(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DataDir: dir, AdminAddr: "127.0.0.1:0"})
	admin := func(srv *tickroom.Server, path, body string) int { return adminPost(t, srv, path, body) }
	srv, stop := run()
	// bob's device secret logs bob in again after the first kick.
	deviceLogin := func(srv *tickroom.Server, body map[string]string) (token, secret string) {
		st, out := api{t: t, base: "http://" + srv.HTTPAddr().String()}.post("/v1/login", "", body)
		if st != 200 || str(out, "token") == "" || str(out, "device_secret") == "" {
			t.Fatalf("login %v: %d %v", body, st, out)
		}
		return str(out, "token"), str(out, "device_secret")
	}
	bobTok, bobSecret := deviceLogin(srv, map[string]string{"name": "bob"})
	adaTok, calTok := login(t, srv, "ada"), login(t, srv, "cal")
	ada, _ := welcome(t, srv, adaTok)
	bob, _ := welcome(t, srv, bobTok)
	if ada == "" || bob == "" {
		t.Fatal("no welcome")
	}
	calLive, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, calTok, testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cal := calLive.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId()
	if st := admin(srv, "/v1/admin/players/"+cal+"/kick", `{"reason":"cool off","seconds":3}`); st != 200 {
		t.Fatalf("kick for 3 s: %d", st)
	}
	calLive.WaitClosed()
	if _, st := welcome(t, srv, calTok); st != http.StatusForbidden {
		t.Fatalf("token of a user kicked for 3 s, at once: %d, want 403", st)
	}
	bobLive, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, bobTok, testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := admin(srv, "/v1/admin/players/"+ada+"/ban", `{"reason":"cheating"}`); st != 200 {
		t.Fatalf("ban: %d", st)
	}
	if st := admin(srv, "/v1/admin/players/"+bob+"/kick", `{"reason":"spam"}`); st != 200 {
		t.Fatalf("kick: %d", st)
	}
	bobLive.WaitClosed()
	// bob logs in again and is kicked again, for 1 s: the second kick does
	// not cut the first one short for the token it refused, as the
	// server's memory does not; the store keeps the later end.
	time.Sleep(1100 * time.Millisecond) // a token's issue time is in whole seconds: one from the kick's second is refused
	bobAgain, _ := deviceLogin(srv, map[string]string{"device_secret": bobSecret})
	bobLive, _, err = testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, bobAgain, testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if id := bobLive.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId(); id != bob {
		t.Fatalf("bob's second login is user %q, want %q", id, bob)
	}
	if st := admin(srv, "/v1/admin/players/"+bob+"/kick", `{"reason":"spam again","seconds":1}`); st != 200 {
		t.Fatalf("second kick for 1 s: %d", st)
	}
	bobLive.WaitClosed()
	stop()

	srv, stop = run()
	if _, st := welcome(t, srv, adaTok); st != http.StatusForbidden {
		t.Fatalf("banned user's token after a restart: %d, want 403", st)
	}
	if _, st := welcome(t, srv, bobTok); st != http.StatusForbidden {
		t.Fatalf("kicked session's token after a restart: %d, want 403", st)
	}
	// cal's kick lasts its 3 s, not the server's 5 minutes: the old token
	// is taken again once they are over, while bob's is still refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		id, st := welcome(t, srv, calTok)
		if st == 101 && id == cal {
			break
		}
		if st != http.StatusForbidden || time.Now().After(deadline) {
			t.Fatalf("token of a user kicked for 3 s, after a restart: %d, want it taken once the 3 s are over", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, st := welcome(t, srv, bobTok); st != http.StatusForbidden {
		t.Fatalf("kicked session's token, kicked for the default 5 minutes: %d, want 403", st)
	}
	if id, st := welcome(t, srv, login(t, srv, "bob")); st != 101 || id == "" {
		t.Fatalf("a new login after a kick: %d", st)
	}
	if st := admin(srv, "/v1/admin/players/"+ada+"/unban", ``); st != 200 {
		t.Fatalf("unban: %d", st)
	}
	stop()

	srv, _ = run()
	if id, st := welcome(t, srv, adaTok); st != 101 || id != ada {
		t.Fatalf("unbanned user's token after a restart: %d %q", st, id)
	}
}

// TestBannedTokenRefusedOverHTTP: the public HTTP endpoints that take a
// session token (the account endpoints, the ICE servers and the session
// check) refuse the token of a banned user with 401, as the upgrade
// refuses it, so a banned user cannot claim a name or draw TURN
// credentials with a token issued before the ban; another user's token
// still works.
func TestBannedTokenRefusedOverHTTP(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: t.TempDir(), AdminAddr: "127.0.0.1:0",
		ICEURLs: []string{"turn:turn.example.com:3478"}, TURNSecret: []byte("turn-secret"),
	})
	eveTok, ann := login(t, srv, "eve"), login(t, srv, "ann")
	eve, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, eveTok, testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := eve.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId()
	if st := adminPost(t, srv, "/v1/admin/players/"+id+"/ban", `{"reason":"cheating"}`); st != 200 {
		t.Fatalf("ban: %d", st)
	}
	eve.WaitClosed()
	call := func(method, path, tok, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+srv.HTTPAddr().String()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/account", ""},
		{http.MethodPost, "/v1/account/claim", `{"name":"eve2","password":"longenough"}`},
		{http.MethodGet, "/v1/ice-servers", ""},
	} {
		if st, body := call(tc.method, tc.path, eveTok, tc.body); st != http.StatusUnauthorized {
			t.Errorf("%s %s with a banned user's token: %d %s, want 401", tc.method, tc.path, st, body)
		}
		if tc.method == http.MethodGet {
			if st, body := call(tc.method, tc.path, ann, ""); st != http.StatusOK {
				t.Errorf("%s %s with another user's token: %d %s, want 200", tc.method, tc.path, st, body)
			}
		}
	}
	if st, body := call(http.MethodPost, "/v1/session", eveTok, ""); st != http.StatusUnauthorized || !strings.Contains(body, "banned") {
		t.Errorf("session check with a banned user's token: %d %s, want 401 naming the ban", st, body)
	}
}

// adminPost posts body to path on srv's admin port with its admin token
// and returns the status.
func adminPost(t *testing.T, srv *tickroom.Server, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+srv.AdminAddr().String()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBanWhileTheDatabaseIsLostIsKept: a ban and an unban made through
// the admin API while PostgreSQL is down (a restart of the database, a
// failover) hold at once and are written once it is back, so that they
// still apply after the server restarts, as docs/store.md says of every
// kick and ban. Each was tried once and, failing, only logged: the ban
// was gone after the next restart, and an unban came undone.
func TestBanWhileTheDatabaseIsLostIsKept(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	run := restartable(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DatabaseURL: url, AdminAddr: "127.0.0.1:0"})
	srv, stop := run()
	eveTok, annTok := login(t, srv, "eve"), login(t, srv, "ann")
	eve, _ := welcome(t, srv, eveTok)
	ann, _ := welcome(t, srv, annTok)
	if eve == "" || ann == "" {
		t.Fatal("no welcome")
	}
	if st := adminPost(t, srv, "/v1/admin/players/"+ann+"/ban", `{"reason":"first"}`); st != 200 {
		t.Fatalf("ban of ann: %d", st)
	}
	time.Sleep(500 * time.Millisecond) // ann's ban written with the database up
	pg.Stop(t)
	if st := adminPost(t, srv, "/v1/admin/players/"+eve+"/ban", `{"reason":"cheating"}`); st != 200 {
		t.Fatalf("ban with the database down: %d", st)
	}
	if st := adminPost(t, srv, "/v1/admin/players/"+ann+"/unban", ``); st != 200 {
		t.Fatalf("unban with the database down: %d", st)
	}
	if _, st := welcome(t, srv, eveTok); st != http.StatusForbidden {
		t.Fatalf("banned user's token with the database down: %d, want 403", st)
	}
	time.Sleep(2 * time.Second) // the writes were tried and failed
	pg.Restart(t)
	// and are written once it is back: a write still waiting for its
	// next try (at most 2 s apart) when the server stops is given up, so
	// the server stops once the database holds eve's ban and no ban of
	// ann's.
	db, err := store.Open(context.Background(), store.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitUntil(t, "eve's ban and ann's unban written", func() bool {
		list, err := db.Sanctions(context.Background(), time.Now())
		if err != nil {
			return false
		}
		eveBanned, annBanned := false, false
		for _, s := range list {
			eveBanned = eveBanned || s.UserID == eve && s.Kind == store.SanctionBan
			annBanned = annBanned || s.UserID == ann && s.Kind == store.SanctionBan
		}
		return eveBanned && !annBanned
	})
	stop()

	srv, _ = run()
	if _, st := welcome(t, srv, eveTok); st != http.StatusForbidden {
		t.Fatalf("token of a user banned while the database was down, after a restart: %d, want 403", st)
	}
	if _, st := welcome(t, srv, annTok); st != 101 {
		t.Fatalf("token of a user unbanned while the database was down, after a restart: %d, want 101", st)
	}
}

// TestBanWhileTheSQLiteFileIsLockedIsKept: a ban made through the admin
// API while another program holds the SQLite file locked past the busy
// timeout (a sqlite3 shell in a write transaction) holds at once and is
// written once the lock is let go, so that it still applies after the
// server restarts, as one made while PostgreSQL is out of reach is
// (TestBanWhileTheDatabaseIsLostIsKept).
func TestBanWhileTheSQLiteFileIsLockedIsKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs logLines
	run := restartable(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: dir, AdminAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	srv, stop := run()
	eveTok := login(t, srv, "eve")
	eve, _ := welcome(t, srv, eveTok)
	if eve == "" {
		t.Fatal("no welcome")
	}
	// Another program's write transaction.
	conn := lockSQLiteFile(t, dir)
	if st := adminPost(t, srv, "/v1/admin/players/"+eve+"/ban", `{"reason":"cheating"}`); st != 200 {
		t.Fatalf("ban with the file locked: %d", st)
	}
	// The write was tried and failed (after the 5 s busy timeout).
	waitUntil(t, "the ban's write tried", func() bool { return logs.count("kick or ban") > 0 })
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the ban stored or given up", func() bool {
		return logs.count("kick or ban waiting for the database was stored") > 0 || logs.count("was not stored") > 0
	})
	stop()

	srv, _ = run()
	if _, st := welcome(t, srv, eveTok); st != http.StatusForbidden {
		t.Fatalf("token of a user banned while the SQLite file was locked, after a restart: %d, want 403", st)
	}
}

// TestBanWithANULInItsReasonIsKeptOnPostgres: an operator's ban reason is
// free text, and JSON carries a NUL ("\u0000"), which SQLite keeps but a
// PostgreSQL text column refuses: the ban was answered 200 and held until
// the process ended, then was gone after a restart. The store keeps the
// reason with the NUL as U+FFFD, on both backends.
func TestBanWithANULInItsReasonIsKeptOnPostgres(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	run := restartable(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DatabaseURL: url, AdminAddr: "127.0.0.1:0"})
	srv, stop := run()
	eveTok := login(t, srv, "eve")
	eve, _ := welcome(t, srv, eveTok)
	if eve == "" {
		t.Fatal("no welcome")
	}
	if st := adminPost(t, srv, "/v1/admin/players/"+eve+"/ban", `{"reason":"cheat\u0000ing"}`); st != 200 {
		t.Fatalf("ban: %d", st)
	}
	db, err := store.Open(context.Background(), store.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The writer stores or gives up the ban, then stores the next one.
	if st := adminPost(t, srv, "/v1/admin/players/someone-else/ban", `{"reason":"marker"}`); st != 200 {
		t.Fatalf("second ban: %d", st)
	}
	waitUntil(t, "the second ban written", func() bool {
		list, err := db.Sanctions(context.Background(), time.Now())
		if err != nil {
			return false
		}
		for _, s := range list {
			if s.UserID == "someone-else" {
				return true
			}
		}
		return false
	})
	stop()

	srv, _ = run()
	if _, st := welcome(t, srv, eveTok); st != http.StatusForbidden {
		t.Fatalf("token of a user banned with a NUL in the reason, after a restart: %d, want 403", st)
	}
}

// TestBanWaitingForTheDatabaseAtShutdownIsTriedOnceMore: a ban whose write
// failed (the SQLite file locked by another program) waits before its next
// try; a server shut down within that wait, the lock let go, tries the
// write once more rather than dropping it untried, so that the ban still
// applies after the restart. Not parallel: it lengthens the wait for the
// whole package.
func TestBanWaitingForTheDatabaseAtShutdownIsTriedOnceMore(t *testing.T) {
	defer tickroom.SetRevocationRetry(time.Hour)()
	dir := t.TempDir()
	var logs logLines
	run := restartable(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: dir, AdminAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	srv, stop := run()
	eveTok := login(t, srv, "eve")
	eve, _ := welcome(t, srv, eveTok)
	if eve == "" {
		t.Fatal("no welcome")
	}
	conn := lockSQLiteFile(t, dir)
	if st := adminPost(t, srv, "/v1/admin/players/"+eve+"/ban", `{"reason":"cheating"}`); st != 200 {
		t.Fatalf("ban with the file locked: %d", st)
	}
	// The write was tried and failed (after the busy timeout); the next
	// try is an hour away.
	waitUntil(t, "the ban's write tried", func() bool { return logs.count("kick or ban could not be stored yet") > 0 })
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	stop()

	srv, _ = run()
	if _, st := welcome(t, srv, eveTok); st != http.StatusForbidden {
		t.Fatalf("token of a user banned while its write waited for a retry at shutdown, after a restart: %d, want 403", st)
	}
}

// TestBanWaitingForASilentDatabaseIsDroppedWithinTheShutdown: with the
// SQLite file locked by another program for good, a ban whose write waits
// for its next try is tried once more at shutdown, and that last try ends
// with the shutdown's time: the ban is reported dropped by the shutdown,
// rather than its try left running past it, on a store closed under it.
// Not parallel: it lengthens the wait before a retry for the whole
// package.
func TestBanWaitingForASilentDatabaseIsDroppedWithinTheShutdown(t *testing.T) {
	defer tickroom.SetRevocationRetry(time.Hour)()
	dir := t.TempDir()
	var logs logLines
	srv, cancel, done := start(t, tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: dir, AdminAddr: "127.0.0.1:0",
		ShutdownTimeout: time.Second,
		Logger:          slog.New(slog.NewTextHandler(&logs, nil)),
	})
	eveTok := login(t, srv, "eve")
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, eveTok, testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eve := c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId()
	c.WS.Close()

	conn := lockSQLiteFile(t, dir)
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	if st := adminPost(t, srv, "/v1/admin/players/"+eve+"/ban", `{"reason":"cheating"}`); st != 200 {
		t.Fatalf("ban with the file locked: %d", st)
	}
	waitUntil(t, "the ban's write tried", func() bool { return logs.count("kick or ban could not be stored yet") > 0 })
	cancel()
	<-done // the shutdown's time ran out: an error, or not
	waitUntil(t, "the ban reported not stored", func() bool { return logs.count("not stored") > 0 })
	if n := logs.count("store: closed"); n > 0 {
		t.Fatalf("the ban's last try ran on past the shutdown, to fail on the store closed under it: %d lines name the closed store", n)
	}
}

// restartable returns what starts a server on opts, and stops it: run it
// again for a restart on the same data directory or database.
func restartable(t *testing.T, opts tickroom.Options) func() (*tickroom.Server, func()) {
	return func() (*tickroom.Server, func()) {
		srv, cancel, done := start(t, opts)
		return srv, func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// welcome dials srv's WebSocket with token: the user id its Welcome
// names and 101, or "" and the status of the refused upgrade.
func welcome(t *testing.T, srv *tickroom.Server, token string) (string, int) {
	t.Helper()
	c, resp, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return "", resp.StatusCode
	}
	defer c.WS.Close()
	return c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId(), 101
}

// lockSQLiteFile opens a write transaction on the SQLite database in dir,
// as another program (a sqlite3 shell) would, and returns its connection:
// ROLLBACK lets the file go.
func lockSQLiteFile(t *testing.T, dir string) *sql.Conn {
	t.Helper()
	// The server's writer may hold the file for a write of its own when
	// the lock is asked: it is waited for, as SQLite waits for a busy file
	// (SQLITE_BUSY at once without a timeout).
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tickroom.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestSanctionsDroppedAreCounted: kicks made faster than the store takes
// them (here another program holds the SQLite file locked) hold in memory,
// and past the writer's queue each one not to be stored is counted in
// tickroom_store_sanctions_dropped_total, where an operator sees them
// beside the log line; they were only logged.
func TestSanctionsDroppedAreCounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, DataDir: dir, AdminAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	conn := lockSQLiteFile(t, dir)
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	const kicks = 1100 // the writer's queue holds 1,024, and one in its hands
	for i := range kicks {
		if st := adminPost(t, srv, "/v1/admin/players/u"+strconv.Itoa(i)+"/kick", `{"reason":"spam"}`); st != 200 {
			t.Fatalf("kick %d: %d", i, st)
		}
	}
	resp, err := http.Get("http://" + srv.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var dropped float64 = -1
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "tickroom_store_sanctions_dropped_total "); ok {
			dropped, _ = strconv.ParseFloat(v, 64)
		}
	}
	if dropped < kicks-1025 || dropped > kicks-1024 {
		t.Fatalf("tickroom_store_sanctions_dropped_total after %d kicks while the store was locked: %v (-1: not exported), want %d or %d", kicks, dropped, kicks-1025, kicks-1024)
	}
}
