package spectate_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/server/spectate"
)

// askPass sends GetWatchPass for room on c and returns the reply.
func askPass(c *testclient.Client, room string) *tickroomv1.ServerMessage {
	return c.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetWatchPass{GetWatchPass: &tickroomv1.GetWatchPass{RoomId: room}}})
}

// pass asks for a pass to room on c and fails the test without one.
func (e *env) pass(c *testclient.Client, room string) *tickroomv1.WatchPass {
	e.t.Helper()
	r := askPass(c, room)
	if r.GetWatchPass() == nil {
		e.t.Fatalf("GetWatchPass(%s): %v", room, r)
	}
	return r.GetWatchPass()
}

// A member's watch pass opens its private room's feed, and nothing else:
// not another room's feed, not a WebSocket session, not the feed's token
// parameter; a session token is no pass either.
func TestWatchPassOpensOnlyItsRoomsFeed(t *testing.T) {
	e := start(t, spectate.Config{})
	room, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	other, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name() + "-other"}})
	ann := e.member("ann", room.ID())
	e.member("bob", other.ID())
	before := time.Now()
	wp := e.pass(ann, room.ID())
	if wp.RoomId != room.ID() || wp.Pass == "" {
		t.Fatalf("WatchPass %+v", wp)
	}
	if exp := time.UnixMilli(wp.ExpiresAtMs); exp.Before(before.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour)) {
		t.Fatalf("expires at %v, want an hour from %v", exp, before)
	}
	q := "?pass=" + url.QueryEscape(wp.Pass)
	tests := []struct {
		name, room, query string
		want              int
	}{
		{"its room", room.ID(), q, http.StatusOK},
		{"another private room", other.ID(), q, http.StatusForbidden},
		{"as a session token", room.ID(), "?token=" + url.QueryEscape(wp.Pass), http.StatusUnauthorized},
		{"a member's session token as a pass", room.ID(), "?pass=" + e.token("ann"), http.StatusUnauthorized},
		{"a refused pass with a member's token", room.ID(), "?pass=x.eyJ9.c2ln&token=" + e.token("ann"), http.StatusUnauthorized},
		{"forged", room.ID(), "?pass=" + url.QueryEscape(wp.Pass[:len(wp.Pass)-2]+"AA"), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, code, body := e.open(tt.room, tt.query, nil)
			if code != tt.want {
				t.Fatalf("status %d (%s), want %d", code, strings.TrimSpace(body), tt.want)
			}
			if s != nil {
				if st, _ := s.state(); !st.Keyframe {
					t.Fatalf("first event %+v", st)
				}
			}
		})
	}
	// The WebSocket takes no pass as a login.
	c, resp, err := testclient.Dial(t, e.wsURL, url.QueryEscape(wp.Pass), testclient.Options{Label: "pass"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("upgrade with a watch pass: client %v, status %d, err %v; want 401", c != nil, code, err)
	}
}

// A member of a room with a password got in with it, and its pass opens
// the room's feed without it, private or listed (a rematch room, which the
// other player's page finds in the room list). A session token still needs
// the password, and a pass of another room is refused, whatever password
// comes with it.
func TestWatchPassOpensAPasswordRoom(t *testing.T) {
	e := start(t, spectate.Config{MaxStreamsPerIP: 64}) // the streams stay open
	elsewhere, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name() + "-other"}})
	other := "?pass=" + url.QueryEscape(e.pass(e.member("eve", elsewhere.ID()), elsewhere.ID()).Pass)
	for _, private := range []bool{true, false} {
		// The password alone opens a listed room's feed, not a private one's.
		kind, passwordAlone := "listed", http.StatusOK
		if private {
			kind, passwordAlone = "private", http.StatusUnauthorized
		}
		room, _ := e.room(game.RoomOptions{Private: private, Password: "pw", Options: map[string]string{"dial": t.Name() + "-" + kind}})
		user := "ann-" + kind
		q := "?pass=" + url.QueryEscape(e.pass(e.memberWith(user, room.ID(), "pw"), room.ID()).Pass)
		tests := []struct {
			name, query string
			want        int
		}{
			{"the member's pass", q, http.StatusOK},
			{"the member's pass and a wrong password", q + "&password=no", http.StatusOK},
			{"the member's token", "?token=" + e.token(user), http.StatusForbidden},
			{"the member's token and the password", "?token=" + e.token(user) + "&password=pw", http.StatusOK},
			{"another room's pass", other, http.StatusForbidden},
			{"another room's pass and the password", other + "&password=pw", http.StatusForbidden},
			{"the password", "?password=pw", passwordAlone},
		}
		for _, tt := range tests {
			s, code, body := e.open(room.ID(), tt.query, nil)
			t.Logf("%s room, %s: %d %s", kind, tt.name, code, strings.TrimSpace(body))
			if code != tt.want {
				t.Errorf("%s room, %s: %d, want %d", kind, tt.name, code, tt.want)
			}
			if s != nil {
				if st, _ := s.state(); !st.Keyframe {
					t.Errorf("%s room, %s: first event %+v", kind, tt.name, st)
				}
			}
		}
	}
}

