package hub_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/hub"
)

// Each join of a room and each leave sends a RoomEvent to every other
// member, and nothing bounded how fast a user joined and left: a guest
// cycling JoinRoom and LeaveRoom at its message rate had the server send
// each member of a room of 200 two events a cycle, tens of thousands of
// frames a second. The joins that make a new membership are now a token
// bucket's, per user (docs/limits.md); past it a JoinRoom is refused with
// ERROR_CODE_RATE_LIMITED and a retry hint, before it touches the room.
// The default bucket (16, then one every 2 s) would let 64 cycles through
// only after 96 s, so the refusals come however slowly the box answers;
// a test that counts on no token coming back sets a slower rate.

const codeRateLimited = tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED

// churn sends up to n JoinRoom (spectate: as a spectator) and LeaveRoom
// pairs of roomID from c, one at a time, until stop says enough; it
// returns how many joins were served and how many refused RATE_LIMITED,
// failing the test on any other answer or on a refusal without a retry
// hint.
func churn(t *testing.T, c *client, roomID string, spectator bool, n int, stop func(served, refused int) bool) (served, refused int) {
	t.Helper()
	join := joinRoom(roomID, 0)
	if spectator {
		join = spectate(roomID)
	}
	for range n {
		m := c.Request(join)
		switch {
		case m.GetJoined() != nil:
			served++
			if l := c.Request(leaveRoom(roomID)); l.GetLeft() == nil {
				t.Fatalf("LeaveRoom after a join: %v", l)
			}
		case m.GetError().GetCode() == codeRateLimited:
			refused++
			if m.GetError().RetryAfterMs == 0 {
				t.Fatalf("a refused JoinRoom carries no retry_after_ms: %v", m)
			}
		default:
			t.Fatalf("JoinRoom of %s: %v", roomID, m)
		}
		if stop != nil && stop(served, refused) {
			break
		}
	}
	return served, refused
}

// eventsOf reads c's messages up to the PLAYER_JOINED of sentinel in
// roomID and counts the RoomEvents about user on the way.
func eventsOf(c *client, roomID, user, sentinel string) int {
	n := 0
	c.Next(func(m *tickroomv1.ServerMessage) bool {
		ev := m.GetRoomEvent()
		if ev == nil || ev.RoomId != roomID {
			return false
		}
		if ev.UserId == user {
			n++
		}
		return ev.UserId == sentinel && ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_JOINED
	})
	return n
}

func TestJoinChurnIsRateLimited(t *testing.T) {
	t.Parallel()
	// A token every 1,000 s: the guest's second login must find its
	// bucket as its churn left it, however long the box takes between
	// them (at the default rate, 8 s would give it the 4 tokens that the
	// check below takes for a fresh bucket).
	e := start(t, options{hub: func(c *hub.Config) { c.JoinRate = 0.001 }})
	host, _ := e.connect("host")
	room := joined(t, host.Request(createSized("tally", 4))).RoomId

	// A player joining and leaving the host's room.
	guest, _ := e.connect("guest")
	const n = 64
	served, refused := churn(t, guest, room, false, n, nil)
	if refused == 0 {
		t.Fatalf("%d JoinRoom and LeaveRoom cycles of one guest, none refused: each sent the room's other members two events", n)
	}
	if served == 0 {
		t.Fatal("no join served: the bucket's burst should let a few through")
	}
	// The refused joins left the room alone: the host heard of the
	// served ones only, two events each.
	sentinel, _ := e.connect("sentinel")
	joined(t, sentinel.Request(joinRoom(room, 0)))
	if got := eventsOf(host, room, "guest", "sentinel"); got != 2*served {
		t.Fatalf("the host got %d room events of the guest, want %d: two for each of its %d served joins (of %d)", got, 2*served, served, n)
	}

	// A spectator, likewise.
	watcher, _ := e.connect("watcher")
	if _, refused := churn(t, watcher, room, true, n, nil); refused == 0 {
		t.Fatalf("%d spectating JoinRoom and LeaveRoom cycles, none refused", n)
	}

	// The bucket is the user's: a new login of the guest, which closes
	// its connection, does not come with a fresh one (which would let
	// its four first joins through).
	guest2, _ := e.connect("guest")
	if _, refused := churn(t, guest2, room, false, 4, func(_, refused int) bool { return refused > 0 }); refused == 0 {
		t.Fatal("a new login of the guest joined 4 times at once: its bucket started full again")
	}

	// A join refused before it reached a room takes nothing from a
	// fresh bucket: a user sending JoinRoom of rooms that are not there
	// still joins one after.
	other, _ := e.connect("other")
	for range n {
		if code := errCode(t, other.Request(joinRoom("nope", 0))); code != tickroomv1.ErrorCode_ERROR_CODE_ROOM_NOT_FOUND {
			t.Fatalf("JoinRoom of a room that is not there: %v", code)
		}
	}
	joined(t, other.Request(joinRoom(room, 0)))
}

