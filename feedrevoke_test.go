package tickroom_test

import (
	"bufio"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// feedEvent is one Server-Sent Event of a spectator feed.
type feedEvent struct{ name, data string }

// feed is an open spectator feed; events closes when the stream ends.
type feed struct {
	t      *testing.T
	events chan feedEvent
}

// openFeed opens room's spectator feed on srv with a session token (none
// when ""), and fails the test unless it streams.
func openFeed(t *testing.T, srv *tickroom.Server, room, token string) *feed {
	t.Helper()
	url := "http://" + srv.HTTPAddr().String() + "/v1/rooms/" + room + "/events"
	if token != "" {
		url += "?token=" + token
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed of room %s: status %d, want 200", room, resp.StatusCode)
	}
	f := &feed{t: t, events: make(chan feedEvent, 256)}
	go func() {
		defer close(f.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev feedEvent
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if ev.name != "" {
					f.events <- ev
				}
				ev = feedEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return f
}

// next returns the next event named one of names, skipping others; ok is
// false when the stream ended first.
func (f *feed) next(names ...string) (ev feedEvent, ok bool) {
	f.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-f.events:
			if !ok {
				return feedEvent{}, false
			}
			for _, n := range names {
				if ev.name == n {
					return ev, true
				}
			}
		case <-timeout:
			f.t.Fatalf("no %v event, and the stream is still open", names)
		}
	}
}

// left waits for the room event of the leave of the player named name,
// and fails the test if the stream ends first.
func (f *feed) left(name, what string) {
	f.t.Helper()
	for {
		ev, ok := f.next("room", "end")
		if !ok || ev.name == "end" {
			f.t.Fatalf("%s ended (%v) before the room event of %s's leave", what, ev, name)
		}
		if strings.Contains(ev.data, "PLAYER_LEFT") && strings.Contains(ev.data, `"name":"`+name+`"`) {
			return
		}
	}
}

// ended waits for the feed's "end" event and then the end of its stream,
// and returns the event's data.
func (f *feed) ended(what string) string {
	f.t.Helper()
	ev, ok := f.next("end")
	if !ok {
		f.t.Fatalf("%s: the stream ended without an end event", what)
	}
	for range f.events { // the stream then closes
	}
	return ev.data
}

// privateRoomOfTwo has owner create a private race room and joiner join
// it, and returns its id: the room stays open while one of them is in it.
func privateRoomOfTwo(t *testing.T, owner, joiner *testclient.Client) string {
	t.Helper()
	j := owner.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race", Private: true}}}).GetJoined()
	if j == nil {
		t.Fatal("create refused")
	}
	if r := joiner.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: j.RoomId}}}); r.GetJoined() == nil {
		t.Fatalf("join of the private room: %v", r)
	}
	return j.RoomId
}

// dialToken connects to srv's WebSocket with token, and returns the
// client and its user id.
func dialToken(t *testing.T, srv *tickroom.Server, token, label string) (*testclient.Client, string) {
	t.Helper()
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	return c, c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId()
}

// TestKickEndsTheFeedsOfTheKickedToken: a private room's feed opened with
// a member's session token ends, with an end event naming the kick (or
// the ban), when an operator kicks (or bans) the member, as its WebSocket
// connection is closed; the feed of the other member's token goes on.
// Before, the token was checked only when the feed opened, and a feed
// opened with a leaked token streamed on after the kick that was there to
// cut it off.
func TestKickEndsTheFeedsOfTheKickedToken(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, AdminAddr: "127.0.0.1:0"})
	for _, c := range []struct{ action, reason string }{{"kick", "kicked"}, {"ban", "banned"}} {
		t.Run(c.action, func(t *testing.T) {
			annTok, bobTok := login(t, srv, "ann"), login(t, srv, "bob")
			ann, id := dialToken(t, srv, annTok, "ann")
			bob, _ := dialToken(t, srv, bobTok, "bob")
			room := privateRoomOfTwo(t, ann, bob)
			annFeed, bobFeed := openFeed(t, srv, room, annTok), openFeed(t, srv, room, bobTok)
			annFeed.next("state")
			bobFeed.next("state")
			if st := adminPost(t, srv, "/v1/admin/players/"+id+"/"+c.action, `{"reason":"leaked link"}`); st != 200 {
				t.Fatalf("%s: %d", c.action, st)
			}
			if data := annFeed.ended("the feed of the " + c.reason + " member's token"); !strings.Contains(data, `"reason":"`+c.reason+`"`) {
				t.Fatalf("end event of the feed of the %s member's token: %s, want reason %q", c.reason, data, c.reason)
			}
			// ann's seat is given up: bob's feed shows her leave, open.
			bobFeed.left("ann", "the other member's feed")
		})
	}
}

