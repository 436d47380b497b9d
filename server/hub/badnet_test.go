package hub_test

import (
	"fmt"

	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/hub"
)

// TestVanishedPeerFreesItsSeat: a player whose network vanishes (no FIN,
// no reset) is taken for dropped after the idle timeout and loses its seat
// after the drop grace that follows.
func TestVanishedPeerFreesItsSeat(t *testing.T) {
	t.Parallel()
	const idle, grace = 400 * time.Millisecond, 500 * time.Millisecond
	e := start(t, options{
		server: func(c *server.Config) { c.PingInterval, c.IdleTimeout = idle/3, idle },
		hub:    func(c *hub.Config) { c.Runtime.DropGrace = grace },
	})
	p := startNetPath(t, e.srv.Addr().String())
	a := p.connect(t, e.token("alice", time.Hour))
	b, _ := e.connect("bob")
	ja := joined(t, a.Request(quickMatch("tally")))
	joined(t, b.Request(quickMatch("tally")))
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	drain(b)

	start := time.Now()
	p.vanish()
	var dropped time.Duration
	defer func() {
		if t.Failed() { // what a failure under load left behind
			t.Logf("bob's close code %d, reader error %v; the server holds %d connections", b.CloseCode(), b.Err(), e.srv.Conns())
		}
	}()
	waitFor(t, "bob sees alice dropped", func() bool {
		for _, m := range drain(b) {
			if ev := m.GetRoomEvent(); ev != nil && ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED {
				dropped = time.Since(start)
				return true
			}
		}
		return false
	})
	waitFor(t, "seat freed", func() bool { return room.Info().Players == 1 })
	freed := time.Since(start)
	// The socket is closed after the idle timeout and, its close frame
	// unanswered, torn down at the close deadline (2 s); the drop grace
	// runs from there.
	if dropped > idle+3*time.Second || freed < dropped+grace-100*time.Millisecond {
		t.Fatalf("dropped after %v, seat freed after %v; want the drop within %v and the seat held %v more", dropped, freed, idle+3*time.Second, grace)
	}
}

// TestResumeWhileTheOldSocketIsHalfOpen: a phone that lost its network
// comes back on another (a new TCP connection) before the server has
// noticed the old one is gone; its resume takes the seat back at once, with
// one socket per user and with several.
func TestResumeWhileTheOldSocketIsHalfOpen(t *testing.T) {
	t.Parallel()
	for _, multi := range []bool{false, true} {
		t.Run(fmt.Sprintf("multi=%v", multi), func(t *testing.T) {
			t.Parallel()
			e := start(t, options{
				server: func(c *server.Config) {
					c.PingInterval, c.IdleTimeout, c.CloseTimeout = 300*time.Millisecond, time.Second, 200*time.Millisecond
				},
				hub: func(c *hub.Config) { c.MultipleSockets = multi },
			})
			p := startNetPath(t, e.srv.Addr().String())
			p.up.delay.Store(int64(150 * time.Millisecond))
			p.down.delay.Store(int64(150 * time.Millisecond))
			tok := e.token("alice", time.Hour)
			a := p.connect(t, tok)
			b, _ := e.connect("bob")
			ja := joined(t, a.Request(quickMatch("tally")))
			joined(t, b.Request(quickMatch("tally")))
			// Inputs over a 300 ms round trip: acked in order, each once.
			for seq := uint32(1); seq <= 20; seq++ {
				a.Send(input(ja.RoomId, seq, []byte("+")))
				time.Sleep(10 * time.Millisecond)
			}
			waitFor(t, "inputs acked", func() bool { return a.ack(ja.RoomId, ja.Seat) == 20 })
			last, _, _, _ := a.world(ja.RoomId)
			p.vanish()

			a2, w := e.connectToken("alice", tok)
			a2.adopt(a, ja.RoomId)
			t.Logf("welcome seats %v", w.Seats)
			j := joined(t, a2.Request(joinRoom(ja.RoomId, last)))
			if j.Seat != ja.Seat {
				t.Fatalf("seat %d, want %d", j.Seat, ja.Seat)
			}
			if j.LastInputSeq != 20 {
				t.Fatalf("last input %d, want 20", j.LastInputSeq)
			}
			a2.Send(input(ja.RoomId, 21, []byte("+")))
			waitFor(t, "input after resume acked", func() bool { return a2.ack(ja.RoomId, ja.Seat) == 21 })
			if v := string(a2.entities(ja.RoomId)[uint64(ja.Seat)]); v != "21" {
				t.Fatalf("alice's entity %q, want 21", v)
			}
			// The old socket's idle timeout, later, takes nothing from the
			// resumed seat.
			defer func() {
				if t.Failed() { // what a failure under load left behind
					t.Logf("close codes: alice's new socket %d, bob %d; the server holds %d connections", a2.CloseCode(), b.CloseCode(), e.srv.Conns())
				}
			}()
			waitFor(t, "the old socket closed", func() bool { return e.srv.Conns() == 2 })
			time.Sleep(300 * time.Millisecond)
			room, _ := e.hub.Runtime().Room(ja.RoomId)
			for _, o := range room.Players() {
				if o.UserID == "alice" && !o.Connected {
					t.Fatalf("alice's seat dropped after the old socket closed")
				}
			}
			a2.Send(input(ja.RoomId, 22, []byte("+")))
			waitFor(t, "input after the old socket closed acked", func() bool { return a2.ack(ja.RoomId, ja.Seat) == 22 })
		})
	}
}
