package hub_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// Config.MaxRoomsPerUser (4 by default) counts the rooms of a user across
// all of its connections on the node, and the seats held for its dropped
// or replaced ones (docs/limits.md). A refusal is ERROR_CODE_ALREADY_IN_ROOM.

const alreadyIn = tickroomv1.ErrorCode_ERROR_CODE_ALREADY_IN_ROOM

// roomCapEnv is a server where the room creation budgets are no limit, so
// only MaxRoomsPerUser stops a user.
func roomCapEnv(t *testing.T, more func(*hub.Config)) *env {
	return start(t, options{hub: func(c *hub.Config) {
		c.MaxRoomCostPerUser, c.RoomCreateBurst = 1000, 1000
		if more != nil {
			more(c)
		}
	}})
}

func create() *tickroomv1.ClientMessage {
	return newRoomMsg(&tickroomv1.CreateRoom{Game: "tally"})
}

func spectate(id string) *tickroomv1.ClientMessage {
	return &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: id, Spectate: true}}}
}

// seatsOf counts the rooms holding a seat (live or held) of user.
func seatsOf(e *env, user string) int {
	n := 0
	for _, info := range e.hub.Runtime().Rooms(game.RoomFilter{}) {
		room, ok := e.hub.Runtime().Room(info.ID)
		if !ok {
			continue
		}
		for _, p := range room.Players() {
			if p.UserID == user {
				n++
				break
			}
		}
	}
	return n
}

// waitDropped waits until n rooms hold user's seat for a resume: the
// hub recorded each held seat before the room heard of the drop.
func waitDropped(t *testing.T, e *env, user string, n int) {
	t.Helper()
	waitFor(t, "seats held", func() bool {
		held := 0
		for _, info := range e.hub.Runtime().Rooms(game.RoomFilter{}) {
			if room, ok := e.hub.Runtime().Room(info.ID); ok {
				for _, p := range room.Players() {
					if p.UserID == user && !p.Connected {
						held++
					}
				}
			}
		}
		return held == n
	})
}

// refusedAtCap fails unless every way into one more room is refused with
// ERROR_CODE_ALREADY_IN_ROOM: create, quick-match, join and spectate of
// other's room.
func refusedAtCap(t *testing.T, c *client, other string) {
	t.Helper()
	for what, m := range map[string]*tickroomv1.ClientMessage{
		"create": create(), "quick-match": quickMatch("tally"),
		"join": joinRoom(other, 0), "spectate": spectate(other),
	} {
		if code := errCode(t, c.Request(m)); code != alreadyIn {
			t.Fatalf("%s past the cap: %v, want ALREADY_IN_ROOM", what, code)
		}
	}
}

