// Command cards is a complete turn-based card game with hidden hands on
// tickroom, crazy eights, written as a studio would write its own: the
// game (game.go; each player's view holds only their own hand) registered
// with tickroom.New, its state and inputs in proto/cards/v1/cards.proto
// (generated Go in cardsv1/, TypeScript in web/gen/), and a page in web/
// that plays it with client-js. Run it and open http://127.0.0.1:8080/ in
// two windows:
//
//	go run ./examples/cards
//
// The flags are the addresses; everything else keeps tickroom's defaults.
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
)

//go:embed web/dist
var web embed.FS

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "WebSocket listen address")
	httpAddr := flag.String("http", "127.0.0.1:8080", "HTTP listen address (login and the page)")
	flag.Parse()
	if err := run(*addr, *httpAddr); err != nil {
		fmt.Fprintln(os.Stderr, "cards:", err)
		os.Exit(1)
	}
}

func run(addr, httpAddr string) error {
	pages, err := fs.Sub(web, "web/dist")
	if err != nil {
		return err
	}
	srv, err := tickroom.New(tickroom.Options{
		Addr: addr, HTTPAddr: httpAddr, AdminAddr: tickroom.Off,
		Games: []game.Definition{Definition()},
		Pages: pages,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Printf("cards on http://%s/\n", srv.HTTPAddr())
	return srv.Run(ctx)
}