// TestKickEndsAPublicRoomsFeedOpenedWithTheToken: a public room's feed
// takes no token, but one opened with a member's valid token ends with
// the token too when the member is kicked, as its connections do; an
// anonymous feed of the room goes on.
func TestKickEndsAPublicRoomsFeedOpenedWithTheToken(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, AdminAddr: "127.0.0.1:0"})
	annTok := login(t, srv, "ann")
	_, id := dialToken(t, srv, annTok, "ann")
	bob, carol := dial(t, srv, "bob"), dial(t, srv, "carol")
	j := bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}).GetJoined()
	if j == nil {
		t.Fatal("create refused")
	}
	withToken, anonymous := openFeed(t, srv, j.RoomId, annTok), openFeed(t, srv, j.RoomId, "")
	withToken.next("state")
	anonymous.next("state")
	if st := adminPost(t, srv, "/v1/admin/players/"+id+"/kick", `{}`); st != 200 {
		t.Fatalf("kick: %d", st)
	}
	if data := withToken.ended("a public room's feed opened with the kicked member's token"); !strings.Contains(data, `"reason":"kicked"`) {
		t.Fatalf("end event: %s, want reason kicked", data)
	}
	if r := carol.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: j.RoomId}}}); r.GetJoined() == nil {
		t.Fatalf("carol's join: %v", r)
	}
	if r := carol.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: j.RoomId}}}); r.GetLeft() == nil {
		t.Fatalf("carol's leave: %v", r)
	}
	anonymous.left("carol", "the anonymous feed")
}

// TestPasswordChangeEndsTheFeedsOfTheOldTokens: a password change ends
// the private room feeds opened with the account's tokens from before it,
// with an end event "signed_out", as it closes their connections; a feed
// of the claimer's own token (its issue second's) stays open, as its
// connection does.
func TestPasswordChangeEndsTheFeedsOfTheOldTokens(t *testing.T) {
	t.Parallel()
	srv, a, _, _ := accountServer(t, t.TempDir())
	_, guest := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	if st, m := a.post("/v1/account/claim", str(guest, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(guest, "device_secret")}); st != 200 {
		t.Fatalf("claim: %d %v", st, m)
	}
	_, phone := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	laptop := laterLogin(a, phone, map[string]string{"name": "Ada", "password": "correct horse"})
	ada, _ := dialToken(t, srv, str(phone, "token"), "phone")
	bob, _ := dialToken(t, srv, login(t, srv, "bob"), "bob")
	room := privateRoomOfTwo(t, ada, bob)
	phoneFeed, laptopFeed := openFeed(t, srv, room, str(phone, "token")), openFeed(t, srv, room, str(laptop, "token"))
	phoneFeed.next("state")
	laptopFeed.next("state")
	if st, m := a.post("/v1/account/claim", str(laptop, "token"), map[string]string{"name": "Ada", "password": "battery staple", "current_password": "correct horse"}); st != 200 {
		t.Fatalf("password change: %d %v", st, m)
	}
	if data := phoneFeed.ended("the feed of a token from before the password change"); !strings.Contains(data, `"reason":"signed_out"`) {
		t.Fatalf("end event of the feed of a token from before the password change: %s, want reason signed_out", data)
	}
	// The phone's connection is closed and its seat held: bob's leave
	// after it shows in the claimer's feed, open.
	ada.WaitClosed()
	if r := bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: room}}}); r.GetLeft() == nil {
		t.Fatalf("bob's leave: %v", r)
	}
	laptopFeed.left("bob", "the feed of the claimer's own token")
}

