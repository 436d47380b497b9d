// Command cards is a complete turn-based card game with hidden hands on
// tickroom, crazy eights, written as a studio would write its own: the
// game (game.go; each player's view holds only their own hand) registered
// with tickroom.Main, its state and inputs in proto/cards/v1/cards.proto
// (generated Go in cardsv1/, TypeScript in web/gen/), and a page in web/
// that plays it with client-js. Run it and open http://127.0.0.1:8080/ in
// two windows:
//
//	go run ./examples/cards
//
// The flags, -addr, -http and -admin, are the addresses
// (tickroom.RunCommand; the admin port is off unless -admin names one);
// everything else keeps tickroom's defaults.
package main

import (
	"embed"
	"io/fs"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
)

//go:embed web/dist
var web embed.FS

func main() {
	pages, _ := fs.Sub(web, "web/dist")
	tickroom.Main("cards", tickroom.Options{
		AdminAddr: tickroom.Off,
		Games:     []game.Definition{Definition()},
		Pages:     pages,
	})
}
