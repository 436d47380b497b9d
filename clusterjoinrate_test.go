package tickroom_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestJoinChurnIsRateLimitedOnANodeOfACluster: on a node of a cluster a
// join runs off the event loop, through the cluster directory, and was
// no more bounded than on one node: a guest cycling JoinRoom and
// LeaveRoom of a room of its node had every other member sent two room
// events a cycle. The node's bucket of the user's joins now refuses it
// there too, with ERROR_CODE_RATE_LIMITED and a retry hint, before a
// seat is asked of Redis (docs/limits.md).
func TestJoinChurnIsRateLimitedOnANodeOfACluster(t *testing.T) {
	t.Parallel()
	// A room of four: a seat given up is free again at the room's next
	// tick only, and the guest's next join may come before it.
	def := raceDefinition()
	def.Name, def.MaxPlayers = "race4", 4
	a, _, _ := twoNodes(t, def)
	host := dial(t, a, "host")
	room := host.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race4"}}}).GetJoined().GetRoomId()
	if room == "" {
		t.Fatal("the host's room was not made")
	}
	guest := dial(t, a, "guest")
	join := joinRoom(room)
	leave := leaveRoom(room)
	const n = 64
	served, refused := 0, 0
	for range n {
		m := guest.Request(join)
		switch {
		case m.GetJoined() != nil:
			served++
			if l := guest.Request(leave); l.GetLeft() == nil {
				t.Fatalf("LeaveRoom after a join: %v", l)
			}
		case m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED && m.GetError().RetryAfterMs > 0:
			refused++
		default:
			t.Fatalf("JoinRoom of the host's room: %v", m)
		}
	}
	if refused == 0 {
		t.Fatalf("%d JoinRoom and LeaveRoom cycles of one guest on a node of a cluster, none refused", n)
	}
	if served == 0 {
		t.Fatal("no join served: the bucket's burst should let a few through")
	}
}

// twoNodesOfSlowJoins is twoNodes whose nodes give a user a join token
// every 1,000 s: a test that spends the burst, then looks for what a
// join refused RATE_LIMITED does or for the burst untouched, must not
// have a token come back while it runs (the default rate returns one
// every 2 s, less than a slow run of such a test takes).
func twoNodesOfSlowJoins(t *testing.T, defs ...game.Definition) (a, b *tickroom.Server, rdb *redistest.Server) {
	t.Helper()
	rdb = redistest.Start(t)
	opts := tickroom.WithJoinRate(tickroom.Options{Games: defs, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32))}, 0.001)
	a, _, _ = start(t, opts)
	b, _, _ = start(t, opts)
	return a, b, rdb
}

// spendJoinsOn has the guest of token spend its joins on srv, spectating
// roomID and leaving it until a JoinRoom is refused RATE_LIMITED.
func spendJoinsOn(t *testing.T, srv *tickroom.Server, token, roomID string) {
	t.Helper()
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "spender"})
	if err != nil {
		t.Fatal(err)
	}
	c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	spectate := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: roomID, Spectate: true}}}
	leave := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: roomID}}}
	for range 64 {
		m := c.Request(spectate)
		if m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			return
		}
		if m.GetJoined() == nil {
			t.Fatalf("spectating %s: %v", roomID, m)
		}
		if l := c.Request(leave); l.GetLeft() == nil {
			t.Fatalf("LeaveRoom after a join: %v", l)
		}
	}
	t.Fatal("64 spectating joins and leaves of one guest, none refused")
}

// TestRedirectedJoinRefusedForItsRateHoldsNoSeat: a JoinRoom or a
// QuickMatch sent from one node to the room's node with a seat reserved
// in Redis, and refused there RATE_LIMITED (the user's joins on that
// node spent), left the seat reserved for the reservation's life (60 s):
// another player was refused ROOM_FULL by a room of two its host sat in
// alone, and a quick-match made a room of its own rather than fill it.
// The refusal now gives the seat back.
func TestRedirectedJoinRefusedForItsRateHoldsNoSeat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		join func(roomID string) *tickroomv1.ClientMessage
	}{
		{"JoinRoom", func(roomID string) *tickroomv1.ClientMessage {
			return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: roomID}}}
		}},
		{"QuickMatch", func(string) *tickroomv1.ClientMessage {
			return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b, _ := twoNodesOfSlowJoins(t, raceDefinition())
			// A room of two on b, its host alone in it, in the pool.
			host := dial(t, b, "host")
			room := host.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "race"}}}).GetJoined().GetRoomId()
			if room == "" {
				t.Fatal("the host's room was not made")
			}
			token := login(t, b, "guest")
			spendJoinsOn(t, b, token, room)

			// The guest asks through a, which reserves the seat and
			// sends it to b, where its bucket refuses the join.
			guest, _, err := testclient.Dial(t, "ws://"+a.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "guest"})
			if err != nil {
				t.Fatal(err)
			}
			guest.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
			_, reply, hops := guest.Follow(c.join(room))
			if len(hops) != 1 || reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
				t.Fatalf("the guest's %s through a: %d redirects, then %v; want one, then RATE_LIMITED", c.name, len(hops), reply)
			}

			// The seat is free for another player.
			_, reply, _ = dial(t, a, "late").Follow(c.join(room))
			if got := reply.GetJoined().GetRoomId(); got != room {
				t.Fatalf("after the guest's %s was refused RATE_LIMITED on the room's node, another player's got %v, not a seat in the host's room of two: the refused guest's seat was still reserved", c.name, reply)
			}
		})
	}
}

