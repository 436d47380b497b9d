package tickroom_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/redistest"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// The cluster seat tests of a join on its way into a room of its node
// (its seat reserved in Redis, not yet a membership) while another join of
// the same user gives the seat back.

// A join refused at the tick keeps the user's seat in Redis while another
// join of the user's on the node has reserved it there and is on its way
// into the room: the user's one seat there is that join's. The refusal
// looked only at the node's memberships, which that join was not yet,
// and gave the seat back: the user then sat in the room with no seat in
// Redis until the node's next sync. Here the phone's join of the room of
// two on b waits at the tick; Redis holds back its writes while the
// laptop's JoinRoom reserves the seat there; the game then refuses the
// phone's join, and Redis goes on. The laptop's join sits alice in the
// room, full: a must refuse another player ROOM_FULL, not send it to b.
func TestRefusedJoinKeepsTheSeatAJoinOnItsWayReserved(t *testing.T) {
	t.Parallel()
	w := holdWhileOnItsWay(t, "")
	again, unpause := w.laptopSetsOut(t, w.join(""))
	w.refuse(t)
	unpause()
	if m := w.laptop.Reply(again); m.GetJoined().GetRoomId() != w.room || m.GetJoined().GetSpectator() {
		t.Fatalf("the laptop's join: %v, want Joined as a player", m)
	}

	_, reply, hops := dial(t, w.a, "late").Follow(w.join(""))
	if reply.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_ROOM_FULL || len(hops) != 0 {
		t.Fatalf("another player's JoinRoom of the full room through a: %d redirects, then %v; want ROOM_FULL from a: the phone's refused join gave back the seat the laptop's join had reserved", len(hops), reply)
	}
}

// A give-back a join on its way was left (the user's one seat there was
// its) is that join's to do once it sits nowhere: left undone, the seat
// stayed reserved for the reservation's minute with nobody in it. Here
// the phone's join of the room of two on b, with its password, waits at
// the tick; Redis holds back its writes while the laptop's JoinRoom
// without the password asks it for the seat; the game refuses the
// phone's join, and Redis refuses the laptop's WRONG_PASSWORD. alice sits
// nowhere: another player's JoinRoom through a, the host alone in the
// room, must be Joined.
func TestJoinOnItsWayRefusedGivesBackTheSeatLeftToIt(t *testing.T) {
	t.Parallel()
	w := holdWhileOnItsWay(t, "sesame")
	again, unpause := w.laptopSetsOut(t, w.join(""))
	w.refuse(t)
	unpause()
	if m := w.laptop.Reply(again); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_WRONG_PASSWORD {
		t.Fatalf("the laptop's join without the password: %v, want WRONG_PASSWORD", m)
	}
	if reply, hops := lateJoin(t, w.a, w.join("sesame")); reply.GetJoined().GetRoomId() != w.room {
		t.Fatalf("another player's JoinRoom of the room through a, the host alone in it: %d redirects, then %v; want Joined: the seat the phone's refused join left to the laptop's stayed reserved", len(hops), reply)
	}
}

// onItsWay is a room of notYetRace of two on b, made by the host with
// password (none: ""), in a cluster of two (a, b) with -multi-sockets,
// which write their rooms' taken seats to Redis only as they register;
// alice's phone's join of it (first) waits at the tick, and alice has a
// laptop there too.
type onItsWay struct {
	a, b          *tickroom.Server
	rdb           *redistest.Server
	room          string
	phone, laptop *testclient.Client
	first         uint32
	open          func()
}

func holdWhileOnItsWay(t *testing.T, password string) *onItsWay {
	t.Helper()
	w := &onItsWay{rdb: redistest.Start(t)}
	entered, gate := make(chan struct{}, 1), make(chan struct{})
	w.open = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(w.open) // a test that fails first lets the room's tick go on
	var asked, closeSeats atomic.Bool
	def := raceDefinition()
	def.Name, def.MaxPlayers = "notyet", 2
	def.New = func(game.Setup) (game.Game, error) {
		return &notYetRace{race: &race{at: map[uint32]byte{}}, entered: entered, gate: gate, asked: &asked, closeSeats: &closeSeats}, nil
	}
	opts := tickroom.Options{Games: []game.Definition{def}, Redis: w.rdb.URL(), TokenKey: []byte(strings.Repeat("k", 32)), MultipleSockets: true}
	opts = tickroom.WithDirectorySync(opts, time.Hour)
	w.a, w.b = startRegistered(t, opts), startRegistered(t, opts)
	create := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: def.Name, Password: password}}}
	if w.room = dial(t, w.b, "host").Request(create).GetJoined().GetRoomId(); w.room == "" {
		t.Fatal("the host could not create a room")
	}
	token := login(t, w.b, "alice")
	w.phone, w.laptop = socketOf(t, w.b, token, "phone"), socketOf(t, w.b, token, "laptop")
	w.first = sendHeld(t, w.phone, entered, w.join(password), "the phone's join")
	return w
}

// join is a JoinRoom of the room with password.
func (w *onItsWay) join(password string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: w.room, Password: password}}}
}

// laptopSetsOut sends join from the laptop while Redis holds back every
// script (CLIENT PAUSE WRITE), and returns its request id once its
// reserve waits there; unpause lets Redis run the scripts in the order
// they came: the laptop's reserve, then the give-back of the phone's
// refused join, if any.
func (w *onItsWay) laptopSetsOut(t *testing.T, join *tickroomv1.ClientMessage) (id uint32, unpause func()) {
	t.Helper()
	ctx, rc := context.Background(), w.rdb.Client(t)
	waiting := func() int {
		list, err := rc.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range strings.Split(list, "\n") {
			if strings.Contains(c, " flags=b ") && strings.Contains(c, " cmd=evalsha ") {
				n++
			}
		}
		return n
	}
	unpause = sync.OnceFunc(func() { rc.Do(ctx, "client", "unpause") })
	if err := rc.Do(ctx, "client", "pause", 5000, "write").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unpause)
	before := waiting()
	id = w.laptop.Send(join)
	for deadline := time.Now().Add(3 * time.Second); waiting() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the laptop's join never asked Redis for its seat")
		}
	}
	return id, unpause
}

// refuse lets the game refuse the phone's join.
func (w *onItsWay) refuse(t *testing.T) {
	t.Helper()
	w.open()
	if m := w.phone.Reply(w.first); m.GetError().GetCode() != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("the phone's join: %v, want FORBIDDEN", m)
	}
}
