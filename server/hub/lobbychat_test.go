package hub_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/lobbychat"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// TestALobbychatRoomTakesABoundedLineRate: a lobbychat line goes to every
// member of its room, and a room took each member's lines up to its seat's
// input rate (5 a second), so what every member got, and the deliveries a
// room cost, grew with the members who chatted: a few guests flooding a
// busy room sent each of its members 5 lines a second apiece (200 members
// at their rate, 1,000 lines a second to each, 200,000 deliveries). A
// room now takes lobbychat.LineRate lines a second from all its members
// together, with a burst of LineBurst, as a lobby channel does; a line
// past it is refused to its sender alone. Twenty members send their five
// lines at once: the room takes the burst and refuses the rest (the
// lines arrive within a second or two, far less than the 3 s the rate
// would need to refill what the burst leaves out).
func TestALobbychatRoomTakesABoundedLineRate(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: func(r *game.Registry) {
		if err := r.Register(lobbychat.Definition()); err != nil {
			t.Fatal(err)
		}
	}})
	const members, each = 20, 5 // each member's burst at its seat's input rate
	cs := make([]*client, members)
	for i := range cs {
		cs[i], _ = e.connect(fmt.Sprint("m", i))
	}
	room := joined(t, cs[0].Request(quickMatch("lobbychat"))).RoomId
	ids := make([]uint32, members)
	for i, c := range cs[1:] {
		ids[i+1] = c.Send(quickMatch("lobbychat"))
	}
	for i, c := range cs[1:] {
		if j := joined(t, c.Reply(ids[i+1])); j.RoomId != room {
			t.Fatalf("member %d quick-matched into %s, not %s", i+1, j.RoomId, room)
		}
	}
	// Each member's Joined comes before the lines: all are seated.
	for _, c := range cs {
		for s := range uint32(each) {
			c.Send(input(room, s+1, []byte(c.user+" says hi")))
		}
	}
	// Each line comes back to its sender, with the others', or is
	// refused to it alone.
	taken, refused := 0, 0
	for _, c := range cs {
		for own := 0; own < each; {
			m := c.Next(isKind[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage()
			switch {
			case m.Code == lobbychat.ChatCode && string(m.Data) == c.user:
				taken++
				own++
			case m.Code == lobbychat.ErrorCode:
				if !strings.Contains(m.Text, "no more lines") {
					t.Fatalf("%s's line refused: %q", c.user, m.Text)
				}
				refused++
				own++
			}
		}
	}
	if taken == members*each {
		t.Fatalf("the room took all %d lines its %d members sent at once, each to all %d", taken, members, members)
	}
	if taken < lobbychat.LineBurst {
		t.Fatalf("the room took %d lines of %d sent at once (%d refused), want its burst of %d", taken, members*each, refused, lobbychat.LineBurst)
	}
}
