package hub_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/statesync"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
)

// ender is a game whose match a player wins by input: "win" shows the
// winner in entity 100 and ends the match in Input, "later" does both in
// the next Update. "fill" sends the other seat a 16 KiB game message and
// changes entity 101, for a member that reads nothing to fall behind.
type ender struct {
	later uint32
	won   string
	fills int
}

const endWon = 100

func withEnder(r *game.Registry) {
	if err := r.Register(game.Definition{Name: "ender", TickRate: 50, MaxPlayers: 2, MaxSpectators: 2,
		New: func(game.Setup) (game.Game, error) { return &ender{}, nil }}); err != nil {
		panic(err)
	}
}

func (g *ender) Accept(*game.Context, game.Player) error            { return nil }
func (g *ender) Notice(*game.Context, game.NoticeKind, game.Player) {}

func (g *ender) Input(ctx *game.Context, seat uint32, data []byte) error {
	switch string(data) {
	case "win":
		g.won = fmt.Sprint("won by seat ", seat)
		ctx.End(game.MatchResult{WinnerSeats: []uint32{seat}, Reason: "won"})
	case "later":
		g.later = seat
	case "fill":
		g.fills++
		ctx.Send(3-seat, game.Message{Data: bytes.Repeat([]byte{'f'}, 16<<10)})
	}
	return nil
}

func (g *ender) Update(ctx *game.Context, _ time.Duration) {
	if g.later != 0 {
		g.won = fmt.Sprint("won by seat ", g.later)
		ctx.End(game.MatchResult{WinnerSeats: []uint32{g.later}, Reason: "won"})
	}
}

func (g *ender) Encode(s *game.Snapshot) {
	s.EntityBytes(1, []byte("board"))
	if g.won != "" {
		s.EntityBytes(endWon, []byte(g.won))
	}
	if g.fills > 0 {
		s.EntityBytes(101, strconv.AppendInt(nil, int64(g.fills), 10))
	}
}

func isMatchEnded(m *tickroomv1.ServerMessage) bool {
	return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
}

// endWatcher is a client that notes, as MATCH_ENDED comes, what its
// rebuilt state of the room shows then: the states before it on the wire
// are applied, none after it.
type endWatcher struct {
	*client
	atEnd chan string // entity endWon's value when MATCH_ENDED came
}

func (e *env) watchEnd(user string) *endWatcher {
	e.t.Helper()
	c := &client{t: e.t, user: user, worlds: map[string]*world{}, refs: map[uint32]string{}}
	w := &endWatcher{client: c, atEnd: make(chan string, 1)}
	tc, _, err := testclient.Dial(e.t, e.url, e.token(user, time.Hour), testclient.Options{
		Label:   user,
		OnState: c.onState,
		OnMessage: func(m *tickroomv1.ServerMessage) {
			if isMatchEnded(m) {
				w.atEnd <- string(c.entities(m.GetRoomEvent().RoomId)[endWon])
			}
		},
	})
	if err != nil {
		e.t.Fatalf("dial %s: %v", user, err)
	}
	c.Client = tc
	c.Next(isKind[*tickroomv1.ServerMessage_Welcome])
	return w
}

// TestMatchEndedComesAfterTheStateThatEndedIt: a game that changes its
// state and ends its match in the same tick had every member get the
// result before that tick's State, so a page said "You lost." over a
// board without the winning move. Each member, players and a spectator,
// now has the state of that tick when the result comes.
func TestMatchEndedComesAfterTheStateThatEndedIt(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"win", "later"} { // ended in Input, in Update
		t.Run(how, func(t *testing.T) {
			e := start(t, options{games: withEnder})
			ann, bob, sam := e.watchEnd("ann"), e.watchEnd("bob"), e.watchEnd("sam")
			room := joined(t, ann.Request(quickMatch("ender"))).RoomId
			joined(t, bob.Request(quickMatch("ender")))
			joined(t, sam.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}}))
			for _, c := range []*endWatcher{ann, bob, sam} {
				waitFor(t, c.user+" has the board", func() bool { return len(c.entities(room)) > 0 })
			}
			ann.Send(input(room, 1, []byte(how)))
			for _, c := range []*endWatcher{ann, bob, sam} {
				c.Next(isMatchEnded)
				if got := <-c.atEnd; got != "won by seat 1" {
					t.Errorf("%s: MATCH_ENDED came while its state showed %q, want the winning move %q", c.user, got, "won by seat 1")
				}
			}
		})
	}
}

