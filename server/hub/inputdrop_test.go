package hub_test

import (
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/hub"
	"google.golang.org/protobuf/proto"
)

// TestDroppedInputsAreToldWithoutARequestID: inputs sent with request id
// 0, as client-js sends every input, that the room drops over the seat's
// input rate are told to their sender, which seqs and why, in an
// InputDropped at the room's next tick; before, they got no answer at all
// and the next State's ack passed over them, as if they were applied. A
// flood past the rate is told in one notice a tick, however long.
func TestDroppedInputsAreToldWithoutARequestID(t *testing.T) {
	t.Parallel()
	// The room ticks only when told, and its clock stands still between
	// ticks: no input's worth comes back to the seat meanwhile.
	clock := game.NewManualClock(time.Now())
	e := start(t, options{
		hub:    func(c *hub.Config) { c.Runtime.Clock = clock },
		server: func(c *server.Config) { c.MessageRate = 10_000 }, // the flood is the room's to refuse, not the transport's
		games: func(r *game.Registry) {
			if err := r.Register(game.Definition{Name: "slowtally", New: newTally, TickRate: 50, MaxPlayers: 4, InputRate: 5}); err != nil {
				t.Fatal(err)
			}
		},
	})
	rt := e.hub.Runtime()
	a, _ := e.connect("ann")
	id := a.Send(createRoom("slowtally"))
	waitFor(t, "ann's join queued", func() bool {
		rooms := rt.Rooms(game.RoomFilter{})
		return len(rooms) == 1 && rooms[0].Players == 1
	})
	_ = rt.Advance(100 * time.Millisecond)
	j := joined(t, a.Reply(id))
	flood := func(from, to uint32) {
		for seq := from; seq <= to; seq++ {
			a.Write(input(j.RoomId, seq, []byte("+"))) // request id 0
		}
		// Answered after the loop read every input: all reached the room.
		a.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	}
	rate := tickroomv1.ErrorCode_ERROR_CODE_RATE_LIMITED

	// The seat's bucket holds five inputs: 1 to 5 are taken, 6 to 40
	// dropped.
	flood(1, 40)
	_ = rt.Advance(20 * time.Millisecond)
	got := a.Next(isKind[*tickroomv1.ServerMessage_InputDropped]).GetInputDropped()
	want := &tickroomv1.InputDropped{RoomId: j.RoomId, Reason: rate, Runs: []uint32{6, 40}, Count: 35}
	if !proto.Equal(got, want) {
		t.Fatalf("after 40 inputs, 5 within the seat's rate: told %v, want %v", got, want)
	}
	waitFor(t, "inputs 1 to 5 acked", func() bool { return a.ack(j.RoomId, j.Seat) == 5 })
	if v := string(a.entities(j.RoomId)[uint64(j.Seat)]); v != "5" {
		t.Fatalf("ann's tally is %q, want the 5 inputs taken", v)
	}

	// 200 more, the bucket empty (a tenth of an input came back in the
	// tick): all dropped, told in one notice.
	flood(41, 240)
	_ = rt.Advance(20 * time.Millisecond)
	got = a.Next(isKind[*tickroomv1.ServerMessage_InputDropped]).GetInputDropped()
	want = &tickroomv1.InputDropped{RoomId: j.RoomId, Reason: rate, Runs: []uint32{41, 240}, Count: 200}
	if !proto.Equal(got, want) {
		t.Fatalf("after 200 inputs over the rate: told %v, want %v", got, want)
	}
	// The tick's frames were queued before the ping was sent: its pong
	// comes after them.
	ping := a.Send(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_Ping{Ping: &tickroomv1.Ping{}}})
	a.Next(func(m *tickroomv1.ServerMessage) bool {
		if d := m.GetInputDropped(); d != nil {
			t.Fatalf("a second notice for one tick's drops: %v", d)
		}
		return m.RequestId == ping
	})
}