// TestRoomsPerUserCountsHeldSeatsAndEveryConnection: one user reconnecting
// with the same token, whether its new connection replaces the open one
// or follows a dropped one, gets no room past the 4 its seats, held for
// the resume window, already count; with -multi-sockets, sockets open at
// once share the 4, even when their creates race.
func TestRoomsPerUserCountsHeldSeatsAndEveryConnection(t *testing.T) {
	t.Parallel()
	t.Run("reconnects", func(t *testing.T) {
		t.Parallel()
		e := roomCapEnv(t, nil)
		b, _ := e.connect("bob")
		other := joined(t, b.Request(create())).RoomId
		tok := e.token("alice", time.Hour)
		a, _ := e.connectToken("alice", tok)
		for range 4 {
			joined(t, a.Request(create()))
		}
		refusedAtCap(t, a, other)
		for round := range 4 {
			if round%2 == 0 {
				// A second login with the same token replaces the open one.
				next, w := e.connectToken("alice", tok)
				a.WaitClosed()
				a = next
				if len(w.Seats) != 4 {
					t.Fatalf("round %d: Welcome lists %d held seats, want 4", round, len(w.Seats))
				}
			} else {
				// The connection drops; the same token connects again.
				a.WS.UnderlyingConn().Close()
				a.WaitClosed()
				waitDropped(t, e, "alice", 4)
				a, _ = e.connectToken("alice", tok)
			}
			refusedAtCap(t, a, other)
		}
		if n := seatsOf(e, "alice"); n != 4 {
			t.Fatalf("alice has seats in %d rooms, want 4", n)
		}
		if n := e.hub.RoomsOf("alice"); n != 4 {
			t.Fatalf("alice is counted in %d rooms, want 4", n)
		}
	})
	t.Run("multi-sockets", func(t *testing.T) {
		t.Parallel()
		e := roomCapEnv(t, func(c *hub.Config) { c.MultipleSockets = true })
		b, _ := e.connect("bob")
		other := joined(t, b.Request(create())).RoomId
		tok := e.token("alice", time.Hour)
		var socks []*client
		for range 3 {
			c, _ := e.connectToken("alice", tok)
			socks = append(socks, c)
		}
		// Every socket asks for 4 rooms at once; the loops serve them in
		// parallel. A refusal can overtake an earlier create's Joined.
		for range 4 {
			for _, c := range socks {
				c.Send(create())
			}
		}
		ok := 0
		for _, c := range socks {
			replies := map[uint32]*tickroomv1.ServerMessage{}
			for len(replies) < 4 {
				m := c.Next(func(m *tickroomv1.ServerMessage) bool { return m.RequestId != 0 })
				replies[m.RequestId] = m
			}
			for _, m := range replies {
				if m.GetJoined() != nil {
					ok++
				} else if code := errCode(t, m); code != alreadyIn {
					t.Fatalf("create past the cap: %v, want ALREADY_IN_ROOM", code)
				}
			}
		}
		if ok != 4 {
			t.Fatalf("%d creates of 12 from 3 sockets succeeded, want 4", ok)
		}
		for _, c := range socks {
			refusedAtCap(t, c, other)
		}
		// A socket that drops keeps its rooms held; the others still may
		// not pass the cap, nor may a new one.
		socks[0].WS.UnderlyingConn().Close()
		socks[0].WaitClosed()
		c, _ := e.connectToken("alice", tok)
		refusedAtCap(t, c, other)
		refusedAtCap(t, socks[1], other)
		if n := seatsOf(e, "alice"); n != 4 {
			t.Fatalf("alice has seats in %d rooms, want 4", n)
		}
		if n := e.hub.RoomsOf("alice"); n != 4 {
			t.Fatalf("alice is counted in %d rooms, want 4", n)
		}
	})
}

// TestRoomsPerUserFreedByLeaveEndAndExpiry: a room stops counting when the
// user leaves it, when it ends, and when a held seat's window passes; the
// user then joins again, and a user in no room leaves no entry behind.
func TestRoomsPerUserFreedByLeaveEndAndExpiry(t *testing.T) {
	t.Parallel()
	e := roomCapEnv(t, func(c *hub.Config) { c.Runtime.DropGrace = 2 * time.Second })
	tok := e.token("alice", time.Hour)
	a, _ := e.connectToken("alice", tok)
	var rooms []string
	for range 4 {
		rooms = append(rooms, joined(t, a.Request(create())).RoomId)
	}
	// Leave: one room is freed.
	if m := a.Request(leaveRoom(rooms[0])); m.GetLeft() == nil {
		t.Fatalf("leave: %v", m)
	}
	rooms[0] = joined(t, a.Request(create())).RoomId
	if code := errCode(t, a.Request(create())); code != alreadyIn {
		t.Fatalf("fifth room: %v", code)
	}
	// The room ends: freed too.
	room, _ := e.hub.Runtime().Room(rooms[1])
	room.Close("test")
	waitFor(t, "room end counted", func() bool { return e.hub.RoomsOf("alice") == 3 })
	rooms[1] = joined(t, a.Request(create())).RoomId
	// Dropped: the four seats are held, and count, until their window
	// passes.
	a = dropAtTheCap(t, e, a, tok)
	waitFor(t, "held seats expire", func() bool { return e.hub.RoomsOf("alice") == 0 })
	for range 4 {
		joined(t, a.Request(create()))
	}
	if code := errCode(t, a.Request(create())); code != alreadyIn {
		t.Fatalf("fifth room after expiry: %v", code)
	}
	// A kick frees every room at once, held or not.
	if err := e.hub.Kick("alice", "test"); err != nil {
		t.Fatal(err)
	}
	a.WaitClosed()
	waitFor(t, "kick counted", func() bool { return e.hub.RoomsOf("alice") == 0 })
	if n := e.hub.TrackedUsers(); n != 0 {
		t.Fatalf("%d users still tracked with no room", n)
	}
}

