package server_test

import (
	"context"
	"fmt"

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
