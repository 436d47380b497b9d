package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// stateBody is GET /v1/admin/rooms/{id}/state as a client reads it.
type stateBody struct {
	Room         string         `json:"room"`
	Game         string         `json:"game"`
	Tick         uint64         `json:"tick"`
	Globals      map[string]any `json:"globals"`
	GlobalsType  string         `json:"globals_type"`
	GlobalsBytes []byte         `json:"globals_bytes"`
	EntityCount  int            `json:"entity_count"`
	Entities     []struct {
		ID    string         `json:"id"`
		Type  string         `json:"type"`
		Value map[string]any `json:"value"`
		Bytes []byte         `json:"bytes"`
	} `json:"entities"`
}

func TestRoomStateEndpoint(t *testing.T) {
	e := start(t, adminToken)
	ann, bob := e.connect("ann"), e.connect("bob")
	arenaRoom := ann.create("arena")
	countRoom := bob.create("count")
	bob.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Input{Input: &tickroomv1.Input{RoomId: countRoom, Seq: 1, Data: []byte("+")}}})

	get := func(room string) stateBody {
		t.Helper()
		status, body := e.do("GET", "/v1/admin/rooms/"+room+"/state", adminToken, "")
		var s stateBody
		if status != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil {
			t.Fatalf("state of %s: %d %s", room, status, body)
		}
		return s
	}

	// The arena declares its schema: entities and globals come decoded,
	// zero fields included.
	s := get(arenaRoom)
	if s.Room != arenaRoom || s.Game != "arena" || s.Tick == 0 || s.EntityCount != len(s.Entities) {
		t.Fatalf("arena state header: %+v", s)
	}
	if s.GlobalsType != "tickroom.arena.v1.Globals" || s.Globals["width"] == nil || s.Globals["remaining_ticks"] == nil || s.GlobalsBytes != nil {
		t.Fatalf("arena globals: %s %v %v", s.GlobalsType, s.Globals, s.GlobalsBytes)
	}
	kinds := map[string]int{}
	var player map[string]any
	for _, ent := range s.Entities {
		kinds[ent.Type]++
		if ent.Bytes != nil {
			t.Fatalf("arena entity %s not decoded: %v", ent.ID, ent.Bytes)
		}
		if ent.ID == "1" {
			player = ent.Value
		}
	}
	if kinds["tickroom.arena.v1.Player"] != 1 || kinds["tickroom.arena.v1.Wall"] == 0 {
		t.Fatalf("arena entity types: %v", kinds)
	}
	if player["name"] != "ann" || player["seat"] != float64(1) {
		t.Fatalf("ann's entity: %v", player)
	}

	// The count game declares none: its entity comes as bytes, once the
	// input is applied.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s = get(countRoom)
		if len(s.Entities) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("count room never showed bob's entity: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ent := s.Entities[0]; ent.ID != "1" || ent.Type != "" || ent.Value != nil || string(ent.Bytes) != "1" {
		t.Fatalf("count entity: %+v", ent)
	}
	if s.Globals != nil || s.GlobalsBytes != nil {
		t.Fatalf("count room has no globals, got %v %v", s.Globals, s.GlobalsBytes)
	}

	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"unknown room", "/v1/admin/rooms/nope/state", adminToken, http.StatusNotFound},
		{"no token", "/v1/admin/rooms/" + arenaRoom + "/state", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := e.do("GET", tc.path, tc.token, ""); status != tc.want {
				t.Fatalf("status %d, want %d (%s)", status, tc.want, body)
			}
		})
	}
	// A closed room's state is gone.
	if status, body := e.do("POST", "/v1/admin/rooms/"+countRoom+"/close", adminToken, ""); status != 200 {
		t.Fatalf("close: %d %s", status, body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		status, _ := e.do("GET", "/v1/admin/rooms/"+countRoom+"/state", adminToken, "")
		if status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closed room's state: %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listed fetches a list endpoint and returns the ids (or user ids) it
// answered and its X-Total-Count.
func listed(t *testing.T, e *env, path string) ([]string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.admin.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var items []struct {
		ID     string `json:"id"`
		UserID string `json:"user_id"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&items) != nil {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID+it.UserID)
	}
	return out, resp.Header.Get("X-Total-Count")
}

// TestPlayerSearchFoldsCase: a search matches a name as names are
// compared (Unicode case folding, then NFKC, store.NameKey), so an
// operator who types the name in capitals finds "Straße", "σίσυφος" and
// "Ταΰγετος" (whose ΰ folds to υ and two combining marks, and Ϋ́ to ϋ and
// one), and one who types a combining accent or full-width letters finds
// the name as it is stored. A name NFKC gives a case to is found in any
// case of that ("acmetm" finds "Acme™", as "™" is "TM"), and Cherokee in
// either case, which golang.org/x/text folds to the other case.
func TestPlayerSearchFoldsCase(t *testing.T) {
	e := start(t, adminToken)
	for _, u := range []string{"Straße", "σίσυφος", "ann", "Chloé", "Ταΰγετος", "Acme™", "ᏣᎳᎩ"} {
		e.connect(u)
	}
	for q, want := range map[string]string{
		"STRASSE": "Straße", "strasse": "Straße", "ΣΊΣΥΦΟΣ": "σίσυφος",
		"CHLOE\u0301":         "Chloé",    // typed with a combining accent
		"ＡＮＮ":                 "ann",      // full-width letters
		"ΤΑ\u03ab\u0301ΓΕΤΟΣ": "Ταΰγετος", // Ϋ and an acute: Greek has no capital ΰ
		"acmetm":              "Acme™",    // ™ is TM
		"ACME™":               "Acme™",
		"ꮳꮃꭹ":                 "ᏣᎳᎩ", // Cherokee in small letters
	} {
		if got, total := listed(t, e, "/v1/admin/players?q="+url.QueryEscape(q)); total != "1" || len(got) != 1 || got[0] != want {
			t.Errorf("search %q: %v (total %s), want %s", q, got, total, want)
		}
	}
}

func TestListSearchAndPaging(t *testing.T) {
	e := start(t, adminToken)
	users := []string{"ann", "bob", "Cat", "dan", "eve", "fay", "gus"}
	rooms := map[string]string{} // user → room
	for _, u := range users {
		c := e.connect(u)
		if u == "gus" {
			rooms[u] = c.create("arena")
		} else if u != "eve" {
			rooms[u] = c.join("")
		}
	}

	for _, tc := range []struct {
		name, path string
		want       []string
		total      string
	}{
		// Players come sorted by id, byte order.
		{"every player", "/v1/admin/players", []string{"Cat", "ann", "bob", "dan", "eve", "fay", "gus"}, "7"},
		{"search, any case", "/v1/admin/players?q=A", []string{"Cat", "ann", "dan", "fay"}, "4"},
		{"a page of a search", "/v1/admin/players?q=a&offset=1&limit=2", []string{"ann", "dan"}, "4"},
		{"the last page", "/v1/admin/players?offset=5&limit=5", []string{"fay", "gus"}, "7"},
		{"past the end", "/v1/admin/players?offset=70", []string{}, "7"},
		{"no match", "/v1/admin/players?q=zed", []string{}, "0"},
		{"rooms of a game", "/v1/admin/rooms?q=ARENA", []string{rooms["gus"]}, "1"},
		{"rooms by id", "/v1/admin/rooms?q=" + rooms["bob"], []string{rooms["bob"]}, "1"},
		{"a page of rooms", "/v1/admin/rooms?limit=4", nil, "6"},
		{"the rest of the rooms", "/v1/admin/rooms?offset=4&limit=4", nil, "6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total := listed(t, e, tc.path)
			if total != tc.total {
				t.Fatalf("X-Total-Count %q, want %q (%v)", total, tc.total, got)
			}
			if tc.want != nil && strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The two pages of rooms hold every room once, in id order.
	first, _ := listed(t, e, "/v1/admin/rooms?limit=4")
	rest, _ := listed(t, e, "/v1/admin/rooms?offset=4&limit=4")
	all := append(first, rest...)
	if len(first) != 4 || len(all) != len(rooms) {
		t.Fatalf("pages %v + %v for %d rooms", first, rest, len(rooms))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1] >= all[i] {
			t.Fatalf("rooms not in id order: %v", all)
		}
	}

	for _, tc := range []struct{ query, wantErr string }{
		{"limit=0", "limit must be"},
		{"limit=501", "limit must be a whole number from 1 to 500"},
		{"limit=ten", "limit must be"},
		{"offset=-1", "offset must be"},
		{"q=" + strings.Repeat("x", 101), "q is longer than 100 bytes"},
	} {
		for _, path := range []string{"/v1/admin/players", "/v1/admin/rooms"} {
			t.Run(fmt.Sprintf("%s?%s", path, tc.query[:min(len(tc.query), 12)]), func(t *testing.T) {
				status, body := e.do("GET", path+"?"+tc.query, adminToken, "")
				if status != http.StatusBadRequest || !strings.Contains(body, tc.wantErr) {
					t.Fatalf("status %d body %s, want 400 with %q", status, body, tc.wantErr)
				}
			})
		}
	}
}

// TestPlayerPagesOfAFullerNode: with more users online than a page holds,
// the player list gives the default page of 50 in id order and counts
// every one, a search pages its matches, and the overview lists each
// player with its room and connection.
func TestPlayerPagesOfAFullerNode(t *testing.T) {
	e := start(t, adminToken)
	const users = 55
	var ids []string
	for i := range users {
		id := fmt.Sprintf("p%02d", i)
		e.connect(id).join("")
		ids = append(ids, id)
	}
	if got, total := listed(t, e, "/v1/admin/players"); total != "55" || strings.Join(got, ",") != strings.Join(ids[:50], ",") {
		t.Fatalf("the default page: %v (total %s), want %v (55)", got, total, ids[:50])
	}
	if got, total := listed(t, e, "/v1/admin/players?q=P4&offset=8"); total != "10" || strings.Join(got, ",") != "p48,p49" {
		t.Fatalf("a search's last page: %v (total %s), want p48,p49 (10)", got, total)
	}
	status, body := e.do("GET", "/v1/admin/overview", adminToken, "")
	var o struct {
		Players []struct {
			UserID      string   `json:"user_id"`
			Rooms       []string `json:"rooms"`
			Connections int      `json:"connections"`
		} `json:"players"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &o) != nil || len(o.Players) != users {
		t.Fatalf("overview: %d, %d players, want %d", status, len(o.Players), users)
	}
	for i, p := range o.Players {
		if p.UserID != ids[i] || len(p.Rooms) != 1 || p.Connections != 1 {
			t.Fatalf("overview player %d: %+v, want %s in one room on one connection", i, p, ids[i])
		}
	}
}
