package admin_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tickroom/tickroom/server"
	"github.com/tickroom/tickroom/server/admin"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/hub"
)

// The admin handler goes on its own HTTP server, next to the WebSocket
// port; the admin API wants the token as a bearer token.
func ExampleNew() {
	a, _ := auth.New(auth.Config{Keys: []auth.Key{{ID: "k", Secret: bytes.Repeat([]byte{1}, 32)}}})
	srv, _ := server.New(server.Config{})
	h, _ := hub.New(hub.Config{Server: srv, Auth: a})
	ah, err := admin.New(admin.Config{Hub: h, Server: srv, Token: "change-me"})
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(ah) // ah.Server(ln) on the admin address in production
	defer hs.Close()

	resp, _ := http.Get(hs.URL + "/v1/admin/rooms")
	fmt.Println("without the token:", resp.StatusCode)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", hs.URL+"/v1/admin/rooms", nil)
	req.Header.Set("Authorization", "Bearer change-me")
	resp, _ = http.DefaultClient.Do(req)
	fmt.Println("with it:", resp.StatusCode)
	resp.Body.Close()
	// Output:
	// without the token: 401
	// with it: 200
}
