package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tickroom/tickroom/server"
)

// runServer is the measured child: a tickroom server with /echo on a free
// loopback port, printed on stdout, until SIGTERM. Pings and the idle
// timeout are pushed out so idle clients stay connected and silent.
func runServer(loops int) error {
	s, err := server.New(serverConfig(loops))
	if err != nil {
		return err
	}
	s.Handle("/echo", &server.EchoHandler{})
	if err := s.Start(); err != nil {
		return err
	}
	fmt.Println(s.Addr().String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	return nil
}

// serverConfig is the measured server's configuration. The clients come
// from a few source addresses (-sources), so the per-address cap on
// upgraded connections is opened to the whole bound.
func serverConfig(loops int) server.Config {
	return server.Config{
		Loops:         loops,
		MaxConns:      maxConns + 100,
		MaxConnsPerIP: maxConns + 100,
		PingInterval:  10 * time.Minute,
		IdleTimeout:   20 * time.Minute,
	}
}
