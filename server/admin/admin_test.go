package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/admin"
	"github.com/tickroom/tickroom/server/auth"
)

func TestNewNeedsHubAndServer(t *testing.T) {
	if _, err := admin.New(admin.Config{}); err == nil {
		t.Fatal("New accepted a config without Hub and Server")
	}
}

func TestAdminEndpointsNeedTheToken(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured string // the server's token
		sent       string // the request's
		want       int
	}{
		{"no token sent", adminToken, "", http.StatusUnauthorized},
		{"wrong token", adminToken, "guess", http.StatusUnauthorized},
		{"prefix of the token", adminToken, adminToken[:5], http.StatusUnauthorized},
		{"right token", adminToken, adminToken, http.StatusOK},
		{"server without a token", "", "anything", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, tc.configured)
			for _, path := range []string{"/v1/admin/rooms", "/v1/admin/players", "/v1/admin/overview", "/debug/pprof/"} {
				status, body := e.do("GET", path, tc.sent, "")
				if status != tc.want {
					t.Fatalf("%s: status %d, want %d (%s)", path, status, tc.want, body)
				}
				if status == http.StatusUnauthorized {
					var eb struct{ Error string }
					if json.Unmarshal([]byte(body), &eb) != nil || eb.Error == "" {
						t.Fatalf("%s: 401 body %q is not a JSON error", path, body)
					}
				}
			}
			// The probes and metrics stay open.
			for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
				if status, _ := e.do("GET", path, "", ""); status != http.StatusOK {
					t.Fatalf("%s: status %d", path, status)
				}
			}
		})
	}
}

