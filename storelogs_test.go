package tickroom_test

import (
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/pgtest"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// logLines collects what a text slog handler writes, one line a Write.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *logLines) count(sub string) (n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// TestStoreOutageLogsAreSpaced: while the database was out of reach, each
// match history request a client sent wrote a "store read failed" line
// and each GET /v1/account an "account: store" one, so one guest filled
// the log at its request rate (1,339 lines, 357 KB, in a second of one
// keep-alive connection's requests). Each is now written once every 10 s
// at most, with the number left out; the clients' answers are unchanged.
func TestStoreOutageLogsAreSpaced(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	var logs logLines
	// A read that fails keeps its store read token (StoreReadRate): the
	// rate is off, for the 50 requests to reach the store.
	srv, _, _ := start(t, tickroom.WithStoreReadRate(tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DatabaseURL: pg.NewDatabase(t),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, math.Inf(1)))
	tok := login(t, srv, "ada")
	bob := dial(t, srv, "bob")
	pg.Stop(t)

	hist := &tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetMatchHistory{GetMatchHistory: &tickroomv1.GetMatchHistory{}}}
	// Within the message rate (120 a second).
	for i := 0; i < 50; i++ {
		if code := bob.Request(hist).GetError().GetCode(); code != tickroomv1.ErrorCode_ERROR_CODE_INTERNAL {
			t.Fatalf("match history with the database down: %v, want ERROR_CODE_INTERNAL", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := &http.Client{}
	for i := 0; i < 200; i++ {
		req, _ := http.NewRequest("GET", "http://"+srv.HTTPAddr().String()+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("GET /v1/account with the database down: %d, want 503", resp.StatusCode)
		}
	}
	if n := logs.count(`msg="store read failed"`); n != 1 {
		t.Errorf("%d store read failed lines for 50 requests, want 1", n)
	}
	if n := logs.count(`msg="account: store"`); n != 1 {
		t.Errorf("%d account: store lines for 200 requests, want 1", n)
	}
}
