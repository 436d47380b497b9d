package hub_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// Membership edge cases: joins, leaves, drops, resumes and second logins
// that cross each other.

func newRoomMsg(q *tickroomv1.CreateRoom) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: q}}
}

func leaveRoom(id string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_LeaveRoom{LeaveRoom: &tickroomv1.LeaveRoom{RoomId: id}}}
}

// slowGame ticks once a second, so requests queue up between ticks.
func slowGame(r *game.Registry) {
	if err := r.Register(game.Definition{Name: "slow", New: newTally, TickRate: 1, MaxPlayers: 4}); err != nil {
		panic(err)
	}
}

func TestCreateAtTheUserLimitMakesNoRoom(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	for range 4 { // MaxRoomsPerUser
		joined(t, a.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"})))
	}
	for i := range 20 {
		m := a.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally", Options: map[string]string{"k": strconv.Itoa(i)}}))
		if code := errCode(t, m); code != tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM {
			t.Fatalf("create over the limit: %v", code)
		}
	}
	if n := e.hub.Runtime().RoomCount(); n != 4 {
		t.Fatalf("%d rooms exist, the user is in 4", n)
	}
}

func TestRoomOptionsAndCountAreBounded(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.MaxRooms = 2 }})
	a, _ := e.connect("alice")
	big := map[string]string{}
	for i := range 17 {
		big[strconv.Itoa(i)] = "v"
	}
	if code := errCode(t, a.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally", Metadata: big}))); code != tickroomv1.ErrorCode_ERROR_CODE_BAD_OPTIONS {
		t.Fatalf("17 metadata entries: %v", code)
	}
	joined(t, a.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"})))
	joined(t, a.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"})))
	if code := errCode(t, a.Request(newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"}))); code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_LIMIT {
		t.Fatalf("third room with MaxRooms 2: %v", code)
	}
}

func TestResumeKeepsTheSeatsKind(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	ja := joined(t, a.Request(quickMatch("tally")))
	a.WS.UnderlyingConn().Close()
	a.WaitClosed()
	a2, w := e.connect("alice")
	waitFor(t, "seat held", func() bool { return len(e.hub.Runtime().Rooms(game.RoomFilter{})) == 1 })
	_ = w
	// Asking to spectate while resuming a player seat still resumes the
	// player seat.
	j := joined(t, a2.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: ja.RoomId, Spectate: true}}}))
	if !j.Resumed || j.Spectator || j.Seat != ja.Seat {
		t.Fatalf("joined %v, want the player seat %d resumed", j, ja.Seat)
	}
	a2.Send(input(ja.RoomId, 1, []byte("+")))
	waitFor(t, "input acked", func() bool { return a2.ack(ja.RoomId, ja.Seat) == 1 })
}

func TestExpiredSeatIsReportedToTheLiveConnection(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.Runtime.DropGrace = 300 * time.Millisecond }})
	a, _ := e.connect("alice")
	ja := joined(t, a.Request(quickMatch("tally")))
	a.WS.UnderlyingConn().Close()
	a.WaitClosed()
	var a2 *client
	waitFor(t, "Welcome lists the held seat", func() bool {
		c, w := e.connect("alice")
		if len(w.Seats) == 1 {
			a2 = c
			return true
		}
		return false
	})
	l := a2.Next(isKind[*tickroomv1.ServerMessage_Left]).GetLeft()
	if l.RoomId != ja.RoomId || l.Reason != tickroomv1.LeaveReason_LEAVE_REASON_SEAT_EXPIRED {
		t.Fatalf("left %v, want SEAT_EXPIRED for %s", l, ja.RoomId)
	}
}