// A second connection of the user shares its bucket, and taking back a
// seat held for a dropped connection of the user's (a resume) is never
// refused, the bucket spent or not.
func TestJoinRateIsTheUsersAndSparesResumes(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.MultipleSockets = true }})
	owner, _ := e.connect("owner")
	a := joined(t, owner.Request(createSized("tally", 4))).RoomId
	host, _ := e.connect("host")
	room := joined(t, host.Request(createSized("tally", 4))).RoomId

	p1, _ := e.connect("p")
	ja := joined(t, p1.Request(joinRoom(a, 0)))
	const n = 64
	if _, refused := churn(t, p1, room, false, n, func(_, refused int) bool { return refused > 0 }); refused == 0 {
		t.Fatalf("%d JoinRoom and LeaveRoom cycles of one user, none refused", n)
	}

	spent := func(c *client) {
		t.Helper()
		if _, refused := churn(t, c, room, false, 4, func(_, refused int) bool { return refused > 0 }); refused == 0 {
			t.Fatal("4 joins of a user whose bucket was spent, none refused: the second connection has a bucket of its own")
		}
	}
	p2, _ := e.connect("p")
	spent(p2)

	// p1's network goes; its seat in a is held, and p2 resumes it.
	tick, _, _, _ := p1.world(a)
	p2.adopt(p1, a)
	p1.WS.UnderlyingConn().Close()
	p1.WaitClosed()
	owner.Next(func(m *tickroomv1.ServerMessage) bool {
		ev := m.GetRoomEvent()
		return ev != nil && ev.RoomId == a && ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED
	})
	spent(p2)
	if j := joined(t, p2.Request(joinRoom(a, tick))); !j.Resumed || j.Seat != ja.Seat {
		t.Fatalf("resume of a: resumed %v seat %d, want seat %d", j.Resumed, j.Seat, ja.Seat)
	}
}

