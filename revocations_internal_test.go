package tickroom

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickroom/tickroom/internal/syncbuf"
	"github.com/tickroom/tickroom/server/hub"
	"github.com/tickroom/tickroom/store"
)

// TestAdminKickAfterTheStoreClosedAtShutdown: Shutdown closes the store
// before it stops the admin listener (so that /readyz answers 503 while
// the rest drains), and a kick or ban through the admin API in between
// sent its write on the closed write channel: the handler panicked, the
// operator's request ended with no answer, and the panic was logged as a
// crash. The test stops the server's store as Shutdown does, then kicks
// and bans through the admin API: each is answered, applies in memory,
// and the writes left out are logged once.
func TestAdminKickAfterTheStoreClosedAtShutdown(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	s, err := New(Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			return // a panic under the hub's lock left it held: Shutdown would wait for good
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	// Where Shutdown stands between closeStore and the admin listener's
	// shutdown: the hub shut down, then the store closed.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rev := s.revocations
	if err := s.hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.closeStore(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/admin/players/eve/kick", "/v1/admin/players/ann/ban", "/v1/admin/players/bob/ban"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.AdminAddr().String()+path, strings.NewReader(`{"reason":"cheating"}`))
		req.Header.Set("Authorization", "Bearer "+s.AdminToken())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s once the store closed at shutdown: %v; logs:\n%s", path, err, grepLines(logs.String(), "panic"))
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s once the store closed at shutdown: %d, want 200", path, resp.StatusCode)
		}
	}
	if out := logs.String(); strings.Contains(out, "panic") {
		t.Fatalf("a kick or ban once the store closed panicked:\n%s", grepLines(out, "panic"))
	}
	if n := strings.Count(logs.String(), "made during shutdown"); n != 1 {
		t.Fatalf("%d log lines for the kicks and bans left unstored at shutdown, want 1:\n%s", n, logs.String())
	}
	if _, banned := rev.Check("ann", time.Now().Add(-time.Minute), time.Now()); !banned {
		t.Fatal("ann's ban, made once the store closed, does not apply")
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// refusingModeration is a store whose every sanction write fails with err.
type refusingModeration struct{ err error }

func (m refusingModeration) PutSanction(context.Context, store.Sanction) error { return m.err }
func (m refusingModeration) LiftSanction(context.Context, string, store.SanctionKind) error {
	return m.err
}
func (refusingModeration) Sanctions(context.Context, time.Time) ([]store.Sanction, error) {
	return nil, nil
}

// TestSanctionsNotStoredAreCounted: a kick the store refuses, and one
// still waiting for a locked database when the server shuts down, are
// each lost at the next restart, and tickroom_store_sanctions_dropped_total
// counts them, as it counts those past the writer's queue.
func TestSanctionsNotStoredAreCounted(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
	}{{"refused", errors.New("constraint failed")}, {"locked at shutdown", store.ErrLocked}} {
		r, err := newStoreRevocations(context.Background(), refusingModeration{c.err}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		r.Revoke(hub.Revocation{UserID: "eve", IssuedBefore: time.Now(), Until: time.Now().Add(time.Minute)})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.close(ctx)
		cancel()
		if n := r.dropped.Load(); n != 1 {
			t.Errorf("%s: %d kicks counted as not stored, want 1", c.name, n)
		}
	}
}