func TestSecondSocketTakingTheSeatTellsTheFirst(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.MultipleSockets = true }})
	a1, _ := e.connect("alice")
	ja := joined(t, a1.Request(quickMatch("tally")))
	a2, _ := e.connect("alice")
	if j := joined(t, a2.Request(joinRoom(ja.RoomId, 0))); !j.Resumed || j.Seat != ja.Seat {
		t.Fatalf("second socket: %v", j)
	}
	l := a1.Next(isKind[*tickroomv1.ServerMessage_Left]).GetLeft()
	if l.RoomId != ja.RoomId {
		t.Fatalf("first socket's Left %v", l)
	}
}

func TestKickFreesHeldSeatsToo(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	ja := joined(t, a.Request(quickMatch("tally")))
	a.WS.UnderlyingConn().Close()
	a.WaitClosed()
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	waitFor(t, "seat held", func() bool { p := room.Players(); return len(p) == 1 && !p[0].Connected })
	if err := e.hub.Kick("alice", "cheating"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "held seat freed", func() bool { return len(room.Players()) == 0 })
}

func TestLeaveDuringAPendingJoinLeaves(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: slowGame})
	a, _ := e.connect("alice")
	b, _ := e.connect("bob")
	room := joined(t, b.Request(quickMatch("slow"))).RoomId
	jid := a.Send(joinRoom(room, 0))
	lid := a.Send(leaveRoom(room))
	joined(t, a.Reply(jid))
	if l := a.Reply(lid).GetLeft(); l == nil || l.Reason != tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED {
		t.Fatalf("leave reply %v", l)
	}
	r, _ := e.hub.Runtime().Room(room)
	waitFor(t, "alice's seat freed", func() bool {
		for _, p := range r.Players() {
			if p.UserID == "alice" {
				return false
			}
		}
		return true
	})
}

func TestPendingJoinOfAReplacedConnectionIsGivenUp(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: slowGame})
	b, _ := e.connect("bob")
	room := joined(t, b.Request(quickMatch("slow"))).RoomId
	a1, _ := e.connect("alice")
	a1.Send(joinRoom(room, 0))
	a2, w := e.connect("alice")
	a1.WaitClosed()
	if len(w.Seats) != 0 {
		t.Fatalf("Welcome lists a seat that was only pending: %v", w.Seats)
	}
	r, _ := e.hub.Runtime().Room(room)
	// After the next tick the pending seat is confirmed and given up.
	waitFor(t, "tick", func() bool { return r.Info().Tick > 1 })
	waitFor(t, "no ghost seat", func() bool {
		for _, p := range r.Players() {
			if p.UserID == "alice" {
				return false
			}
		}
		return true
	})
	_ = a2
}

func TestOldSocketsLeaveDoesNotTakeTheResumedSeat(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: slowGame, hub: func(c *hub.Config) { c.MultipleSockets = true }})
	b, _ := e.connect("bob")
	room := joined(t, b.Request(quickMatch("slow"))).RoomId
	a1, _ := e.connect("alice")
	joined(t, a1.Request(joinRoom(room, 0)))
	a2, _ := e.connect("alice")
	jid := a2.Send(joinRoom(room, 0)) // takes the seat over at the next tick
	// a1 leaves before that tick; its leave is queued after a2's resume.
	if l := a1.Request(leaveRoom(room)).GetLeft(); l == nil {
		t.Fatal("a1's leave not answered with Left")
	}
	j := joined(t, a2.Reply(jid))
	a2.Send(input(room, 1, []byte("+")))
	waitFor(t, "a2's input acked after the stale leave", func() bool { return a2.ack(room, j.Seat) == 1 })
}

func TestRequestsWithoutIDGetNoReply(t *testing.T) {
	t.Parallel()
	e := start(t, options{})
	a, _ := e.connect("alice")
	a.Write(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	a.Write(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_ListRooms{ListRooms: &tickroomv1.ListRooms{}}})
	// A request with an id, after those, is answered first.
	m := a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{ClientTimeMs: 7}}})
	if m.GetPong().GetClientTimeMs() != 7 {
		t.Fatalf("reply %v", m)
	}
	for _, m := range drain(a) {
		t.Fatalf("reply to a request without an id: %v", m)
	}
}

