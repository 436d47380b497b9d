package main

import (
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/gomoku"
)

// registerGames registers the built-in games.
func registerGames() (*game.Registry, error) {
	reg := game.NewRegistry()
	for _, d := range []game.Definition{gomoku.Definition()} {
		if err := reg.Register(d); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