// With MultipleSockets, a JoinRoom (or a resume) from one socket of a
// user into a room where another of its sockets, still open, has the
// user's seat moves the seat, and every member of the room is sent a
// PLAYER_RESUMED. Such moves were never charged, so two sockets passing
// a seat back and forth sent every member an event a move, at their
// message rate, whatever the user's bucket held. They now take from the
// bucket as a join does; a held seat's resume stays free
// (TestJoinRateIsTheUsersAndSparesResumes).
func TestSeatMovesBetweenSocketsAreCharged(t *testing.T) {
	t.Parallel()
	// A token every 1,000 s: none comes back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) { c.MultipleSockets, c.JoinRate = true, 0.001 }})
	host, _ := e.connect("host")
	room := joined(t, host.Request(createSized("tally", 4))).RoomId
	other := joined(t, host.Request(createSized("tally", 4))).RoomId
	p1, _ := e.connect("p")
	p2, _ := e.connect("p")
	joined(t, p1.Request(joinRoom(room, 0)))
	if _, refused := churn(t, p2, other, false, 64, func(_, refused int) bool { return refused > 0 }); refused == 0 {
		t.Fatal("64 JoinRoom and LeaveRoom cycles of one user, none refused")
	}

	// The bucket spent, the sockets pass the seat back and forth.
	const n = 8
	moved := 0
	for i := range n {
		c := p2
		if moved%2 == 1 {
			c = p1
		}
		m := c.Request(joinRoom(room, 0))
		switch {
		case m.GetJoined() != nil:
			moved++
		case m.GetError().GetCode() == codeRateLimited && m.GetError().RetryAfterMs > 0:
		default:
			t.Fatalf("move %d of the seat: %v", i, m)
		}
	}
	if moved == n {
		t.Fatalf("%d moves of a seat between two open sockets of a user whose joins were spent, none refused: each sent every member of the room a PLAYER_RESUMED", n)
	}
	// A resume from the socket without the seat is a move too.
	holder, mover := p1, p2
	if moved%2 == 1 {
		holder, mover = p2, p1
	}
	tick, _, _, _ := holder.world(room)
	if code := errCode(t, mover.Request(joinRoom(room, max(tick, 1)))); code != codeRateLimited {
		t.Fatalf("a resume of a seat another open socket of the user has, its joins spent: %v, want RATE_LIMITED", code)
	}
	// The host heard of p's first join and of the moves served, no more.
	sentinel, _ := e.connect("sentinel")
	joined(t, sentinel.Request(joinRoom(room, 0)))
	if got := eventsOf(host, room, "p", "sentinel"); got != 1+moved {
		t.Fatalf("the host got %d room events of p, want %d: its join and %d moves served", got, 1+moved, moved)
	}
}

// A QuickMatch on one node takes a token as a JoinRoom does, and gives it
// back when refused at once: a user whose quick-matches of a game that
// is not there were all refused still quick-matches after, and one whose
// joins are spent is refused RATE_LIMITED.
func TestQuickMatchIsChargedOnOneNode(t *testing.T) {
	t.Parallel()
	// A token every 1,000 s: none comes back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) { c.JoinRate = 0.001 }})
	host, _ := e.connect("host")
	room := joined(t, host.Request(createSized("tally", 4))).RoomId

	p, _ := e.connect("p")
	for range 64 {
		if code := errCode(t, p.Request(quickMatch("nope"))); code == codeRateLimited {
			t.Fatal("QuickMatches of a game that is not there, each refused at once, were charged: one was refused RATE_LIMITED")
		}
	}
	joined(t, p.Request(quickMatch("tally")))

	q, _ := e.connect("q")
	if _, refused := churn(t, q, room, true, 64, func(_, refused int) bool { return refused > 0 }); refused == 0 {
		t.Fatal("64 spectating JoinRoom and LeaveRoom cycles, none refused")
	}
	m := q.Request(quickMatch("tally"))
	if m.GetError().GetCode() != codeRateLimited || m.GetError().RetryAfterMs == 0 {
		t.Fatalf("a QuickMatch of a user whose joins are spent: %v, want RATE_LIMITED with retry_after_ms", m)
	}
}

// A spectator's seat held for its dropped connection is resumed with the
// user's joins spent, as a player's is.
func TestSpectatorsResumeIsNotCharged(t *testing.T) {
	t.Parallel()
	e := start(t, options{hub: func(c *hub.Config) { c.JoinRate = 0.001 }})
	host, _ := e.connect("host")
	room := joined(t, host.Request(createSized("tally", 4))).RoomId
	other := joined(t, host.Request(createSized("tally", 4))).RoomId

	w1, _ := e.connect("w")
	joined(t, w1.Request(spectate(room)))
	var tick uint64
	for deadline := time.Now().Add(10 * time.Second); tick == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no State of the room within 10 s of spectating it")
		}
		tick, _, _, _ = w1.world(room)
	}
	// A new login of the user closes w1: its spectator's seat is held.
	w2, _ := e.connect("w")
	w2.adopt(w1, room)
	w1.WaitClosed()
	if _, refused := churn(t, w2, other, true, 64, func(_, refused int) bool { return refused > 0 }); refused == 0 {
		t.Fatal("64 spectating JoinRoom and LeaveRoom cycles, none refused")
	}
	resume := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true, ResumeTick: max(tick, 1)}}}
	if j := joined(t, w2.Request(resume)); !j.Resumed || !j.Spectator {
		t.Fatalf("a spectator's resume with the user's joins spent: resumed %v, spectator %v", j.Resumed, j.Spectator)
	}
	if _, _, _, err := w2.world(room); err != nil {
		t.Fatalf("the resumed room's states: %v", err)
	}
}