// Any member asks for a pass, a spectator seat too; a user without a seat
// in the room gets ERROR_CODE_NOT_IN_ROOM.
func TestWatchPassNeedsASeat(t *testing.T) {
	e := start(t, spectate.Config{})
	room, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	e.member("ann", room.ID())
	sp, _, err := testclient.Dial(t, e.wsURL, e.token("sam"), testclient.Options{Label: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	sp.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	if r := sp.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room.ID(), Spectate: true}}}); r.GetJoined() == nil || !r.GetJoined().Spectator {
		t.Fatalf("spectate: %v", r)
	}
	if _, code, body := e.open(room.ID(), "?pass="+url.QueryEscape(e.pass(sp, room.ID()).Pass), nil); code != http.StatusOK {
		t.Fatalf("a spectator's pass: %d (%s)", code, body)
	}
	eve, _, err := testclient.Dial(t, e.wsURL, e.token("eve"), testclient.Options{Label: "eve"})
	if err != nil {
		t.Fatal(err)
	}
	eve.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	for _, id := range []string{room.ID(), "no-such-room"} {
		if r := askPass(eve, id); r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_NOT_IN_ROOM {
			t.Fatalf("a stranger's GetWatchPass(%s): %v, want ERROR_CODE_NOT_IN_ROOM", id, r)
		}
	}
	if r := askPass(eve, ""); r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_BAD_REQUEST {
		t.Fatalf("GetWatchPass without a room: %v, want ERROR_CODE_BAD_REQUEST", r)
	}
}

// A pass lasts WatchPassTTL by the hub's clock, and a kick of its member
// refuses it.
func TestWatchPassExpiresAndDiesWithAKick(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := startHub(t, spectate.Config{}, hub.Config{Now: now, WatchPassTTL: 10 * time.Minute})
	room, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	ann := e.member("ann", room.ID())
	bob := e.member("bob", room.ID())
	q := "?pass=" + url.QueryEscape(e.pass(ann, room.ID()).Pass)
	bq := "?pass=" + url.QueryEscape(e.pass(bob, room.ID()).Pass)
	skew.Store(int64(9 * time.Minute))
	if _, code, body := e.open(room.ID(), q, nil); code != http.StatusOK {
		t.Fatalf("9 minutes on: %d (%s), want 200", code, body)
	}
	skew.Store(int64(10*time.Minute + time.Second))
	if _, code, body := e.open(room.ID(), q, nil); code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Fatalf("10 minutes on: %d (%s), want 401 expired", code, body)
	}
	skew.Store(0)
	if err := e.hub.Kick("bob", "test"); err != nil {
		t.Fatal(err)
	}
	if _, code, body := e.open(room.ID(), bq, nil); code != http.StatusForbidden {
		t.Fatalf("a kicked member's pass: %d (%s), want 403", code, body)
	}
}

// A pass is checked when a stream opens: a stream it opened runs on after
// the pass expires and its member is kicked, and only a new open is
// refused.
func TestWatchPassStreamLastsWhileOpen(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := startHub(t, spectate.Config{}, hub.Config{Now: now, WatchPassTTL: 10 * time.Minute})
	room, dial := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	ann := e.member("ann", room.ID())
	q := "?pass=" + url.QueryEscape(e.pass(ann, room.ID()).Pass)
	dial.Store(1)
	s, code, body := e.open(room.ID(), q, nil)
	if code != http.StatusOK {
		t.Fatalf("open: %d (%s)", code, body)
	}
	s.stateWith(`"1"`)
	skew.Store(int64(time.Hour))
	if err := e.hub.Kick("ann", "test"); err != nil {
		t.Fatal(err)
	}
	if _, code, body := e.open(room.ID(), q, nil); code == http.StatusOK {
		t.Fatalf("a new open with the expired pass of a kicked member: %d (%s)", code, body)
	}
	dial.Store(7)
	s.stateWith(`"7"`)
}

// A connection gets WatchPassBurst passes at once, then one per
// 1/WatchPassRate; another connection is not held back by it.
func TestWatchPassesPerConnectionAreBounded(t *testing.T) {
	e := startHub(t, spectate.Config{}, hub.Config{WatchPassRate: 0.01, WatchPassBurst: 3})
	room, _ := e.room(game.RoomOptions{Private: true, Options: map[string]string{"dial": t.Name()}})
	ann := e.member("ann", room.ID())
	bob := e.member("bob", room.ID())
	for range 3 {
		e.pass(ann, room.ID())
	}
	r := askPass(ann, room.ID())
	if r.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED || r.GetError().GetRetryAfterMs() < 90_000 {
		t.Fatalf("a 4th pass: %v, want ERROR_CODE_RATE_LIMITED with retry_after_ms about 100 s", r)
	}
	e.pass(bob, room.ID())
}
