package main

import (
	"strconv"
	"time"

	"github.com/tickroom/tickroom/game"
)

// bulkGame is the room the measurement plays: its one entity is size bytes
// that change whole every tick, so each state carries the entity and the
// room sends a known, steady byte rate (what TestSlowDownlinkSkipsToTheLatest
// in server/hub plays).
func bulkGame(tickRate, size int) game.Definition {
	return game.Definition{Name: "bulk", TickRate: tickRate, MaxPlayers: 2, New: func(game.Setup) (game.Game, error) {
		return &bulk{size: size}, nil
	}}
}

type bulk struct {
	n    uint64
	size int
}

func (g *bulk) Accept(*game.Context, game.Player) error            { return nil }
func (g *bulk) Notice(*game.Context, game.NoticeKind, game.Player) {}
func (g *bulk) Input(*game.Context, uint32, []byte) error          { return nil }
func (g *bulk) Update(*game.Context, time.Duration)                { g.n++ }
func (g *bulk) Encode(s *game.Snapshot) {
	b := make([]byte, g.size)
	for i := range b {
		b[i] = byte(g.n*7 + uint64(i)*13)
	}
	s.EntityBytes(1, b)
	s.GlobalsBytes(strconv.AppendUint(nil, g.n, 10))
}