// A resume still pending when a newer login replaces its connection keeps
// the seat held for the newer one (whose Welcome lists it): the user's seat
// is its own, not a join the newer connection never heard of.
func TestPendingResumeOfAReplacedConnectionKeepsTheSeat(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: slowGame})
	b, _ := e.connect("bob")
	room := joined(t, b.Request(quickMatch("slow"))).RoomId
	a1, _ := e.connect("alice")
	seat := joined(t, a1.Request(joinRoom(room, 0))).Seat
	a1.WS.UnderlyingConn().Close() // the network goes away
	a1.WaitClosed()
	r, _ := e.hub.Runtime().Room(room)
	waitFor(t, "alice dropped", func() bool {
		for _, p := range r.Players() {
			if p.UserID == "alice" {
				return !p.Connected && !p.HeldUntil.IsZero()
			}
		}
		return false
	})
	a2, w := e.connect("alice")
	if len(w.Seats) != 1 {
		t.Fatalf("Welcome seats %v, want alice's held seat", w.Seats)
	}
	tick := r.Info().Tick
	a2.Send(joinRoom(room, 0)) // takes the seat back at the next tick
	a3, w := e.connect("alice")
	a2.WaitClosed()
	if len(w.Seats) != 1 || w.Seats[0].Seat != seat {
		t.Fatalf("Welcome seats %v, want alice's seat %d", w.Seats, seat)
	}
	waitFor(t, "the pending resume settled", func() bool { return r.Info().Tick > tick+1 })
	j := joined(t, a3.Request(joinRoom(room, 0)))
	if !j.Resumed || j.Seat != seat {
		t.Fatalf("resume after the replaced one: resumed %v seat %d, want seat %d", j.Resumed, j.Seat, seat)
	}
}

// bobsRoom has bob quick-match into a room of game g, on a runtime whose
// clock the test advances, and returns the room's id.
func bobsRoom(t *testing.T, e *env, g string) string {
	t.Helper()
	rt := e.hub.Runtime()
	b, _ := e.connect("bob")
	bid := b.Send(quickMatch(g))
	waitFor(t, "bob's join queued", func() bool {
		rooms := rt.Rooms(game.RoomFilter{})
		return len(rooms) == 1 && rooms[0].Players == 1
	})
	_ = rt.Advance(100 * time.Millisecond)
	return joined(t, b.Reply(bid)).RoomId
}

// seatAlice connects alice and seats her in r, a room of e's whose clock
// the test moves, at its next tick.
func seatAlice(t *testing.T, e *env, r *game.Room) *client {
	t.Helper()
	a, _ := e.connect("alice")
	id := a.Send(joinRoom(r.ID(), 0))
	waitFor(t, "alice's join queued", func() bool { return r.Info().Players == 2 })
	_ = e.hub.Runtime().Advance(100 * time.Millisecond)
	joined(t, a.Reply(id))
	return a
}

