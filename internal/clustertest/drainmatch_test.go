package clustertest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestDrainSendsQuickMatchElsewhere: of two nodes, n1 runs an arena match
// (a game that cannot move), so its drain, started through its admin API,
// waits for that match. While n1 drains, a player connected to n1 cannot
// create a room there (ERROR_CODE_DRAINING), and its quick-match is
// redirected to n2, where it makes the room; a second player quick-matching
// through n2 is seated in that same room, and the two play in it. n1 keeps
// running its match meanwhile.
func TestDrainSendsQuickMatchElsewhere(t *testing.T) {
	t.Parallel()
	c := Start(t, Config{Nodes: 2})
	n1, n2 := c.Nodes()[0], c.Nodes()[1]

	// A running arena match keeps n1 busy.
	host := connect(t, n1, "host")
	arena := createGameRoom(t, host, "arena")
	waitUntil(t, 30*time.Second, "the arena match running on n1", func() bool {
		var rooms []struct {
			ID    string `json:"id"`
			Phase string `json:"phase"`
		}
		st, _ := adminJSON(t, n1, "GET", "/v1/admin/rooms?node="+n1.ID, "", &rooms)
		return st == http.StatusOK && len(rooms) == 1 && rooms[0].ID == arena && rooms[0].Phase == "running"
	})
	ann := connect(t, n1, "ann")
	bob := connect(t, n2, "bob")

	code, body := n1.AdminRequest(t, "POST", "/v1/admin/drain?timeout=50s", nil)
	var drain struct {
		Draining bool `json:"draining"`
		Playing  int  `json:"playing"`
	}
	if code != http.StatusAccepted || json.Unmarshal(body, &drain) != nil || !drain.Draining || drain.Playing != 1 {
		t.Fatalf("admin drain of n1: %d %s, want 202 with one match playing", code, body)
	}
	// Other nodes send n1 no rooms once its registration says draining.
	waitUntil(t, 30*time.Second, "n1 registered as draining", func() bool {
		nodes, err := c.Registered(t)
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.ID == n1.ID {
				return n.Draining
			}
		}
		return false
	})

	// A new room on n1 is refused with the typed code.
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "gomoku"}}}
	if r := ann.c.Request(create); errorCode(r) != tickroomv1.ErrorCode_ERROR_CODE_DRAINING {
		t.Fatalf("ann's CreateRoom on draining n1: %v, want ERROR_CODE_DRAINING", r)
	}

	// Ann's quick-match through n1 goes to n2, where the room is made.
	ra, hopsA := ann.follow(quickMatch("gomoku"))
	if len(hopsA) != 1 || hopsA[0].NodeId != n2.ID || hopsA[0].Url != n2.WSURL() || hopsA[0].RoomId != "" || hopsA[0].Reservation == "" {
		t.Fatalf("ann's redirects: %v, want one to %s for a new room", hopsA, n2.WSURL())
	}
	ja := joined(t, "ann", ra)
	if ja.Seat != 1 {
		t.Fatalf("ann joined %v, want seat 1", ja)
	}
	room := ja.RoomId

	// Bob, on n2, is matched into the same room without a redirect.
	rb, hopsB := bob.follow(quickMatch("gomoku"))
	if len(hopsB) != 0 {
		t.Fatalf("bob redirected away from n2: %v", hopsB)
	}
	if jb := joined(t, "bob", rb); jb.RoomId != room || jb.Seat != 2 {
		t.Fatalf("bob joined %v, want seat 2 of %s", jb, room)
	}

	// The operator sees the room on n2, with both players, and none but
	// the arena match on n1.
	var detail adminRoom
	st, h := adminJSON(t, n1, "GET", "/v1/admin/rooms/"+room, "", &detail)
	if st != http.StatusOK || detail.Node != n2.ID || h.Get("X-Tickroom-Node") != n2.ID || len(detail.Seats) != 2 {
		t.Fatalf("room %s: %d %+v (node header %q), want on %s with 2 seats", room, st, detail, h.Get("X-Tickroom-Node"), n2.ID)
	}
	var onN1 []adminRoom
	if st, _ := adminJSON(t, n2, "GET", "/v1/admin/rooms?node="+n1.ID, "", &onN1); st != http.StatusOK || len(onN1) != 1 || onN1[0].ID != arena {
		t.Fatalf("rooms on n1: %d %+v, want only %s", st, onN1, arena)
	}

	// They play there, while n1 still runs its match.
	ann.move(room, 1, 7, 7)
	bob.move(room, 2, 8, 8)
	waitUntil(t, 5*time.Second, "both see two stones", func() bool { return ann.stones() == 2 && bob.stones() == 2 })
	if !n1.Running() {
		t.Fatalf("n1 exited while its arena match ran:\n%s", n1.Log())
	}
}