// TestKickOnAnotherNodeEndsTheFeed: in a cluster, a kick made through one
// node's admin API ends the feeds opened with the kicked token on the
// others when the revocation reaches them over the bus, and so does a
// password change made through another node.
func TestKickOnAnotherNodeEndsTheFeed(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	pg := pgtest.Start(t)
	opts := tickroom.Options{
		Games: []game.Definition{raceDefinition()}, Redis: rdb.URL(), DatabaseURL: pg.NewDatabase(t),
		TokenKey: []byte(strings.Repeat("k", 32)), GuestLoginRate: math.Inf(1), AdminAddr: "127.0.0.1:0",
	}
	a, _, _ := start(t, opts)
	b, _, _ := start(t, opts)
	t.Run("kick", func(t *testing.T) {
		annTok := login(t, b, "ann")
		ann, id := dialToken(t, b, annTok, "ann")
		room := privateRoomOfTwo(t, ann, dial(t, b, "bob"))
		f := openFeed(t, b, room, annTok)
		f.next("state")
		if st := adminPost(t, a, "/v1/admin/players/"+id+"/kick", `{}`); st != 200 {
			t.Fatalf("kick through node a: %d", st)
		}
		if data := f.ended("the feed on node b of a token kicked through node a"); !strings.Contains(data, `"reason":"kicked"`) {
			t.Fatalf("end event: %s, want reason kicked", data)
		}
	})
	t.Run("password change", func(t *testing.T) {
		apiA := api{t: t, base: "http://" + a.HTTPAddr().String()}
		_, guest := apiA.post("/v1/login", "", map[string]string{"name": "guest1"})
		if st, m := apiA.post("/v1/account/claim", str(guest, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(guest, "device_secret")}); st != 200 {
			t.Fatalf("claim: %d %v", st, m)
		}
		_, phone := apiA.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
		ada, _ := dialToken(t, b, str(phone, "token"), "phone")
		room := privateRoomOfTwo(t, ada, dial(t, b, "bob"))
		f := openFeed(t, b, room, str(phone, "token"))
		f.next("state")
		laptop := laterLogin(apiA, phone, map[string]string{"name": "Ada", "password": "correct horse"})
		if st, m := apiA.post("/v1/account/claim", str(laptop, "token"), map[string]string{"name": "Ada", "password": "battery staple", "current_password": "correct horse"}); st != 200 {
			t.Fatalf("password change through node a: %d %v", st, m)
		}
		if data := f.ended("the feed on node b of a token a password change through node a ended"); !strings.Contains(data, `"reason":"signed_out"`) {
			t.Fatalf("end event: %s, want reason signed_out", data)
		}
	})
}

// TestKickOfAUserWithOnlyAFeedSaysSo: a kick (or a ban) through the admin
// API of a user whose only presence is a spectator feed opened with its
// token ends that feed, and answers online true: the kick cut something
// off. It answered online false, as for a user with nothing open.
func TestKickOfAUserWithOnlyAFeedSaysSo(t *testing.T) {
	t.Parallel()
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, AdminAddr: "127.0.0.1:0"})
	users := api{t: t, base: "http://" + srv.HTTPAddr().String()}
	admin := api{t: t, base: "http://" + srv.AdminAddr().String()}
	bob := dial(t, srv, "bob")
	j := bob.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}).GetJoined()
	if j == nil {
		t.Fatal("create refused")
	}
	for _, c := range []struct{ action, reason string }{{"kick", "kicked"}, {"ban", "banned"}} {
		t.Run(c.action, func(t *testing.T) {
			_, ann := users.post("/v1/login", "", map[string]string{"name": "ann"})
			f := openFeed(t, srv, j.RoomId, str(ann, "token"))
			f.next("state")
			st, m := admin.post("/v1/admin/players/"+str(ann, "user_id")+"/"+c.action, srv.AdminToken(), map[string]string{})
			if data := f.ended("the feed of the " + c.reason + " user's token"); !strings.Contains(data, `"reason":"`+c.reason+`"`) {
				t.Fatalf("end event: %s, want reason %s", data, c.reason)
			}
			if st != 200 || m["online"] != true {
				t.Fatalf("%s of a user whose token had a feed open: %d %v, want 200 and online true", c.action, st, m)
			}
		})
	}
}