// A join lost with its connection and sent again from the user's next
// connection before the room settled the first takes the user's one seat
// in the room: the first join's, moved to the new connection, not a
// second seat beside it, whose resume window then runs out and tells the
// connection that plays in the room it left.
func TestJoinSentAgainBeforeTheLostOneSettledTakesItsSeat(t *testing.T) {
	t.Parallel()
	clock := game.NewManualClock(time.Now()) // the room ticks only when told
	e := start(t, options{hub: func(c *hub.Config) {
		c.Runtime.Clock = clock
		c.Runtime.DropGrace = time.Second
	}})
	rt := e.hub.Runtime()
	room := bobsRoom(t, e, "tally")
	r, _ := rt.Room(room)

	a1, _ := e.connect("alice")
	a1.Send(joinRoom(room, 0))
	waitFor(t, "alice's join queued", func() bool { return r.Info().Players == 2 })
	a1.WS.UnderlyingConn().Close() // the network goes away before the room's tick
	a1.WaitClosed()
	waitFor(t, "alice's connection gone", func() bool { return !e.hub.Online("alice") })
	a2, w := e.connect("alice")
	if len(w.Seats) != 0 {
		t.Fatalf("Welcome lists a seat that was only pending: %v", w.Seats)
	}
	jid := a2.Send(joinRoom(room, 0)) // the app tries again
	a2.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	_ = rt.Advance(100 * time.Millisecond)
	j := joined(t, a2.Reply(jid))
	var seats []uint32
	for _, p := range r.Players() {
		if p.UserID == "alice" {
			seats = append(seats, p.Seat)
		}
	}
	if len(seats) != 1 || seats[0] != j.Seat {
		t.Fatalf("alice holds seats %v, joined seat %d: want that one alone", seats, j.Seat)
	}
	_ = rt.Advance(2 * time.Second) // past the resume window
	for _, m := range drain(a2) {
		if l := m.GetLeft(); l != nil {
			t.Fatalf("the connection playing in the room was told it left: %v", l)
		}
	}
	if r.Info().Players != 2 {
		t.Fatalf("room lists %d players, want bob and alice", r.Info().Players)
	}
}

// noAlice is tally whose rooms refuse alice a seat.
type noAlice struct{ game.Game }

func (g noAlice) Accept(ctx *game.Context, p game.Player) error {
	if p.UserID == "alice" {
		return game.Refuse("no seat for alice")
	}
	return g.Game.Accept(ctx, p)
}

// noAliceGames registers noalice, tally whose rooms refuse alice a seat at
// the tick.
func noAliceGames(t *testing.T) func(*game.Registry) {
	return func(r *game.Registry) {
		newNoAlice := func(s game.Setup) (game.Game, error) { g, err := newTally(s); return noAlice{g}, err }
		if err := r.Register(game.Definition{Name: "noalice", New: newNoAlice, TickRate: 50, MaxPlayers: 4}); err != nil {
			t.Fatal(err)
		}
	}
}

// A LeaveRoom sent while a join was pending is answered with Left when the
// game then refuses that join, as when it accepts it: the user is not in
// the room, which is what it asked for.
func TestLeaveDuringAJoinTheGameRefusesIsAnswered(t *testing.T) {
	t.Parallel()
	clock := game.NewManualClock(time.Now()) // the room ticks only when told
	e := start(t, options{hub: func(c *hub.Config) { c.Runtime.Clock = clock }, games: noAliceGames(t)})
	rt := e.hub.Runtime()
	room := bobsRoom(t, e, "noalice")

	a, _ := e.connect("alice")
	jid := a.Send(joinRoom(room, 0))
	lid := a.Send(leaveRoom(room))
	a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	_ = rt.Advance(100 * time.Millisecond)
	if code := errCode(t, a.Reply(jid)); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
		t.Fatalf("join the game refuses: %v", code)
	}
	var reply *tickroomv1.ServerMessage
	for _, m := range drain(a) {
		if m.RequestId == lid {
			reply = m
		}
	}
	if l := reply.GetLeft(); l == nil || l.RoomId != room || l.Reason != tickroomv1.LeaveReason_LEAVE_REASON_REQUESTED {
		t.Fatalf("LeaveRoom sent while the join was pending: reply %v, want Left{REQUESTED}", reply)
	}
}

