package tickroom_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
)

// counterGame is a whole game: each player's "+" input counts up their
// entity (id = seat, one byte of count).
type counterGame struct{ n map[uint32]byte }

func (g *counterGame) Accept(*game.Context, game.Player) error { return nil }
func (g *counterGame) Notice(_ *game.Context, k game.NoticeKind, p game.Player) {
	if k == game.NoticeLeft {
		delete(g.n, p.Seat)
	}
}
func (g *counterGame) Input(_ *game.Context, seat uint32, data []byte) error {
	g.n[seat]++
	return nil
}
func (g *counterGame) Update(*game.Context, time.Duration) {}
func (g *counterGame) Encode(s *game.Snapshot) {
	for seat, n := range g.n {
		s.EntityBytes(uint64(seat), []byte{n})
	}
}

func counterDefinition() game.Definition {
	return game.Definition{
		Name: "counter", TickRate: 10, MaxPlayers: 4,
		New: func(game.Setup) (game.Game, error) { return &counterGame{n: map[uint32]byte{}}, nil },
	}
}

// Example builds a server with one game of its own on free loopback ports,
// starts it, and shuts it down when its context ends.
func Example() {
	srv, err := tickroom.New(tickroom.Options{
		Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AdminAddr: tickroom.Off,
		Games:  []game.Definition{counterDefinition()},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("games:", srv.Games())
	fmt.Println("login at", srv.HTTPAddr() != nil, "websocket at", srv.Addr() != nil)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a real main waits for a signal instead
	fmt.Println("run:", srv.Run(ctx))
	// Output:
	// games: [counter]
	// login at true websocket at true
	// run: <nil>
}

// ExampleServer_Run is a studio's whole main: its games, its page, its
// result store, and a clean shutdown on SIGINT or SIGTERM.
func ExampleServer_Run() {
	srv, err := tickroom.New(tickroom.Options{
		Games: []game.Definition{counterDefinition()},
		Pages: os.DirFS("web/dist"),
		OnResult: func(r game.Result) {
			// Runs on a tick worker: hand the result to a queue, never block.
			fmt.Println(r.Game, r.Outcome.Reason, r.Winners())
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// ExampleServer_Register adds games after New and before the server starts;
// a name taken twice is refused.
func ExampleServer_Register() {
	srv, _ := tickroom.New(tickroom.Options{Logger: slog.New(slog.DiscardHandler)})
	fmt.Println(srv.Register(counterDefinition()))
	fmt.Println(srv.Register(counterDefinition()))
	fmt.Println(srv.Games())
	// Output:
	// <nil>
	// game: game already registered: counter
	// [counter]
}
