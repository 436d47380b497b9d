package server_test

import (
	"context"
	"fmt"

	"github.com/gobwas/ws"
	"github.com/tickroom/tickroom/internal/frame"

	gorilla "github.com/gorilla/websocket"
	"github.com/tickroom/tickroom/server"
)

// A server with the echo endpoint on a free loopback port, and a client
// that sends one message and reads it back.
func Example() {
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", Loops: 1})
	if err != nil {
		panic(err)
	}
	s.Handle("/echo", &server.EchoHandler{})
	if err := s.Start(); err != nil {
		panic(err)
	}
	defer s.Shutdown(context.Background())

	c, _, err := gorilla.DefaultDialer.Dial("ws://"+s.Addr().String()+"/echo", nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = c.WriteMessage(gorilla.TextMessage, []byte("hello"))
	_, msg, _ := c.ReadMessage()
	fmt.Println(string(msg))
	// Output: hello
}

// Encode once, write N times: a room fills one pooled frame, prepares its
// WebSocket header once, broadcasts it and drops its own reference.
func ExampleServer_Broadcast() {
	var s *server.Server       // a started server
	var members []*server.Conn // the room's connections

	f := frame.New(64)
	f.Append([]byte("snapshot bytes")...) // or an encoder appending in place
	server.PrepareFrame(f, ws.OpBinary)
	if s != nil {
		s.Broadcast(f, members, server.Droppable)
	}
	f.Release() // each recipient holds its own reference until written
}