// A socket's LeaveRoom that came after another socket of its user took the
// seat over, and that socket's drop before the room's next tick: the seat
// is held for the resume window and then given up, not kept for the lost
// socket as connected for ever (the room never emptied).
func TestSeatTakenOverAndDroppedAfterAStaleLeaveIsGivenUp(t *testing.T) {
	t.Parallel()
	clock := game.NewManualClock(time.Now()) // the room ticks only when told
	e := start(t, options{hub: func(c *hub.Config) {
		c.MultipleSockets = true
		c.Runtime.Clock = clock
		c.Runtime.DropGrace = time.Second
	}})
	rt := e.hub.Runtime()
	room := bobsRoom(t, e, "tally")
	r, _ := rt.Room(room)
	a1 := seatAlice(t, e, r)

	a2, _ := e.connect("alice")
	a2.Send(joinRoom(room, 0)) // takes the seat over at the next tick
	a2.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	if l := a1.Request(leaveRoom(room)).GetLeft(); l == nil {
		t.Fatal("a1's leave not answered with Left")
	}
	a2.WS.UnderlyingConn().Close() // and a2's network goes away
	a1.WS.UnderlyingConn().Close()
	waitFor(t, "alice's connections gone", func() bool { return !e.hub.Online("alice") })
	_ = rt.Advance(100 * time.Millisecond)
	_ = rt.Advance(2 * time.Second) // past the resume window
	for _, p := range r.Players() {
		if p.UserID == "alice" {
			t.Fatalf("alice's seat is still taken past the resume window: %+v", p)
		}
	}
}

// A page that reloads while inputs it sent are still queued for the room's
// next tick (with its connection's drop and the new one's resume), or a
// second socket that takes the seat over while the first one's inputs are
// queued, numbers its next input above the resume's
// Joined.last_input_seq: that must count the queued inputs, which the room
// applies after it resumes the seat, or the page's next inputs are dropped
// as resends of them.
func TestResumeCountsTheInputsQueuedWithIt(t *testing.T) {
	t.Parallel()
	ping := func() *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}}
	}
	for _, tc := range []struct {
		name string
		// resume has the user's second connection resume its seat while
		// the first one's inputs 1 to 3 are queued for the room's tick.
		resume func(t *testing.T, e *env, a1 *client, send func()) *client
	}{
		{"page reloads", func(t *testing.T, e *env, a1 *client, send func()) *client {
			send()
			a1.WS.UnderlyingConn().Close()
			a1.WaitClosed()
			waitFor(t, "alice's connection gone", func() bool { return !e.hub.Online("alice") })
			a2, _ := e.connect("alice")
			return a2
		}},
		{"second socket takes over", func(t *testing.T, e *env, a1 *client, send func()) *client {
			a2, _ := e.connect("alice")
			send() // after a2's connection, before its JoinRoom
			return a2
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, room, a1, seat := aliceInTally(t)
			rt := e.hub.Runtime()

			a2 := tc.resume(t, e, a1, func() {
				for seq := uint32(1); seq <= 3; seq++ {
					a1.Send(input(room, seq, []byte("+")))
				}
				a1.Request(ping())
			})
			jid := a2.Send(joinRoom(room, 0))
			a2.Request(ping())
			_ = rt.Advance(100 * time.Millisecond)
			j := joined(t, a2.Reply(jid))
			if !j.Resumed || j.LastInputSeq != 3 {
				t.Fatalf("resume with inputs 1-3 queued: resumed %v, last_input_seq %d, want 3", j.Resumed, j.LastInputSeq)
			}
			a2.Send(input(room, j.LastInputSeq+1, []byte("+")))
			a2.Request(ping())
			_ = rt.Advance(100 * time.Millisecond)
			waitFor(t, "the page's next input applied", func() bool { return string(a2.entities(room)[uint64(seat)]) == "4" })
		})
	}
}

// noCarol is tally whose rooms panic on carol's join: a game's bug that
// ends the room at the tick that reaches it (game.Room.crashed).
type noCarol struct{ game.Game }

func (g noCarol) Accept(ctx *game.Context, p game.Player) error {
	if p.UserID == "carol" {
		panic("no seat for carol")
	}
	return g.Game.Accept(ctx, p)
}

