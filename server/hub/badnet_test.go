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
// no reset) is taken for idle, its socket torn down at the close deadline,
// and its seat held for the drop grace that follows, then freed; the other
// player, who answers every ping, is told and stays connected.
func TestVanishedPeerFreesItsSeat(t *testing.T) {
	t.Parallel()
	// A ping goes out at the first sweep after PingInterval of silence, so
	// up to PingInterval+SweepInterval into it, and the idle close comes at
	// the first sweep past IdleTimeout: a client that answers pings has
	// IdleTimeout-PingInterval-SweepInterval (1.65 s here) to get a pong
	// through. With 400 ms, a ping every 133 ms and 250 ms sweeps it had as
	// little as one sweep, and a test client slowed by a loaded box was
	// closed for idle with the vanished one.
	const (
		ping, idle, sweep, closeWait = 100 * time.Millisecond, 2 * time.Second, 250 * time.Millisecond, 200 * time.Millisecond
		grace                        = time.Second
	)
	e := start(t, options{
		server: func(c *server.Config) {
			c.PingInterval, c.IdleTimeout, c.SweepInterval, c.CloseTimeout = ping, idle, sweep, closeWait
		},
		hub: func(c *hub.Config) { c.Runtime.DropGrace = grace },
	})
	p := startNetPath(t, e.srv.Addr().String())
	a := p.connect(t, e.token("alice", time.Hour))
	b, _ := e.connect("bob")
	ja := joined(t, a.Request(quickMatch("tally")))
	joined(t, b.Request(quickMatch("tally")))
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	drain(b)

	start := time.Now()
	p.Vanish()
	defer func() {
		if t.Failed() { // what a failure under load left behind
			t.Logf("bob's close code %d, reader error %v; the server holds %d connections, closed %v", b.CloseCode(), b.Err(), e.srv.Conns(), e.srv.Stats().ClosedFor)
		}
	}()
	// Each time is read on the side that keeps the test's own delays out
	// of the bounds: open is when the last look began that found alice's
	// socket open, freed when the first ended that found her seat free.
	var open, freed time.Time
	waitFor(t, "alice's socket closed for idle", func() bool {
		at := time.Now()
		if e.srv.Stats().ClosedFor[server.ReasonIdle] == 0 {
			open = at
			return false
		}
		return true
	})
	waitFor(t, "seat freed", func() bool {
		if room.Info().Players > 1 {
			return false
		}
		freed = time.Now()
		return true
	})
	var dropped *tickroomv1.RoomEvent
	waitFor(t, "bob told alice dropped", func() bool {
		for _, m := range drain(b) {
			if ev := m.GetRoomEvent(); ev != nil && ev.Kind == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED && ev.UserId == "alice" {
				dropped = ev
			}
		}
		return dropped != nil
	})
	if code := b.CloseCode(); code != 0 {
		t.Fatalf("bob's connection closed (code %d); the server closed %v", code, e.srv.Stats().ClosedFor)
	}
	if n := e.srv.Stats().ClosedFor[server.ReasonIdle]; n != 1 {
		t.Fatalf("%d connections closed for idle, want alice's alone", n)
	}
	// The idle close fires up to a sweep late, the close deadline too; the
	// margin is for a loaded box.
	if d, most := open.Sub(start), idle+closeWait+2*sweep+time.Second; d > most {
		t.Fatalf("alice's socket still open %v after she vanished, want it closed within %v", d, most)
	}
	// The room counts the grace from the tick that saw the drop, which a
	// loaded box runs late; half the grace is left for that.
	held := time.UnixMilli(dropped.HeldUntilMs)
	if freed.Before(held) {
		t.Fatalf("seat freed at %v, before the %v bob was told it is held until", freed, held)
	}
	if d := held.Sub(open); d < grace/2 {
		t.Fatalf("seat held until %v after alice's socket closed, want the drop grace (%v)", d, grace)
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
			// Bob and alice's new socket answer pings and must outlive the
			// old one however loaded the box: with these a client has
			// IdleTimeout-PingInterval-SweepInterval (1.65 s) to get a pong
			// through (see TestVanishedPeerFreesItsSeat). With 1 s and a
			// ping every 300 ms it had 450 ms, and one slowed by a loaded
			// box was closed for idle too.
			e := start(t, options{
				server: func(c *server.Config) {
					c.PingInterval, c.IdleTimeout, c.SweepInterval, c.CloseTimeout = 100*time.Millisecond, 2*time.Second, 250*time.Millisecond, 200*time.Millisecond
				},
				hub: func(c *hub.Config) { c.MultipleSockets = multi },
			})
			p := startNetPath(t, e.srv.Addr().String())
			p.Up.Delay.Store(int64(150 * time.Millisecond))
			p.Down.Delay.Store(int64(150 * time.Millisecond))
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
			p.Vanish()

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
					t.Logf("close codes: alice's new socket %d, bob %d; the server holds %d connections, closed %v", a2.CloseCode(), b.CloseCode(), e.srv.Conns(), e.srv.Stats().ClosedFor)
				}
			}()
			closes := func() (n uint64) {
				for _, k := range e.srv.Stats().ClosedFor {
					n += k
				}
				return n
			}
			waitFor(t, "the old socket closed", func() bool { return closes() > 0 })
			if n, open := closes(), e.srv.Conns(); n != 1 || open != 2 {
				t.Fatalf("%d connections closed and %d open, want alice's old one closed and her new one and bob's open", n, open)
			}
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
