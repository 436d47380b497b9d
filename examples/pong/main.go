// Command pong is a complete real-time game on tickroom, written as a
// studio would write its own: the game (game.go) registered with
// tickroom.Main, its state and inputs in proto/pong/v1/pong.proto
// (generated Go in pongv1/, TypeScript in web/gen/), and a page in web/
// that plays it with client-js. Run it and open http://127.0.0.1:8080/ in
// two windows:
//
//	go run ./examples/pong
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
	tickroom.Main("pong", tickroom.Options{
		AdminAddr: tickroom.Off,
		Games:     []game.Definition{Definition()},
		Pages:     pages,
	})
}
