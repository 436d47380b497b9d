package tickroom_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
	"github.com/tickroom/tickroom/server/auth"
)

// TestTokensIssuedAheadOfTheClockAreRefused: a session token whose issue
// time is more than a minute ahead of this server's clock (a node of the
// same cluster whose clock runs fast issued it) is refused at the upgrade
// and by the session check: it would pass a kick made here, which
// refuses only the tokens issued up to the kick's time.
func TestTokensIssuedAheadOfTheClockAreRefused(t *testing.T) {
	t.Parallel()
	key := []byte(strings.Repeat("k", 32))
	srv, _, _ := start(t, tickroom.Options{Games: []game.Definition{raceDefinition()}, TokenKey: key, AdminAddr: "127.0.0.1:0"})
	c, _, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, login(t, srv, "ada"), testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ada := c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome().GetUserId()
	if st := adminPost(t, srv, "/v1/admin/players/"+ada+"/kick", `{"reason":"spam"}`); st != 200 {
		t.Fatalf("kick: %d", st)
	}
	c.WaitClosed()
	ahead := func(d time.Duration) string {
		fast, err := auth.New(auth.Config{Keys: []auth.Key{{ID: "k1", Secret: key}}, Now: func() time.Time { return time.Now().Add(d) }})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := fast.Issue(auth.Claims{UserID: ada, Name: "ada"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := ahead(10 * time.Minute)
	ws, resp, err := testclient.Dial(t, "ws://"+srv.Addr().String()+tickroom.WebSocketPath, tok, testclient.Options{})
	if err == nil {
		ws.WS.Close()
		t.Fatalf("a kicked user's token issued 10 minutes ahead of the server's clock opened a session")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token issued 10 minutes ahead: %v %v, want 401", resp, err)
	}
	a := api{t: t, base: "http://" + srv.HTTPAddr().String()}
	if st, m := a.post("/v1/session", tok, nil); st != http.StatusUnauthorized || !strings.Contains(str(m, "error"), "future") {
		t.Fatalf("session check of a token issued 10 minutes ahead: %d %v, want 401 naming the future", st, m)
	}
	// Within a minute, clocks that differ a little still agree.
	if st, m := a.post("/v1/session", ahead(20*time.Second), nil); st != http.StatusOK {
		t.Fatalf("session check of a token issued 20 s ahead: %d %v, want 200", st, m)
	}
}
