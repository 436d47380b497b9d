// Command tickroom runs the tickroom server: for now the WebSocket echo
// endpoint (/echo) and the broadcast chat endpoint (/broadcast).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tickroom/tickroom/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tickroom:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address host:port")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	maxConns := flag.Int("max-conns", 0, "maximum open connections (0: server default)")
	maxFrame := flag.Int("max-frame", 1<<20, "largest frame payload a client may send, bytes")
	maxMessage := flag.Int("max-message", 1<<20, "largest reassembled message a client may send, bytes")
	debug := flag.Bool("debug", false, "log connection-level events")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(server.Config{
		Addr: *addr, Loops: *loops, MaxConns: *maxConns,
		MaxFrameSize: *maxFrame, MaxMessageSize: *maxMessage, Logger: log,
	})
	if err != nil {
		return err
	}
	srv.Handle("/echo", &server.EchoHandler{})
	srv.Handle("/broadcast", server.NewBroadcastHandler())
	if err := srv.Start(); err != nil {
		return err
	}
	log.Info("listening", "addr", srv.Addr().String(), "endpoints", "/echo /broadcast")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, server.ErrServerClosed) {
		return err
	}
	return nil
}