// A JoinRoom the game refuses at the room's tick sent the room's members
// nothing, as one refused before it reached the room, and gives its
// token back too: a user the game refuses again and again still joins
// another room after.
func TestJoinRefusedAtTheTickIsNotCharged(t *testing.T) {
	t.Parallel()
	// A token every 1,000 s: none comes back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) { c.JoinRate = 0.001 }, games: noAliceGames(t)})
	bob, _ := e.connect("bob")
	refusing := joined(t, bob.Request(createSized("noalice", 4))).RoomId
	room := joined(t, bob.Request(createSized("tally", 4))).RoomId

	alice, _ := e.connect("alice")
	const n = 32
	for i := range n {
		m := alice.Request(joinRoom(refusing, 0))
		if code := errCode(t, m); code != tickroomv1.ErrorCode_ERROR_CODE_FORBIDDEN {
			t.Fatalf("JoinRoom %d of %d of a room whose game refuses alice at the tick: %v, want FORBIDDEN: the refused joins were charged", i+1, n, m)
		}
	}
	joined(t, alice.Request(joinRoom(room, 0)))
}

// A JoinRoom sent after a LeaveRoom of a join still pending waits for
// that join to settle (afterLeave); when the connection closes first, it
// is dropped unasked, having sent no event, and gives its token back as
// a join refused before it reached the room: of the user's burst, only
// the first join, seated and given up, is spent.
func TestJoinQueuedAfterALeaveOfAClosedConnectionIsNotCharged(t *testing.T) {
	t.Parallel()
	clock := game.NewManualClock(time.Now()) // the rooms tick only when told
	// A token every 1,000 s: none comes back while the test runs.
	e := start(t, options{hub: func(c *hub.Config) { c.Runtime.Clock, c.JoinRate = clock, 0.001 }})
	rt := e.hub.Runtime()
	room := bobsRoom(t, e, "tally")

	a, _ := e.connect("alice")
	a.Send(joinRoom(room, 0))
	a.Send(leaveRoom(room))
	a.Send(joinRoom(room, 0))
	// Answered once the three before it were read: the second join waits.
	if m := a.Request(queryPresence("alice")); m.GetPresenceList() == nil {
		t.Fatalf("a presence query after JoinRoom, LeaveRoom, JoinRoom: %v", m)
	}
	a.WS.UnderlyingConn().Close()
	waitFor(t, "alice offline", func() bool {
		return e.hub.Presence("alice").Status == tickroomv1.PresenceStatus_PRESENCE_STATUS_OFFLINE
	})
	// The room settles the first join: seated, given up as it was left.
	waitFor(t, "alice's seat given up", func() bool {
		_ = rt.Advance(20 * time.Millisecond)
		r, ok := rt.Room(room)
		return ok && r.Seated() == 1 && e.hub.RoomsOf("alice") == 0
	})

	// The rooms tick on their own from now.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				_ = rt.Advance(20 * time.Millisecond)
			}
		}
	}()
	a2, _ := e.connect("alice")
	served, _ := churn(t, a2, room, true, 64, func(_, refused int) bool { return refused > 0 })
	if served != 15 {
		t.Fatalf("alice joined %d times before RATE_LIMITED, want 15: her burst, 16, less the join seated and given up; the join queued after her leave, dropped unasked with her connection, kept its token", served)
	}
}
