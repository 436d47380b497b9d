package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/rawbody"
)

// TestSingleNodeListsItself: without a cluster, /v1/admin/nodes and the
// overview list this node alone, with its load, and every room and
// player names it as its node.
func TestSingleNodeListsItself(t *testing.T) {
	e := start(t, adminToken)
	ann := e.connect("ann")
	room := ann.join("")
	e.connect("bob")

	status, body := e.do("GET", "/v1/admin/nodes", adminToken, "")
	var nodes []struct {
		ID            string    `json:"id"`
		Conns         int       `json:"conns"`
		Sessions      int       `json:"sessions"`
		Rooms         int       `json:"rooms"`
		Draining      bool      `json:"draining"`
		Self          bool      `json:"self"`
		LastHeartbeat time.Time `json:"last_heartbeat"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &nodes) != nil || len(nodes) != 1 {
		t.Fatalf("nodes: %d %s", status, body)
	}
	if n := nodes[0]; n.ID != "local" || !n.Self || n.Conns != 2 || n.Sessions != 2 || n.Rooms != 1 || n.Draining || time.Since(n.LastHeartbeat) > time.Minute {
		t.Fatalf("the single node: %+v", n)
	}

	status, body = e.do("GET", "/v1/admin/overview", adminToken, "")
	var o struct {
		Node  string            `json:"node"`
		Nodes []json.RawMessage `json:"nodes"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &o) != nil || o.Node != "local" || len(o.Nodes) != 1 {
		t.Fatalf("overview: %d %s", status, body)
	}

	status, body = e.do("GET", "/v1/admin/rooms", adminToken, "")
	var rooms []struct{ ID, Node string }
	if status != 200 || json.Unmarshal([]byte(body), &rooms) != nil || len(rooms) != 1 || rooms[0].ID != room || rooms[0].Node != "local" {
		t.Fatalf("rooms: %d %s", status, body)
	}
	status, body = e.do("GET", "/v1/admin/players?q=bob", adminToken, "")
	var players []struct {
		UserID string `json:"user_id"`
		Node   string `json:"node"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &players) != nil || len(players) != 1 || players[0].UserID != "bob" || players[0].Node != "local" {
		t.Fatalf("players: %d %s", status, body)
	}
	// ?node= naming this node is this node's list.
	if status, body := e.do("GET", "/v1/admin/rooms?node=local", adminToken, ""); status != 200 || json.Unmarshal([]byte(body), &rooms) != nil || len(rooms) != 1 {
		t.Fatalf("rooms of node local: %d %s", status, body)
	}
	// ?node= naming no node is refused, not answered with this node's
	// list as if it were that node's.
	for _, path := range []string{"/v1/admin/rooms?node=n9", "/v1/admin/players?node=n9"} {
		if status, body := e.do("GET", path, adminToken, ""); status != 404 || !strings.Contains(body, "no such node") {
			t.Fatalf("%s: %d %s, want 404 no such node", path, status, body)
		}
	}
}

// TestServePeerAnswersAdminRequestsOnly: another node's request runs
// without the token, but only on the admin API: pprof and the other
// paths are refused, and a request too large a list is refused as for an
// operator.
func TestServePeerAnswersAdminRequestsOnly(t *testing.T) {
	e := start(t, adminToken)
	e.connect("ann").join("")
	h := e.admin.Config.Handler.(interface {
		ServePeer(context.Context, []byte) []byte
	})
	ask := func(method, path string) (int, string, string) {
		t.Helper()
		req, _ := json.Marshal(map[string]any{"m": method, "p": path, "w": true})
		var a struct {
			S int    `json:"s"`
			T string `json:"t"`
			B []byte `json:"b"`
		}
		b, err := rawbody.Decode(h.ServePeer(context.Background(), req), &a)
		if err != nil {
			t.Fatal(err)
		}
		return a.S, a.T, string(b)
	}
	if status, total, body := ask("GET", "/v1/admin/rooms?offset=0&limit=2000"); status != http.StatusOK || total != "1" {
		t.Fatalf("a peer's rooms listing: %d total %q %s", status, total, body)
	}
	if status, _, body := ask("GET", "/v1/admin/rooms?limit=2001"); status != http.StatusBadRequest {
		t.Fatalf("a peer's listing past its cap: %d %s", status, body)
	}
	for _, path := range []string{"/debug/pprof/cmdline", "/metrics", "/monitor/", "garbage"} {
		if status, _, body := ask("GET", path); status != http.StatusBadRequest {
			t.Fatalf("peer request for %s: %d %s", path, status, body)
		}
	}
	// A request from a node of an older version (no "w") is answered in
	// the form it reads: JSON alone, the body base64 inside.
	req, _ := json.Marshal(map[string]any{"m": "GET", "p": "/v1/admin/rooms"})
	var older struct {
		S int    `json:"s"`
		B []byte `json:"b"`
	}
	if err := json.Unmarshal(h.ServePeer(context.Background(), req), &older); err != nil || older.S != http.StatusOK || !strings.HasPrefix(string(older.B), "[{") {
		t.Fatalf("an older node's request: %v %+v", err, older)
	}
	// An operator's page is capped as before.
	if status, body := e.do("GET", "/v1/admin/rooms?limit=501", adminToken, ""); status != http.StatusBadRequest {
		t.Fatalf("limit 501: %d %s", status, body)
	}
}

// TestServePeerCapsLargeAnswers: a peer's answer over 1 MiB (here the
// listing of 250 rooms with the largest metadata a client may set) is
// refused with 502 naming the cap rather than sent over pub/sub, where
// several such answers at once would overflow Redis's output buffer of
// the asking node; a smaller page of the same rooms is answered.
func TestServePeerCapsLargeAnswers(t *testing.T) {
	e := start(t, adminToken)
	meta := map[string]string{}
	for i := 0; i < 16; i++ {
		meta[fmt.Sprintf("%064d", i)] = strings.Repeat("v", 256)
	}
	for i := 0; i < 250; i++ {
		if _, err := e.hub.Runtime().CreateRoom(game.RoomOptions{Game: "count", Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	h := e.admin.Config.Handler.(interface {
		ServePeer(context.Context, []byte) []byte
	})
	ask := func(path string) (int, []byte) {
		t.Helper()
		req, _ := json.Marshal(map[string]any{"m": "GET", "p": path, "w": true})
		var a struct {
			S int    `json:"s"`
			B []byte `json:"b"`
		}
		answer := h.ServePeer(context.Background(), req)
		b, err := rawbody.Decode(answer, &a)
		if err != nil {
			t.Fatal(err)
		}
		// The body goes as its own bytes, not base64 in the JSON.
		if len(answer) > len(b)+64 {
			t.Fatalf("%d bytes of answer for a body of %d", len(answer), len(b))
		}
		return a.S, b
	}
	if status, body := ask("/v1/admin/rooms?offset=0&limit=2000"); status != http.StatusBadGateway || !strings.Contains(string(body), "1 MiB") {
		t.Fatalf("a 1.4 MB answer: %d, %.200s", status, body)
	}
	status, body := ask("/v1/admin/rooms?offset=0&limit=100")
	var rooms []json.RawMessage
	if status != http.StatusOK || json.Unmarshal(body, &rooms) != nil || len(rooms) != 100 {
		t.Fatalf("a page of 100 rooms: %d, %d bytes", status, len(body))
	}
}
