package main

import (
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/game/arena"
	"github.com/tickroom/tickroom/game/gomoku"
	"github.com/tickroom/tickroom/game/lobbychat"
)

// builtinGames returns the games this command serves.
func builtinGames() []game.Definition {
	return []game.Definition{arena.Definition(), gomoku.Definition(), lobbychat.Definition()}
}