// TestSlowMemberGetsTheFinalStateBeforeTheResult: a member whose
// connection is congested at the tick that ends the match (states
// latest-wins, skipped until it drains) got the result before that
// tick's state too, and saw the state only once it had caught up. It now
// gets the final state first.
func TestSlowMemberGetsTheFinalStateBeforeTheResult(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: withEnder, server: func(c *server.Config) {
		c.SlowDeadline = time.Minute // bob reads nothing for a while
		c.ReliableBudget = 8 << 20
	}})
	// Bob's connection is bare: the test reads it only at the end.
	d := websocket.Dialer{Subprotocols: []string{testclient.Subprotocol}}
	bob, _, err := d.Dial(e.url+"?token="+e.token("bob", time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	read := func() *tickroomv1.ServerMessage {
		t.Helper()
		_ = bob.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := bob.ReadMessage()
		if err != nil {
			t.Fatalf("bob: %v", err)
		}
		m := &tickroomv1.ServerMessage{}
		if err := m.UnmarshalVT(p); err != nil {
			t.Fatalf("bob: %v", err)
		}
		return m
	}
	var store statesync.Store
	apply := func(m *tickroomv1.ServerMessage) {
		t.Helper()
		if st := m.GetState(); st != nil {
			if _, err := store.Apply(st.Keyframe, st.Tick, st.BaseTick, st.Patch); err != nil {
				t.Fatalf("bob: state %d: %v", st.Tick, err)
			}
		}
	}
	for read().GetWelcome() == nil {
	}
	qm := quickMatch("ender")
	qm.RequestId = 1
	b, _ := qm.MarshalVT()
	if err := bob.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
	var room string
	for room == "" {
		m := read()
		apply(m)
		room = m.GetJoined().GetRoomId()
	}
	ann, _ := e.connect("ann")
	j := joined(t, ann.Request(quickMatch("ender")))
	if j.RoomId != room {
		t.Fatalf("ann in %s, bob in %s", j.RoomId, room)
	}
	won := fmt.Sprint("won by seat ", j.Seat)
	r, ok := e.hub.Runtime().Room(room)
	if !ok {
		t.Fatal("no room")
	}
	// Ann's fills pile up behind bob's unread socket until the kernel
	// takes no more of them: from then on his connection stays congested
	// (the bytes it holds go nowhere while he reads nothing), and the
	// room skips his states at every tick.
	seq := uint32(0)
	stuck := func() bool {
		for range 10 {
			if !e.hub.Congested("bob") {
				return false
			}
			time.Sleep(20 * time.Millisecond) // a flush the loop may still make
		}
		return true
	}
	for !stuck() {
		if seq == 400 {
			t.Fatal("bob never congested")
		}
		seq++
		ann.Send(input(room, seq, []byte("fill")))
		want := seq
		waitFor(t, "ann's fill acked", func() bool { return ann.ack(room, j.Seat) >= want })
	}
	// The room skips a state of bob's only for a change he is owed: the
	// last fill's state may have reached his queue before its 16 KiB
	// message congested him, and then nothing is owed until the state
	// changes again. One more fill changes it while he is congested.
	skipped := r.Stats().StateSkipped
	seq++
	ann.Send(input(room, seq, []byte("fill")))
	waitFor(t, "the room skipping bob's states", func() bool { return r.Stats().StateSkipped > skipped })
	seq++
	ann.Send(input(room, seq, []byte("later")))
	ann.Next(isMatchEnded)
	if !e.hub.Congested("bob") {
		t.Fatal("bob's connection drained before the match ended: the test shows nothing")
	}

	for {
		m := read()
		apply(m)
		if isMatchEnded(m) {
			break
		}
	}
	got := ""
	for _, en := range store.Entities() {
		if en.ID == endWon {
			got = string(en.Data)
		}
	}
	if got != won {
		t.Fatalf("bob (congested): MATCH_ENDED came while his state showed %q, want the winning move %q", got, won)
	}
}
