package auth_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

// A server issues a session token at login and checks it at the WebSocket
// handshake.
func ExampleAuthority() {
	a, err := auth.New(auth.Config{
		Keys: []auth.Key{{ID: "2026a", Secret: bytes.Repeat([]byte{7}, auth.MinSecretLen)}},
		TTL:  time.Hour,
	})
	if err != nil {
		panic(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tok, _ := a.Issue(auth.Claims{UserID: "guest-abc", Name: "Bob", Guest: true, IssuedAt: now})
	c, err := a.Verify(tok, now.Add(time.Minute))
	fmt.Println(c.UserID, c.Name, err)
	_, err = a.Verify(tok, now.Add(2*time.Hour))
	fmt.Println(err)
	// Output:
	// guest-abc Bob <nil>
	// auth: token expired
}
