package hub_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/protocol/gomokuv1"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

func withGomoku(r *game.Registry) {
	if err := r.Register(gomoku.Definition()); err != nil {
		panic(err)
	}
}

func move(x, y uint32) []byte {
	b, _ := (&gomokuv1.Move{X: x, Y: y}).MarshalVT()
	return b
}

// TestGomokuFullGameWithDropAndResume plays a gomoku match to a win between
// two clients that quick-matched into one room; white loses its connection
// mid-game, reconnects, and resumes the same seat with the same board.
func TestGomokuFullGameWithDropAndResume(t *testing.T) {
	t.Parallel()
	e := start(t, options{games: withGomoku})
	black, bw := e.connect("black")
	white, _ := e.connect("white")
	jb := joined(t, black.Request(quickMatch("gomoku")))
	jw := joined(t, white.Request(quickMatch("gomoku")))
	if jb.RoomId != jw.RoomId || jb.Seat != 1 || jw.Seat != 2 {
		t.Fatalf("black %s seat %d, white %s seat %d", jb.RoomId, jb.Seat, jw.RoomId, jw.Seat)
	}
	room := jb.RoomId
	seqs := map[*client]uint32{}
	play := func(c *client, seat uint32, x, y uint32) {
		t.Helper()
		seqs[c]++
		seq := seqs[c]
		c.Send(input(room, seq, move(x, y)))
		waitFor(t, c.user+" move acked", func() bool { return c.ack(room, seat) == seq })
	}
	stones := func(c *client) int { return len(c.entities(room)) }

	// White moving out of turn is refused with a game error and changes
	// nothing.
	seqs[white]++
	white.Send(input(room, seqs[white], move(7, 7)))
	msg := white.Next(isKind[*tickroomv1.ServerMessage_GameMessage]).GetGameMessage()
	if msg.Code != uint32(gomokuv1.ErrorCode_ERROR_CODE_NOT_YOUR_TURN) {
		t.Fatalf("out-of-turn move: game message %v", msg)
	}

	// Black builds a row on y=0, white plays on y=1.
	play(black, 1, 0, 0)
	play(white, 2, 0, 1)
	play(black, 1, 1, 0)
	play(white, 2, 1, 1)
	play(black, 1, 2, 0)
	waitFor(t, "both see five stones", func() bool { return stones(black) == 5 && stones(white) == 5 })

	// White's network goes away mid-game.
	before := white.entities(room)
	lastTick, _, _, _ := white.world(room)
	dropped := time.Now()
	white.WS.UnderlyingConn().Close()
	white.WaitClosed()
	ev := black.Next(func(m *tickroomv1.ServerMessage) bool {
		return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_PLAYER_DROPPED
	}).GetRoomEvent()
	if ev.Seat != 2 {
		t.Fatalf("dropped event for seat %d, want 2", ev.Seat)
	}
	// Black is told until when white's seat is held: the resume window
	// its Welcome gave, from the drop.
	grace := time.Duration(bw.ResumeWindowMs) * time.Millisecond
	if held := time.UnixMilli(ev.HeldUntilMs); grace == 0 || held.Before(dropped.Add(grace-time.Second)) || held.After(time.Now().Add(grace+time.Second)) {
		t.Fatalf("held until %v, want %v after the drop at %v", held, grace, dropped)
	}
	// A spectator who comes in meanwhile finds the same deadline on white's
	// seat in its roster, so its page can count down too.
	spec, _ := e.connect("kibitzer")
	js := joined(t, spec.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_JoinRoom{JoinRoom: &tickroomv1.JoinRoom{RoomId: room, Spectate: true}}}))
	var roster []string
	for _, p := range js.Players {
		roster = append(roster, fmt.Sprintf("%d:%s:%t:%d", p.Seat, p.Name, p.Connected, p.HeldUntilMs))
	}
	if want := []string{"1:name-black:true:0", fmt.Sprintf("2:name-white:false:%d", ev.HeldUntilMs)}; !slices.Equal(roster, want) {
		t.Fatalf("spectator's roster %v, want %v", roster, want)
	}

	white2, w := e.connect("white")
	if len(w.Seats) != 1 || w.Seats[0].RoomId != room || w.Seats[0].Seat != 2 {
		t.Fatalf("Welcome seats %v", w.Seats)
	}
	white2.adopt(white, room)
	jr := joined(t, white2.Request(joinRoom(room, lastTick)))
	if !jr.Resumed || jr.Seat != 2 {
		t.Fatalf("resume: resumed %v seat %d", jr.Resumed, jr.Seat)
	}
	// The same board: white2 rebuilt exactly what white had.
	after := white2.entities(room)
	if len(after) != len(before) {
		t.Fatalf("board after resume has %d stones, before %d", len(after), len(before))
	}
	for id, b := range before {
		if string(after[id]) != string(b) {
			t.Fatalf("stone %d differs after resume", id)
		}
	}
	// White's sequence numbers continue from the held seat.
	seqs[white2] = seqs[white]
	play(white2, 2, 2, 1)
	play(black, 1, 3, 0)
	play(white2, 2, 3, 1)
	black.Send(input(room, seqs[black]+1, move(4, 0))) // five in a row

	for _, c := range []*client{black, white2} {
		end := c.Next(func(m *tickroomv1.ServerMessage) bool {
			return m.GetRoomEvent().GetKind() == tickroomv1.RoomEventKind_ROOM_EVENT_KIND_MATCH_ENDED
		}).GetRoomEvent().GetResult()
		if len(end.WinnerSeats) != 1 || end.WinnerSeats[0] != 1 || end.Reason != "five_in_a_row" {
			t.Fatalf("%s: result %v, want black (seat 1) by five in a row", c.user, end)
		}
		var res gomokuv1.Result
		if err := res.UnmarshalVT(end.Data); err != nil || len(res.Line) != 5 {
			t.Fatalf("%s: result data %v (%v)", c.user, &res, err)
		}
	}
	waitFor(t, "both see the winning stone", func() bool { return stones(black) == 9 && stones(white2) == 9 })
	if _, _, _, err := white2.world(room); err != nil {
		t.Fatal(err)
	}
}