func TestKickAndCloseRoom(t *testing.T) {
	e := start(t, adminToken)
	ann, bob, cat := e.connect("ann"), e.connect("bob"), e.connect("cat")
	room := ann.join("")
	bob.join(room)
	cat.join("")

	// A spectator feed watches without a seat: counted apart.
	r, _ := e.hub.Runtime().Room(room)
	watching := make(chan error, 1)
	if err := r.Observe(game.ObserveRequest{Client: idleClient{}}, func(err error) { watching <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-watching; err != nil {
		t.Fatal(err)
	}
	status, body := e.do("GET", "/v1/admin/rooms/"+room, adminToken, "")
	var detail struct {
		ID         string   `json:"id"`
		Players    int      `json:"players"`
		Spectators int      `json:"spectators"`
		Observers  int      `json:"observers"`
		Members    []string `json:"members"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &detail) != nil || detail.Players != 2 || strings.Join(detail.Members, ",") != "ann,bob" ||
		detail.Spectators != 0 || detail.Observers != 1 {
		t.Fatalf("inspect room: %d %s", status, body)
	}
	status, body = e.do("GET", "/v1/admin/players/bob", adminToken, "")
	if status != 200 || !strings.Contains(body, room) {
		t.Fatalf("player bob: %d %s", status, body)
	}

	for _, tc := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"close an unknown room", "POST", "/v1/admin/rooms/nope/close", "", 404},
		{"inspect an unknown room", "GET", "/v1/admin/rooms/nope", "", 404},
		{"bad body", "POST", "/v1/admin/players/bob/kick", "{nope", 400},
		{"unknown field", "POST", "/v1/admin/players/bob/kick", `{"why":"x"}`, 400},
		{"a second value after the body", "POST", "/v1/admin/players/bob/kick", `{"seconds":60} {"seconds":-1}`, 400},
		{"garbage after the body", "POST", "/v1/admin/players/bob/kick", `{"reason":"x"}nope`, 400},
		{"kick for negative seconds", "POST", "/v1/admin/players/bob/kick", `{"seconds":-1}`, 400},
		{"kick for over 100 years", "POST", "/v1/admin/players/bob/kick", `{"seconds":3153600001}`, 400},
		{"ban for negative seconds", "POST", "/v1/admin/players/bob/ban", `{"seconds":-1}`, 400},
		{"ban for longer than a duration holds", "POST", "/v1/admin/players/bob/ban", `{"seconds":10000000000}`, 400},
		{"unknown endpoint", "GET", "/v1/admin/nothing", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := e.do(tc.method, tc.path, adminToken, tc.body); status != tc.want {
				t.Fatalf("status %d, want %d (%s)", status, tc.want, body)
			}
		})
	}

	if status, body := e.do("POST", "/v1/admin/players/bob/kick", adminToken, `{"reason":"cheating"}`); status != 200 || !strings.Contains(body, `"online":true`) {
		t.Fatalf("kick: %d %s", status, body)
	}
	if code := bob.WaitClosed(); code != int(protocol.CloseKicked) {
		t.Fatalf("kicked client closed with %d, want %d", code, protocol.CloseKicked)
	}

	// A ban outlives reconnects, until it is lifted.
	if status, body := e.do("POST", "/v1/admin/players/cat/ban", adminToken, `{"reason":"abuse","seconds":-1}`); status != 400 {
		t.Fatalf("negative ban: %d %s", status, body)
	}
	if status, body := e.do("POST", "/v1/admin/players/cat/ban", adminToken, `{"reason":"abuse","seconds":3600}`); status != 200 || !strings.Contains(body, `"online":true`) {
		t.Fatalf("ban: %d %s", status, body)
	}
	now := time.Now()
	tok, err := e.auth.Issue(auth.Claims{UserID: "cat", Name: "cat", IssuedAt: now.Add(time.Second), ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, resp, err := testclient.Dial(t, e.wsURL, tok, testclient.Options{}); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("a banned user's handshake: %v %v", resp, err)
	}
	if status, body := e.do("POST", "/v1/admin/players/cat/unban", adminToken, ""); status != 200 {
		t.Fatalf("unban: %d %s", status, body)
	}
	if status, _ := e.do("POST", "/v1/admin/players/cat/unban", adminToken, ""); status != 404 {
		t.Fatalf("second unban: %d", status)
	}

	if status, body := e.do("POST", "/v1/admin/rooms/"+room+"/close", adminToken, ""); status != 200 {
		t.Fatalf("close: %d %s", status, body)
	}
	left := ann.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetLeft() != nil }).GetLeft()
	if left.RoomId != room || left.Reason != tickroomv1.LeaveReason_LEAVE_REASON_ROOM_CLOSED {
		t.Fatalf("left %v", left)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := e.do("GET", "/v1/admin/rooms", adminToken, "")
		var rooms []struct{ ID string }
		if err := json.Unmarshal([]byte(body), &rooms); err != nil {
			t.Fatal(err)
		}
		if len(rooms) == 1 && rooms[0].ID != room {
			break // cat's room is untouched
		}
		if time.Now().After(deadline) {
			t.Fatalf("rooms after close: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSanctionOfAnOfflineUser: a kick or a ban of a user connected
// nowhere (one who just dropped, say) still refuses the tokens it holds,
// so it is answered 200 with online false, logged as any other, and
// lifted by unban.
func TestSanctionOfAnOfflineUser(t *testing.T) {
	for _, tc := range []struct{ action, answer, logged string }{
		{"kick", `{"kicked":"zed","online":false}`, "admin: player kicked"},
		{"ban", `{"banned":"zed","online":false}`, "admin: player banned"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			e := start(t, adminToken)
			now := time.Now().Add(-time.Second)
			tok, err := e.auth.Issue(auth.Claims{UserID: "zed", Name: "zed", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			status, body := e.do("POST", "/v1/admin/players/zed/"+tc.action, adminToken, "")
			if status != 200 || strings.TrimSpace(body) != tc.answer {
				t.Fatalf("%s of offline zed: %d %s, want 200 %s", tc.action, status, strings.TrimSpace(body), tc.answer)
			}
			if !strings.Contains(e.logs.String(), tc.logged) {
				t.Fatalf("%s of offline zed not logged: %q", tc.action, e.logs.String())
			}
			if _, resp, err := testclient.Dial(t, e.wsURL, tok, testclient.Options{Label: "zed"}); err == nil || resp == nil || resp.StatusCode != 403 {
				t.Fatalf("zed's earlier token after the %s: %v %v, want HTTP 403", tc.action, resp, err)
			}
			if status, body := e.do("POST", "/v1/admin/players/zed/unban", adminToken, ""); status != 200 {
				t.Fatalf("unban: %d %s", status, body)
			}
		})
	}
}

func TestNotifyEndpoint(t *testing.T) {
	e := start(t, adminToken)
	ann, bob := e.connect("ann"), e.connect("bob")
	room := ann.join("")
	for _, tc := range []struct {
		name, body string
		want       int
		to         []*client
	}{
		{"one user", `{"user_id":"bob","kind":"reward","title":"hat","data":{"item":"hat"}}`, 200, []*client{bob}},
		{"one room", `{"room_id":"` + room + `","kind":"room","title":"closing"}`, 200, []*client{ann}},
		{"everyone", `{"everyone":true,"kind":"maintenance","title":"restart"}`, 200, []*client{ann, bob}},
		{"offline user", `{"user_id":"zed","title":"x"}`, 404, nil},
		{"unknown room", `{"room_id":"nope","title":"x"}`, 404, nil},
		{"no target", `{"title":"x"}`, 400, nil},
		{"not JSON", `title`, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do("POST", "/v1/admin/notify", adminToken, tc.body)
			if status != tc.want {
				t.Fatalf("status %d, want %d (%s)", status, tc.want, body)
			}
			if status != 200 {
				return
			}
			var res struct {
				ID        string `json:"id"`
				Delivered int    `json:"delivered"`
			}
			if err := json.Unmarshal([]byte(body), &res); err != nil || res.Delivered != len(tc.to) {
				t.Fatalf("result %s, want %d deliveries", body, len(tc.to))
			}
			for _, c := range tc.to {
				n := c.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetNotification() != nil }).GetNotification()
				if n.Id != res.ID {
					t.Fatalf("got notification %v, want id %s", n, res.ID)
				}
			}
		})
	}
}

// TestAdminBodyPastItsCap: a request body over 64 KiB is answered 413,
// as docs/limits.md says, not 400 as a malformed one: the operator learns
// the body is too large, not that it is bad JSON.
func TestAdminBodyPastItsCap(t *testing.T) {
	e := start(t, adminToken)
	room := e.connect("ann").join("")
	big := `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, path := range []string{"/v1/admin/notify", "/v1/admin/rooms/" + room + "/close", "/v1/admin/players/ann/kick"} {
		if status, body := e.do("POST", path, adminToken, big); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "64 KiB") {
			t.Fatalf("%s with a 70 KiB body: %d %s, want 413 naming the cap", path, status, body)
		}
	}
	if status, _ := e.do("GET", "/v1/admin/rooms/"+room, adminToken, ""); status != http.StatusOK {
		t.Fatalf("the room after refused closes: %d", status)
	}
}

func TestReadyzTurnsUnavailableOnShutdown(t *testing.T) {
	e := start(t, adminToken)
	if status, _ := e.do("GET", "/readyz", "", ""); status != 200 {
		t.Fatalf("readyz %d before shutdown", status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.do("GET", "/readyz", "", ""); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d after shutdown, want 503", status)
	}
	if status, _ := e.do("GET", "/healthz", "", ""); status != 200 {
		t.Fatalf("healthz %d after shutdown: the process is alive", status)
	}
}

func TestMonitorPage(t *testing.T) {
	e := start(t, adminToken)
	resp, err := http.Get(e.admin.URL + "/monitor/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("monitor page: %d %q csp %q", resp.StatusCode, resp.Header.Get("Content-Type"), csp)
	}
	for _, f := range []string{"monitor.js", "monitor.css"} {
		if status, body := e.do("GET", "/monitor/"+f, "", ""); status != 200 || len(body) == 0 {
			t.Fatalf("%s: %d", f, status)
		}
	}
	if status, _ := e.do("GET", "/", "", ""); status != 200 {
		t.Fatalf("/ does not lead to the monitor: %d", status)
	}
	if status, _ := e.do("GET", "/favicon.ico", "", ""); status != http.StatusNoContent {
		t.Fatalf("favicon: %d", status)
	}
	_, page := e.do("GET", "/monitor/", "", "")
	if strings.Contains(page, "<script>") || !strings.Contains(page, `<script src="monitor.js"`) {
		t.Fatal("the page must load its script from a file, never inline")
	}

	ann := e.connect("ann")
	room := ann.join("")
	status, body := e.do("GET", "/v1/admin/overview", adminToken, "")
	var o struct {
		Ready  bool             `json:"ready"`
		Gauges map[string]int64 `json:"gauges"`
		Rooms  []struct {
			ID string `json:"id"`
		} `json:"rooms"`
		Players []struct {
			UserID string `json:"user_id"`
		} `json:"players"`
		Games []struct {
			Game string `json:"game"`
		} `json:"games"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &o) != nil {
		t.Fatalf("overview: %d %s", status, body)
	}
	if !o.Ready || o.Gauges["sessions"] != 1 || len(o.Rooms) != 1 || o.Rooms[0].ID != room ||
		len(o.Players) != 1 || o.Players[0].UserID != "ann" || len(o.Games) != 1 || o.Games[0].Game != "count" {
		t.Fatalf("overview %s", body)
	}
}

// idleClient is a room observer that takes nothing (hub.Deliver hands
// frames only to sessions and sinks).
type idleClient struct{}

func (idleClient) Congested() bool { return false }

// TestAdminWrongMethodIsNamed: an admin endpoint asked with another
// method (curl's default GET on kick, a POST on the room list) was
// answered 404 "no such admin endpoint", as a typo is, so the operator
// looked for another path; it is 405 with Allow naming the method the
// endpoint takes, and a path no endpoint has is still 404.
func TestAdminWrongMethodIsNamed(t *testing.T) {
	e := start(t, adminToken)
	e.connect("ann").join("")
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/v1/admin/players/ann/kick", "POST"},
		{"GET", "/v1/admin/players/ann/unban", "POST"},
		{"PUT", "/v1/admin/notify", "POST"},
		{"POST", "/v1/admin/rooms", "GET, HEAD"},
		{"DELETE", "/v1/admin/players/ann", "GET, HEAD"},
	} {
		req, err := http.NewRequest(tc.method, e.admin.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow || !strings.Contains(eb.Error, tc.allow) {
			t.Errorf("%s %s: %d Allow %q %q, want 405 Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), eb.Error, tc.allow)
		}
	}
	if status, body := e.do("GET", "/v1/admin/no-such-thing", adminToken, ""); status != http.StatusNotFound {
		t.Fatalf("an unknown admin path: %d %s, want 404", status, body)
	}
	// Without the token, a wrong method tells nothing of the endpoints.
	if status, body := e.do("GET", "/v1/admin/players/ann/kick", "", ""); status != http.StatusUnauthorized {
		t.Fatalf("a wrong method without the token: %d %s, want 401", status, body)
	}
}

// TestUnbanOfALapsedKick: unban answered 200 {"unbanned"} for a user whose
// kick had lapsed and who had not come back since, as if a sanction were
// in force, where the README says it answers 404 when the user is neither
// banned nor kicked. The wait only lets the clock pass the kick's end.
func TestUnbanOfALapsedKick(t *testing.T) {
	e := start(t, adminToken)
	if status, body := e.do("POST", "/v1/admin/players/zed/kick", adminToken, `{"seconds":1}`); status != 200 {
		t.Fatalf("kick: %d %s", status, body)
	}
	time.Sleep(1500 * time.Millisecond)
	if status, body := e.do("POST", "/v1/admin/players/zed/unban", adminToken, ""); status != http.StatusNotFound {
		t.Fatalf("unban after the kick lapsed: %d %s, want 404", status, strings.TrimSpace(body))
	}
}
