package hub_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

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
// past it is refused to its sender alone, with lobbychat.BusyCode and the
// milliseconds until the room takes a line again. Fifty members send
// their seats' burst, two lines each, at once: the room takes the burst
// and refuses the rest (the
// lines arrive within a second or two, far less than the 3 s the rate
// would need to refill what the burst leaves out).
func TestALobbychatRoomTakesABoundedLineRate(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: func(r *game.Registry) {
		if err := r.Register(lobbychat.Definition()); err != nil {
			t.Fatal(err)
		}
	}})
	const members, each = 50, lobbychat.InputRate // each member's burst at its seat's input rate
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
			case m.Code == lobbychat.BusyCode:
				// Data: the wait for the room's next token, at most
				// one token's worth.
				if ms, err := strconv.Atoi(string(m.Data)); err != nil || ms < 1 || ms > 1000/lobbychat.LineRate {
					t.Fatalf("%s's line refused as the room is busy, with data %q, want the milliseconds until it takes one (1 to %d)", c.user, m.Data, 1000/lobbychat.LineRate)
				}
				refused++
				own++
			case m.Code != lobbychat.ChatCode:
				t.Fatalf("%s's line refused with code %d: %q", c.user, m.Code, m.Text)
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

// TestALobbychatRoomHearsAMemberWhileOthersChatAtTheirRate: the room's
// line rate is shared by all its members, and each member's seat took 5
// lines a second, so 4 members chatting at their own rate used up the
// room's 20 and shut every other member out. A seat now takes what a
// lobby channel's member may send (2 a second): 8 members chatting at
// that rate leave room for a ninth member's lines.
func TestALobbychatRoomHearsAMemberWhileOthersChatAtTheirRate(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: func(r *game.Registry) {
		if err := r.Register(lobbychat.Definition()); err != nil {
			t.Fatal(err)
		}
	}})
	const chatters, lines = 8, 5
	rate := lobbychat.Definition().InputRate // each seat's lines a second
	cs := make([]*client, chatters+1)
	for i := range cs {
		cs[i], _ = e.connect(fmt.Sprint("m", i))
	}
	room := joined(t, cs[0].Request(quickMatch("lobbychat"))).RoomId
	for i, c := range cs[1:] {
		if j := joined(t, c.Request(quickMatch("lobbychat"))); j.RoomId != room {
			t.Fatalf("member %d quick-matched into %s, not %s", i+1, j.RoomId, room)
		}
	}
	// The chatters send at their seats' rate for 6 s; the ninth member,
	// once they have chatted 2 s, sends a line every 0.7 s, below it.
	var wg sync.WaitGroup
	for _, c := range cs[:chatters] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			for seq, end := uint32(1), time.Now().Add(6*time.Second); time.Now().Before(end); seq++ {
				<-tick.C
				c.Send(input(room, seq, []byte(c.user+" chats")))
			}
		}()
	}
	ninth := cs[chatters]
	time.Sleep(2 * time.Second)
	for seq := range uint32(lines) {
		ninth.Send(input(room, seq+1, []byte("the ninth says hi")))
		time.Sleep(700 * time.Millisecond)
	}
	wg.Wait()
	var refusals []string
	for own := 0; own < lines; {
		switch m := ninth.Next(isKind[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage(); {
		case m.Code == lobbychat.ChatCode && string(m.Data) == ninth.user:
			own++
		case m.Code != lobbychat.ChatCode:
			refusals = append(refusals, m.Text)
			own++
		}
	}
	if len(refusals) > 0 {
		t.Fatalf("with %d members chatting at their seats' rate (%d lines a second each), the room refused %d of the %d lines a ninth member sent, one every 0.7 s: %q", chatters, rate, len(refusals), lines, refusals)
	}
}