// A room that closes between a player's drop and the tick that would hold
// the seat (an operator's close; a game's panic at a join queued before
// the drop, which ends the room before the drop is applied) gives the
// seat up with the room: the user learns it, with Left{ROOM_CLOSED} on
// the connection that came back meanwhile (whose Welcome listed the seat),
// or, back after the room closed, by a Welcome without the seat and a
// resume answered ROOM_NOT_FOUND; and nothing stays held for it.
func TestRoomClosedBeforeTheDropIsAppliedTellsTheUser(t *testing.T) {
	t.Parallel()
	ping := func() *tickroomv1.ClientMessage {
		return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}}
	}
	closes := []struct {
		name string
		// before runs before alice's drop is queued, close after it; both
		// before the room's next tick.
		before, close func(t *testing.T, e *env, room string)
	}{
		{"operator", func(*testing.T, *env, string) {}, func(t *testing.T, e *env, room string) {
			if err := e.hub.CloseRoom(room, "maintenance"); err != nil {
				t.Fatal(err)
			}
		}},
		{"game panics", func(t *testing.T, e *env, room string) {
			c, _ := e.connect("carol")
			c.Send(joinRoom(room, 0))
			r, _ := e.hub.Runtime().Room(room)
			waitFor(t, "carol's join queued", func() bool { return r.Info().Players == 3 })
		}, func(*testing.T, *env, string) {}},
	}
	for _, cl := range closes {
		for _, back := range []string{"before the tick", "after the tick"} {
			t.Run(cl.name+"/back "+back, func(t *testing.T) {
				t.Parallel()
				clock := game.NewManualClock(time.Now()) // the room ticks only when told
				e := start(t, options{
					hub: func(c *hub.Config) { c.Runtime.Clock = clock },
					games: func(r *game.Registry) {
						newNoCarol := func(s game.Setup) (game.Game, error) { g, err := newTally(s); return noCarol{g}, err }
						if err := r.Register(game.Definition{Name: "nocarol", New: newNoCarol, TickRate: 50, MaxPlayers: 4}); err != nil {
							t.Fatal(err)
						}
					},
				})
				rt := e.hub.Runtime()
				room := bobsRoom(t, e, "nocarol")
				r, _ := rt.Room(room)
				a1 := seatAlice(t, e, r)

				cl.before(t, e, room)
				a1.WS.UnderlyingConn().Close() // the network goes away
				a1.WaitClosed()
				waitFor(t, "alice's connection gone", func() bool { return !e.hub.Online("alice") })
				cl.close(t, e, room)
				var a2 *client
				if back == "before the tick" {
					var w *tickroomv1.Welcome
					a2, w = e.connect("alice")
					if len(w.Seats) != 1 {
						t.Fatalf("Welcome seats %v, want alice's held seat", w.Seats)
					}
				}
				_ = rt.Advance(100 * time.Millisecond)
				waitFor(t, "the room closed", func() bool { _, ok := rt.Room(room); return !ok })
				if a2 != nil {
					pid := a2.Send(ping())
					m := a2.Next(func(m *tickroomv1.ServerMessage) bool { return m.GetLeft() != nil || m.RequestId == pid })
					if l := m.GetLeft(); l == nil || l.RoomId != room || l.Reason != tickroomv1.LeaveReason_LEAVE_REASON_ROOM_CLOSED {
						t.Fatalf("the connection whose Welcome listed the held seat got %v once the room closed, want Left{ROOM_CLOSED}", m)
					}
				} else {
					var w *tickroomv1.Welcome
					a2, w = e.connect("alice")
					if len(w.Seats) != 0 {
						t.Fatalf("Welcome after the room closed lists seats %v", w.Seats)
					}
					if code := errCode(t, a2.Request(joinRoom(room, 1))); code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_NOT_FOUND {
						t.Fatalf("resume of the closed room: %v, want ROOM_NOT_FOUND", code)
					}
				}
				if n := e.hub.RoomsOf("alice"); n != 0 {
					t.Fatalf("alice counts in %d rooms once the room closed, want 0", n)
				}
			})
		}
	}
}
