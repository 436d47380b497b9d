package account

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/internal/syncbuf"
	"github.com/tickroom/tickroom/server/auth"
)

// TestAbandonedRequestsAreNotLoggedAsStoreFailures: a password login and
// a claim whose clients hang up while they wait for a hash slot are no
// store failure: nothing is logged at ERROR for them.
func TestAbandonedRequestsAreNotLoggedAsStoreFailures(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := newTestServerWith(t, Config{MaxHashes: 1, MaxHashWaiting: 4, ClaimRate: rate.Inf, Logger: logger},
		auth.Config{GuestLoginRate: rate.Inf, Logger: logger}, nil)
	c := client("127.0.0.60")
	tok, _ := ts.claimOwner(c)

	for _, req := range []struct {
		what, path, token string
		body              map[string]string
	}{
		{"password login", auth.LoginPath, "", map[string]string{"name": "Owner", "password": "correct horse"}},
		{"rename", Path + "/claim", tok, map[string]string{"name": "Owner2", "password": "correct horse", "current_password": "correct horse"}},
	} {
		before := strings.Count(logs.String(), "context canceled")
		ts.svc.hashes <- struct{}{} // every slot busy
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			b, _ := json.Marshal(req.body)
			r, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.url+req.path, bytes.NewReader(b))
			if req.token != "" {
				r.Header.Set("Authorization", "Bearer "+req.token)
			}
			if resp, err := c.Do(r); err == nil {
				resp.Body.Close()
			}
		}()
		for deadline := time.Now().Add(10 * time.Second); ts.svc.Stats().Waiting < 1; {
			if time.Now().After(deadline) {
				t.Fatalf("the %s never waited for a hash slot", req.what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // the client hangs up
		<-done
		for deadline := time.Now().Add(10 * time.Second); strings.Count(logs.String(), "context canceled") == before; {
			if time.Now().After(deadline) {
				t.Fatalf("the server said nothing of the %s its client gave up: %s", req.what, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		ts.svc.release()
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Fatalf("%s given up by its client while it waited for a hash, logged as an error: %s", req.what, line)
			}
		}
	}
}
