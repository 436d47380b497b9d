package account

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
)

// memCluster stands for the buckets a cluster keeps in Redis, as the
// account service (Guesses) and the login handler (auth.Logins) use
// them: each account's and each address's tokens, taken and given back,
// never refilled; while refuse is set it refuses every take, as a Redis
// whose buckets are spent does.
type memCluster struct {
	mu     sync.Mutex
	taken  map[string]int
	refuse bool
}

func newMemCluster() *memCluster { return &memCluster{taken: map[string]int{}} }

func (m *memCluster) setRefuse(refuse bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refuse = refuse
}

func (m *memCluster) take(key string, burst int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refuse || m.taken[key] >= burst {
		return false
	}
	m.taken[key]++
	return true
}

func (m *memCluster) giveBack(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taken[key] > 0 {
		m.taken[key]--
	}
}

// memGuesses is memCluster as a Service's Guesses.
type memGuesses struct{ *memCluster }

func (g memGuesses) Take(_ context.Context, l GuessLimit, id string, client netip.Addr) (Guess, bool, time.Duration, error) {
	if !g.take("guess:"+id, l.Burst) {
		return Guess{}, false, time.Minute, nil
	}
	return Guess{ID: id, Client: client}, true, 0, nil
}

func (g memGuesses) GiveBack(_ context.Context, _ GuessLimit, t Guess) error {
	g.giveBack("guess:" + t.ID)
	return nil
}

func (g memGuesses) Mark(context.Context, GuessLimit, string, netip.Addr) error { return nil }

func (g memGuesses) Spend(_ context.Context, l GuessLimit, id string, _ netip.Addr) error {
	g.take("guess:"+id, l.Burst)
	return nil
}

// memLogins is memCluster as the login handler's auth.Logins.
type memLogins struct{ *memCluster }

func (l memLogins) Allow(_ context.Context, addr netip.Addr, _ rate.Limit, burst int) (bool, time.Duration, error) {
	if !l.take("login:"+addr.String(), burst) {
		return false, 5 * time.Second, nil
	}
	return true, 0, nil
}

func (l memLogins) Refund(_ context.Context, addr netip.Addr, _ rate.Limit, _ int) error {
	l.giveBack("login:" + addr.String())
	return nil
}

// TestLoginsAnswered503TakeNothingFromTheCluster: in a cluster, password
// logins the server answers 503 before the hash (every hash slot taken)
// take nothing from the address's logins nor from the account's guesses
// that every node counts (in Redis), as they take nothing from the
// node's own: once the server answers, the address logs in with the
// right password its whole burst, then is refused for its logins.
func TestLoginsAnswered503TakeNothingFromTheCluster(t *testing.T) {
	t.Parallel()
	const burst = 2
	cluster := newMemCluster()
	ts := newTestServerWith(t, Config{MaxHashes: 1, MaxHashWaiting: 1, WrongPasswordBurst: burst, Guesses: memGuesses{cluster}},
		auth.Config{GuestLoginRate: rate.Every(time.Hour), GuestLoginBurst: burst, Logins: memLogins{cluster}}, nil)
	ts.claimOwner(client("127.0.0.50"))

	c := client("127.0.0.51")
	password := map[string]string{"name": "Owner", "password": "correct horse"}
	free := busyHashes(t, ts)
	for i := range 2 * burst {
		if a := ts.post(c, auth.LoginPath, "", password); !unavailable(a) {
			t.Fatalf("password login %d with every hash slot taken: %d %v, want 503", i, a.status, a.body)
		}
	}
	free()
	for i := range burst {
		if a := ts.post(c, auth.LoginPath, "", password); a.status != 200 {
			t.Fatalf("password login %d within the burst, after %d answered 503: %d %v, want 200", i, 2*burst, a.status, a.body)
		}
	}
	if a := ts.post(c, auth.LoginPath, "", password); a.status != 429 || !strings.Contains(a.err(), "too many logins from this address") {
		t.Fatalf("password login past the burst: %d %v, want 429 for the address's logins", a.status, a.body)
	}
}

// TestRefusalsOfTheClusterTakeNothingFromTheNode: in a cluster, a login
// the cluster's buckets (in Redis) refuse, for its address's logins or
// its account's guesses, takes nothing from the node's own buckets, which
// it took first: once the cluster lets the address through, the node
// does too, its whole burst of guest logins, and the owner's right
// password.
func TestRefusalsOfTheClusterTakeNothingFromTheNode(t *testing.T) {
	t.Parallel()
	const burst, wrongBurst = 10, 2
	logins, guesses := newMemCluster(), newMemCluster()
	ts := newTestServerWith(t, Config{WrongPasswordBurst: wrongBurst, Guesses: memGuesses{guesses}},
		auth.Config{GuestLoginRate: rate.Every(time.Hour), GuestLoginBurst: burst, Logins: memLogins{logins}}, nil)
	ts.claimOwner(client("127.0.0.52"))

	c := client("127.0.0.53")
	logins.setRefuse(true)
	for i := range 2 * burst {
		if a := ts.post(c, auth.LoginPath, "", map[string]string{"name": "ann"}); a.status != 429 || !strings.Contains(a.err(), "too many logins from this address") {
			t.Fatalf("guest login %d the cluster refuses: %d %v, want 429", i, a.status, a.body)
		}
	}
	logins.setRefuse(false)
	for i := range burst {
		if a := ts.post(c, auth.LoginPath, "", map[string]string{"name": "ann"}); a.status != 200 {
			t.Fatalf("guest login %d within the burst, once the cluster lets the address through: %d %v, want 200", i, a.status, a.body)
		}
	}

	// The owner's address, whose guesses of the account the cluster
	// refuses, then lets through.
	c = client("127.0.0.54")
	guesses.setRefuse(true)
	for i := range 2*wrongBurst + 1 {
		if a := ts.post(c, auth.LoginPath, "", map[string]string{"name": "Owner", "password": "a wrong guess"}); a.status != 429 || !strings.Contains(a.err(), "too many wrong passwords for this account") {
			t.Fatalf("wrong password %d the cluster refuses: %d %v, want 429", i, a.status, a.body)
		}
	}
	guesses.setRefuse(false)
	if a := ts.post(c, auth.LoginPath, "", map[string]string{"name": "Owner", "password": "correct horse"}); a.status != 200 {
		t.Fatalf("the right password once the cluster lets the address through: %d %v, want 200", a.status, a.body)
	}
}