// TestQuickMatchRedirectedByItsRetryCostsNothingOnTheNodeThatSentIt: a
// quick-match's join token is given back by the node that answers it
// with a Redirect, as the node it sends the player to charges the
// quick-match there. A quick-match whose first room, on its own node,
// refused the player at the tick and whose retry redirected it was
// charged on both: the node that sent it had looked for a Redirect once,
// when it asked the first room, and kept the token. Here the user's
// joins on that node must still be the whole burst (16: more would need
// the bucket to hold more than its burst).
func TestQuickMatchRedirectedByItsRetryCostsNothingOnTheNodeThatSentIt(t *testing.T) {
	t.Parallel()
	var asks atomic.Int32
	a, b, rdb := twoNodesOfSlowJoins(t, soloDefinition(&asks))
	// On a, a room of the pool whose game takes no player but its
	// owner's; on b, one whose creator watches it, which takes alice.
	// The match asks the fuller first.
	full := soloRooms(t, a, 1)[0]
	watcher := dial(t, b, "watcher")
	open := watcher.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "solo", Spectate: true}}}).GetJoined().GetRoomId()
	if open == "" {
		t.Fatal("the watcher's room was not made")
	}

	token := login(t, a, "alice")
	alice, _, err := testclient.Dial(t, "ws://"+a.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	uid := alice.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId()
	there, m, hops := alice.Follow(quickSolo())
	if m.GetJoined().GetRoomId() != open || len(hops) != 1 || asks.Load() != 2 {
		t.Fatalf("alice's quick-match: %v after %d redirects, her join asked of %d rooms; want the room on b, after a's room refused her", m, len(hops), asks.Load())
	}

	// Back on a, alice's joins there are the whole burst. She leaves b
	// once b recorded her connection there in Redis, and connects to a
	// once that record is gone: a connection on a accepted while it
	// stands, within the error of the two nodes' reckonings of Redis's
	// clock after it, can be ordered before it, and is closed as the
	// older login (CLOSE_CODE_DUPLICATE_LOGIN).
	rc, key, onB := rdb.Client(t), a.Cluster().Keys().User(uid), b.Cluster().ID()+"/"
	recordedOnB := func() bool {
		fields, err := rc.HKeys(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, onB) })
	}
	waitUntil(t, "b to record alice's connection there", recordedOnB)
	_ = there.WS.Close()
	waitUntil(t, "b's record of alice's connection there to go", func() bool { return !recordedOnB() })
	again, _, err := testclient.Dial(t, "ws://"+a.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "alice again"})
	if err != nil {
		t.Fatal(err)
	}
	again.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	spectate := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: full, Spectate: true}}}
	leave := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: full}}}
	served := 0
	for range 64 {
		m := again.Request(spectate)
		if m.GetError().GetCode() == tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
			break
		}
		if m.GetJoined() == nil {
			t.Fatalf("alice spectating a's room: %v", m)
		}
		served++
		if l := again.Request(leave); l.GetLeft() == nil {
			t.Fatalf("LeaveRoom after a join: %v", l)
		}
	}
	if served < 16 {
		t.Fatalf("alice's quick-match, redirected by its retry, kept a join token on the node that sent it: %d joins there before RATE_LIMITED, want the burst, 16", served)
	}
}

// TestRefusedJoinKeepsTheSeatAnotherSocketTook: with -multi-sockets, a
// JoinRoom sent from one node to the room's node with a seat reserved,
// and refused there RATE_LIMITED, gives that seat back unless the user
// plays in the room; it looked at its own connection only, and so gave
// back the seat another socket of the user had just taken, which the
// node had not yet written to Redis as taken: the room of two, full,
// counted one seat free there, and another player was sent to the
// room's node to be refused ROOM_FULL. Now the node that holds the room
// refuses that player itself, at once.
func TestRefusedJoinKeepsTheSeatAnotherSocketTook(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t)
	opts := tickroom.Options{Games: []game.Definition{raceDefinition()}, Redis: rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), MultipleSockets: true}
	// No token comes back while the test runs, and the nodes write their
	// rooms' taken seats to Redis only as they register, before the test
	// goes on: a seat reserved stays a reservation.
	opts = tickroom.WithDirectorySync(tickroom.WithJoinRate(opts, 0.001), time.Hour)
	a, b := startRegistered(t, opts), startRegistered(t, opts)

	host := dial(t, b, "host")
	room := host.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}).GetJoined().GetRoomId()
	other := host.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race", Spectate: true}}}).GetJoined().GetRoomId()
	if room == "" || other == "" {
		t.Fatal("the host's rooms were not made")
	}
	join := joinRoom(room)

	// The guest's phone takes the room's second seat on b, then the
	// guest's joins on b are spent.
	token := login(t, b, "guest")
	phone, _, err := testclient.Dial(t, "ws://"+b.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	phone.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	if m := phone.Request(join); m.GetJoined().GetRoomId() != room {
		t.Fatalf("the guest's phone joining the host's room: %v", m)
	}
	spendJoinsOn(t, b, token, other)

	// The guest's laptop asks through a, which sends it to b, where its
	// bucket refuses it.
	laptop, _, err := testclient.Dial(t, "ws://"+a.Addr().String()+tickroom.WebSocketPath, token, testclient.Options{Label: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	laptop.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	_, reply, hops := laptop.Follow(join)
	if len(hops) != 1 || reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED {
		t.Fatalf("the laptop's JoinRoom through a: %d redirects, then %v; want one, then RATE_LIMITED", len(hops), reply)
	}

	// The room is full: a refuses another player there.
	_, reply, hops = dial(t, a, "late").Follow(join)
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: the laptop's refusal gave back the seat the phone had taken", len(hops), reply)
	}
}