// TestResumeAtTheRoomsPerUserCap: a user at the cap takes its held seats
// back, on a new connection or another socket, and each counts once.
func TestResumeAtTheRoomsPerUserCap(t *testing.T) {
	t.Parallel()
	e := roomCapEnv(t, func(c *hub.Config) { c.MultipleSockets = true })
	tok := e.token("alice", time.Hour)
	a, _ := e.connectToken("alice", tok)
	var rooms []string
	for range 4 {
		rooms = append(rooms, joined(t, a.Request(create())).RoomId)
	}
	a = dropAtTheCap(t, e, a, tok)
	for _, id := range rooms {
		if j := joined(t, a.Request(joinRoom(id, 1))); !j.Resumed {
			t.Fatalf("resume of %s at the cap: %v", id, j)
		}
	}
	if n := e.hub.RoomsOf("alice"); n != 4 {
		t.Fatalf("after the resumes alice is counted in %d rooms, want 4", n)
	}
	// A second socket takes a seat over from the first: still 4 rooms.
	a2, _ := e.connectToken("alice", tok)
	if j := joined(t, a2.Request(joinRoom(rooms[0], 0))); !j.Resumed {
		t.Fatalf("takeover at the cap: %v", j)
	}
	waitFor(t, "first socket told", func() bool {
		for _, m := range drain(a) {
			if l := m.GetLeft(); l != nil && l.RoomId == rooms[0] {
				return true
			}
		}
		return false
	})
	if n := e.hub.RoomsOf("alice"); n != 4 {
		t.Fatalf("after the takeover alice is counted in %d rooms, want 4", n)
	}
	if code := errCode(t, a2.Request(create())); code != alreadyIn {
		t.Fatalf("fifth room: %v", code)
	}
	// Leaving every room, from whichever socket holds it, frees them all.
	for i, id := range rooms {
		c := a
		if i == 0 {
			c = a2
		}
		if m := c.Request(leaveRoom(id)); m.GetLeft() == nil {
			t.Fatalf("leave %s: %v", id, m)
		}
	}
	if n := e.hub.RoomsOf("alice"); n != 0 {
		t.Fatalf("after leaving alice is counted in %d rooms", n)
	}
	if n := e.hub.TrackedUsers(); n != 0 {
		t.Fatalf("%d users still tracked with no room", n)
	}
	joined(t, a.Request(create()))
}

// dropAtTheCap drops alice's connection a while it holds 4 seats, connects
// her again with tok and checks that the 4 held seats are listed and still
// count: a create is refused. It returns the new connection.
func dropAtTheCap(t *testing.T, e *env, a *client, tok string) *client {
	t.Helper()
	a.WS.UnderlyingConn().Close()
	a.WaitClosed()
	waitDropped(t, e, "alice", 4)
	a, w := e.connectToken("alice", tok)
	if len(w.Seats) != 4 {
		t.Fatalf("Welcome lists %d held seats, want 4", len(w.Seats))
	}
	if code := errCode(t, a.Request(create())); code != alreadyIn {
		t.Fatalf("create with 4 held seats: %v", code)
	}
	return a
}

// TestLapsedHeldSeatsStopCounting: seats held for a user that nothing
// will drop (held just as their rooms let them go) stop counting against
// the cap once their window is over, when the user asks for a room.
func TestLapsedHeldSeatsStopCounting(t *testing.T) {
	t.Parallel()
	e := roomCapEnv(t, nil)
	e.hub.HoldLapsed("bob", 4, 2*time.Second)
	b, _ := e.connect("bob")
	joined(t, b.Request(create()))
	if n := e.hub.RoomsOf("bob"); n != 1 {
		t.Fatalf("bob counted in %d rooms, want 1 (the lapsed seats forgotten)", n)
	}
}
