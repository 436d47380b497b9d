package game_test

import (
	"fmt"
	"time"

	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gametest"
)

// Example runs a room on a manual clock: a player joins, sends an input and
// receives the resulting delta.
func Example() {
	reg := game.NewRegistry()
	_ = reg.Register(game.Definition{Name: "counter", TickRate: 20, New: newCounter})
	clock := game.NewManualClock(time.Unix(0, 0))
	rt, _ := game.NewRuntime(game.Config{Registry: reg, Clock: clock, Transport: &gametest.Transport{}})
	rt.Start()
	room, _ := rt.CreateRoom(game.RoomOptions{Game: "counter"})

	c := gametest.NewClient("alice")
	_ = room.Join(game.JoinRequest{UserID: "alice", Client: c}, func(r game.JoinResult) {
		fmt.Println("seat", r.Seat, "err", r.Err)
	})
	_ = rt.Advance(100 * time.Millisecond) // the first tick falls within one period
	_ = room.Input(1, 1, []byte("+"))
	_ = rt.Advance(50 * time.Millisecond)
	st := c.LastState()
	ents, _ := c.Entities()
	ack, _ := c.Ack(1)
	fmt.Println("keyframe:", st.Keyframe, "entity 1:", ents[1], "ack:", ack)
	// Output:
	// seat 1 err <nil>
	// keyframe: false entity 1: 1 ack: 1
}
