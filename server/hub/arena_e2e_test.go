package hub_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/protocol/arenav1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestArenaFiftyClientsRebuildTheRoomsState runs 50 clients in 5 arena
// rooms of 10, steering for a few seconds, and checks that every client's
// state rebuilt from deltas equals the room's own state: a spectator that
// joins late gets the room's keyframe, and every player's rebuilt state at
// that tick is the same bytes.
func TestArenaFiftyClientsRebuildTheRoomsState(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: func(r *game.Registry) {
		if err := r.Register(arena.Definition()); err != nil {
			t.Fatal(err)
		}
	}})
	const clients, size = 50, 10
	qm := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_QuickMatch{QuickMatch: &tickroomv1.QuickMatch{Game: "arena", MaxPlayers: size}}}
	rooms := map[string][]*client{}
	seats := map[*client]uint32{}
	for i := range clients {
		c, _ := e.connect(fmt.Sprintf("p%02d", i))
		j := joined(t, c.Request(qm.CloneVT()))
		rooms[j.RoomId] = append(rooms[j.RoomId], c)
		seats[c] = j.Seat
	}
	if len(rooms) != clients/size {
		t.Fatalf("%d rooms, want %d", len(rooms), clients/size)
	}

	// Everyone steers at 10 Hz for 2 s.
	var wg sync.WaitGroup
	for room, cs := range rooms {
		for k, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := uint32(1); seq <= 20; seq++ {
					dx, dy := int32((k%3)-1)*1000, int32(((k+int(seq)/5)%3)-1)*1000
					b, _ := (&arenav1.Input{Dx: dx, Dy: dy}).MarshalVT()
					c.Send(input(room, seq, b))
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()

	for room, cs := range rooms {
		for _, c := range cs {
			waitFor(t, c.user+" acked", func() bool { return c.ack(room, seats[c]) == 20 })
		}
		// A late spectator's keyframe is the room's truth at its tick.
		spec, _ := e.connect("spec-" + room)
		joined(t, spec.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}}))
		var keyTick uint64
		var truth string
		waitFor(t, "spectator keyframe", func() bool {
			keyTick, truth, _, _ = spec.world(room)
			return keyTick != 0
		})
		for _, c := range cs {
			waitFor(t, c.user+" reaches the keyframe's tick", func() bool {
				tick, _, _, err := c.world(room)
				if err != nil {
					t.Fatalf("%s: %v", c.user, err)
				}
				return tick >= keyTick
			})
			got, ok := c.history(room)[keyTick]
			if !ok {
				// Nothing changed at that tick for this client; its state
				// then is the last one it applied before it.
				got = latestBefore(c.history(room), keyTick)
			}
			if got != truth {
				t.Fatalf("%s's rebuilt state at tick %d differs from the room's keyframe", c.user, keyTick)
			}
		}
		sameHistories(t, room, cs...)
	}
}

// latestBefore returns the digest of the newest tick at or before tick.
func latestBefore(h map[uint64]string, tick uint64) string {
	var best uint64
	for t := range h {
		if t <= tick && t > best {
			best = t
		}
	}
	return h[best]
}
