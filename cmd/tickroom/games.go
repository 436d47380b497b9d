package main

import (
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/game/lobbychat"
)

// registerGames registers the built-in games.
func registerGames() (*game.Registry, error) {
	reg := game.NewRegistry()
	for _, d := range []game.Definition{arena.Definition(), gomoku.Definition(), lobbychat.Definition()} {
		if err := reg.Register(d); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
