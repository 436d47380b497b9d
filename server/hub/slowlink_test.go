package hub_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
)

// bulk is a game whose one entity is 1 KB that changes whole every tick.
type bulk struct{ n uint64 }

func (g *bulk) Accept(*game.Context, game.Player) error            { return nil }
func (g *bulk) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *bulk) Input(*game.Context, uint32, []byte) error          { return nil }
func (g *bulk) Update(*game.Context, time.Duration)                { g.n++ }
func (g *bulk) Encode(s *game.Snapshot) {
	b := make([]byte, 1024)
	for i := range b {
		b[i] = byte(g.n*7 + uint64(i)*13)
	}
	s.EntityBytes(1, b)
	s.GlobalsBytes(strconv.AppendUint(nil, g.n, 10))
}

// TestSlowDownlinkSkipsToTheLatest: a player whose downlink carries a
// fifth of what its room sends (~50 KB/s of states through a relay
// throttled to 10 KB/s) soon gets only the latest states (latest wins),
// rather than every state in order ever further behind: the kernel keeps
// at most server.Config.NotSentLowat unsent and the room skips its states
// past HighWater. Before, the kernel's whole send buffer and 256 KiB more
// filled first, ~500 KiB of states, and at 8 s the player was 7 s behind
// and falling further with no state skipped. The other player gets every
// tick, and the slow one, its link back, is current at once with a state
// that applies.
func TestSlowDownlinkSkipsToTheLatest(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: func(r *game.Registry) {
		_ = r.Register(game.Definition{Name: "bulk", TickRate: 50, MaxPlayers: 4, New: func(game.Setup) (game.Game, error) { return &bulk{}, nil }})
	}})
	p := startNetPath(t, e.srv.Addr().String())
	a := p.connect(t, e.token("alice", time.Hour))
	b, _ := e.connect("bob")
	ja := joined(t, a.Request(quickMatch("bulk")))
	joined(t, b.Request(quickMatch("bulk")))
	room, _ := e.hub.Runtime().Room(ja.RoomId)
	p.Down.Rate.Store(10 << 10)
	deadline := time.Now().Add(5 * time.Second)
	for room.Stats().StateSkipped == 0 {
		if time.Now().After(deadline) {
			at, _, fa, _ := a.world(ja.RoomId)
			t.Fatalf("after 5 s at a fifth of the room's rate no state was skipped: alice at tick %d (%d frames), the room at %d", at, fa, room.Info().Tick)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("states skipped from %v after the throttle on", 5*time.Second-time.Until(deadline))
	time.Sleep(2 * time.Second)
	at, _, fa, _ := a.world(ja.RoomId)
	bt, _, fb, _ := b.world(ja.RoomId)
	t.Logf("throttled: room tick %d, alice %d (%d frames), bob %d (%d frames)", room.Info().Tick, at, fa, bt, fb)
	if tick := room.Info().Tick; bt+50 < tick || uint64(fb)+25 < bt {
		t.Fatalf("bob at tick %d with %d frames, the room at %d: the slow player held him up", bt, fb, tick)
	}
	back := room.Info().Tick
	p.Down.Rate.Store(0)
	deadline = time.Now().Add(5 * time.Second)
	for {
		at, _, _, err := a.world(ja.RoomId)
		if err != nil {
			t.Fatal(err)
		}
		if at >= back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after her link came back at the room's tick %d alice is at %d", back, at)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if room.Stats().StateSkipped == 0 {
		t.Fatal("no state skipped")
	}
}
