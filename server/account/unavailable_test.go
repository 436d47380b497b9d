package account

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/store"
)

// failingUsers is a store whose calls named in fail answer an error, as
// a database out of reach does.
type failingUsers struct {
	store.Users
	mu   sync.Mutex
	fail map[string]bool
}

var errDown = errors.New("database out of reach")

func (f *failingUsers) set(methods ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[string]bool{}
	for _, m := range methods {
		f.fail[m] = true
	}
}

func (f *failingUsers) down(method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[method]
}

func (f *failingUsers) UserByName(ctx context.Context, name string) (store.User, error) {
	if f.down("UserByName") {
		return store.User{}, errDown
	}
	return f.Users.UserByName(ctx, name)
}

func (f *failingUsers) UserByDevice(ctx context.Context, h []byte) (store.User, error) {
	if f.down("UserByDevice") {
		return store.User{}, errDown
	}
	return f.Users.UserByDevice(ctx, h)
}

func (f *failingUsers) ClaimNameSigningOut(ctx context.Context, id, name, hash string, device []byte) error {
	if f.down("ClaimNameSigningOut") {
		return errDown
	}
	return f.Users.ClaimNameSigningOut(ctx, id, name, hash, device)
}

func (f *failingUsers) LinkSubject(ctx context.Context, id, subject string) error {
	if f.down("LinkSubject") {
		return errDown
	}
	return f.Users.LinkSubject(ctx, id, subject)
}

func (f *failingUsers) AddDevice(ctx context.Context, id string, h []byte) error {
	if f.down("AddDevice") {
		return errDown
	}
	return f.Users.AddDevice(ctx, id, h)
}

// busyHashes takes every hash slot of ts and has one password login
// (from its own address) wait for one, so that the next claim or
// password login answers 503, too many password checks waiting. The
// function it returns frees the slots and waits for that login.
func busyHashes(t *testing.T, ts *testServer) func() {
	t.Helper()
	for range cap(ts.svc.hashes) {
		ts.svc.hashes <- struct{}{}
	}
	waited := make(chan answer, 1)
	go func() {
		waited <- ts.post(client("127.0.0.49"), auth.LoginPath, "", map[string]string{"name": "Owner", "password": "correct horse"})
	}()
	for deadline := time.Now().Add(10 * time.Second); ts.svc.Stats().Waiting < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the login never waited for a hash slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var once sync.Once
	free := func() {
		once.Do(func() {
			for range cap(ts.svc.hashes) {
				ts.svc.release()
			}
			if a := <-waited; a.status != 200 {
				t.Errorf("the login that waited for a hash: %d %v", a.status, a.body)
			}
		})
	}
	t.Cleanup(free)
	return free
}

// unavailable reports a 503 of the server: too many password checks
// waiting, with Retry-After, or the accounts out of reach.
func unavailable(a answer) bool {
	return a.status == 503 && (a.retryAfter == "1" && strings.Contains(a.err(), auth.ErrBusyMessage) || strings.Contains(a.err(), "accounts are unavailable"))
}

// TestLoginsAnswered503TakeNoLogins: password and device logins the
// server refuses with 503 (every hash slot taken, the store out of
// reach) take none of their address's logins: once the server answers,
// the address logs in its whole burst.
func TestLoginsAnswered503TakeNoLogins(t *testing.T) {
	t.Parallel()
	const burst = 2
	users := &failingUsers{}
	ts := newTestServerWith(t, Config{MaxHashes: 1, MaxHashWaiting: 1},
		auth.Config{GuestLoginRate: rate.Every(time.Hour), GuestLoginBurst: burst},
		func(u store.Users) store.Users { users.Users = u; return users })
	setup := client("127.0.0.40")
	_, device := ts.claimOwner(setup)

	c := client("127.0.0.41")
	password := map[string]string{"name": "Owner", "password": "correct horse"}
	byDevice := map[string]string{"device_secret": device}
	free := busyHashes(t, ts)
	for i := range 2 * burst {
		if a := ts.post(c, auth.LoginPath, "", password); !unavailable(a) {
			t.Fatalf("password login %d with every hash slot taken: %d %v, want 503", i, a.status, a.body)
		}
	}
	free()
	users.set("UserByName", "UserByDevice")
	for i := range 2 * burst {
		if a := ts.post(c, auth.LoginPath, "", password); !unavailable(a) {
			t.Fatalf("password login %d with the store out of reach: %d %v, want 503", i, a.status, a.body)
		}
		if a := ts.post(c, auth.LoginPath, "", byDevice); !unavailable(a) {
			t.Fatalf("device login %d with the store out of reach: %d %v, want 503", i, a.status, a.body)
		}
	}
	users.set()

	for i, body := range []map[string]string{password, byDevice} {
		if a := ts.post(c, auth.LoginPath, "", body); a.status != 200 {
			t.Fatalf("login %d within the burst, after logins answered 503: %d %v, want 200", i, a.status, a.body)
		}
	}
	if a := ts.post(c, auth.LoginPath, "", byDevice); a.status != 429 {
		t.Fatalf("login past the burst: %d %v, want 429", a.status, a.body)
	}
}

// TestClaimsAnswered503TakeNothing: claims the server refuses with 503
// before any hash (every hash slot taken, the store out of reach) take
// nothing from their address's claims nor their account's: once the
// server answers, the address claims its whole burst.
func TestClaimsAnswered503TakeNothing(t *testing.T) {
	t.Parallel()
	const burst = 2
	users := &failingUsers{}
	ts := newTestServerWith(t, Config{MaxHashes: 1, MaxHashWaiting: 1, ClaimRate: rate.Every(time.Hour), ClaimBurst: burst, UserClaimBurst: burst},
		auth.Config{GuestLoginRate: rate.Inf},
		func(u store.Users) store.Users { users.Users = u; return users })
	setup := client("127.0.0.42")
	ts.claimOwner(setup)

	c := client("127.0.0.43")
	first, second, third := ts.guest(c, "first"), ts.guest(c, "second"), ts.guest(c, "third")
	claim := func(tok, name string) answer {
		return ts.post(c, Path+"/claim", tok, map[string]string{"name": name, "password": "correct horse", "device_secret": ts.secrets[tok]})
	}
	free := busyHashes(t, ts)
	for i := range 2 * burst {
		if a := claim(first, "First"); !unavailable(a) {
			t.Fatalf("claim %d with every hash slot taken: %d %v, want 503", i, a.status, a.body)
		}
	}
	free()
	for i, fail := range []string{"UserByDevice"} {
		users.set(fail)
		for j := range 2 * burst {
			if a := claim(first, "First"); !unavailable(a) {
				t.Fatalf("claim %d.%d with the store's %s out of reach: %d %v, want 503", i, j, fail, a.status, a.body)
			}
		}
	}
	users.set()

	for i, tok := range []string{first, second} {
		if a := claim(tok, []string{"First", "Second"}[i]); a.status != 200 {
			t.Fatalf("claim %d within the burst, after claims answered 503: %d %v, want 200", i, a.status, a.body)
		}
	}
	if a := claim(third, "Third"); a.status != 429 || !strings.Contains(a.err(), "too many claims from this address") {
		t.Fatalf("claim past the address's burst: %d %v, want 429", a.status, a.body)
	}
}

// identityToken returns an HS256 identity token of subject under key.
func identityToken(key []byte, subject string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	signed := enc(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." + enc(map[string]any{"sub": subject, "exp": time.Now().Add(time.Hour).Unix()})
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestRequestsAnswered503AfterAHashTakeTheirLimits: a claim, a link and a
// password login answered 503 after a password hash ran (the right
// current password, or password, checked; the store out of reach when it
// writes) keep what they took of the claim or login limits: a client
// that knows its own password cannot have the server hash for it without
// end by retrying while the store fails. Past the burst, 429.
func TestRequestsAnswered503AfterAHashTakeTheirLimits(t *testing.T) {
	t.Parallel()
	const burst = 2
	key := bytes.Repeat([]byte{'i'}, auth.MinSecretLen)
	users := &failingUsers{}
	// Each account's first claim, its name, takes one of its burst + 1.
	ts := newTestServerWith(t, Config{ClaimRate: rate.Every(time.Hour), ClaimBurst: 10 * burst, UserClaimBurst: burst + 1},
		auth.Config{GuestLoginRate: rate.Every(time.Hour), GuestLoginBurst: 10 * burst, Identity: auth.IdentityConfig{HMACKey: key}},
		func(u store.Users) store.Users { users.Users = u; return users })
	setup := client("127.0.0.44")
	claimed := func(name string) string {
		tok := ts.guest(setup, strings.ToLower(name))
		a := ts.post(setup, Path+"/claim", tok, map[string]string{"name": name, "password": "correct horse", "device_secret": ts.secrets[tok]})
		tok, _ = a.body["token"].(string)
		if a.status != 200 || tok == "" {
			t.Fatalf("claim %s: %d %v", name, a.status, a.body)
		}
		return tok
	}
	renamer, linker := claimed("Renamer"), claimed("Linker")
	c := client("127.0.0.45")

	users.set("ClaimNameSigningOut")
	for i := range burst {
		if a := ts.post(c, Path+"/claim", renamer, map[string]string{"name": "Renamed", "password": "battery staple", "current_password": "correct horse"}); !unavailable(a) {
			t.Fatalf("claim %d with the store's ClaimNameSigningOut out of reach: %d %v, want 503", i, a.status, a.body)
		}
	}
	if a := ts.post(c, Path+"/claim", renamer, map[string]string{"name": "Renamed", "password": "battery staple", "current_password": "correct horse"}); a.status != 429 || !strings.Contains(a.err(), "too many claims for this account") {
		t.Errorf("claim past the account's burst, after %d answered 503 once hashed: %d %v, want 429", burst, a.status, a.body)
	}

	users.set("LinkSubject")
	link := map[string]string{"identity_token": identityToken(key, "linker-id"), "current_password": "correct horse"}
	for i := range burst {
		if a := ts.post(c, Path+"/link", linker, link); !unavailable(a) {
			t.Fatalf("link %d with the store's LinkSubject out of reach: %d %v, want 503", i, a.status, a.body)
		}
	}
	if a := ts.post(c, Path+"/link", linker, link); a.status != 429 || !strings.Contains(a.err(), "too many claims for this account") {
		t.Errorf("link past the account's burst, after %d answered 503 once hashed: %d %v, want 429", burst, a.status, a.body)
	}

	// The address's 10*burst logins, then 429.
	users.set("AddDevice")
	login := map[string]string{"name": "Renamer", "password": "correct horse"}
	for i := range 10*burst + 1 {
		a := ts.post(c, auth.LoginPath, "", login)
		if a.status == 429 && strings.Contains(a.err(), "too many logins from this address") {
			return
		}
		if !unavailable(a) {
			t.Fatalf("password login %d with the store's AddDevice out of reach: %d %v, want 503", i, a.status, a.body)
		}
	}
	t.Fatalf("%d password logins answered 503 once hashed, none 429: each gave its address's login back", 10*burst+1)
}

// TestIdentityClaimsAnswered503TakeNothing: claims proven with the
// identity (which check the password they give against the account's)
// that the server answers 503 before any hash ran (every hash slot taken)
// take none of the address's or the account's claims, as those proven
// otherwise: once the server answers, the account claims its whole burst.
func TestIdentityClaimsAnswered503TakeNothing(t *testing.T) {
	t.Parallel()
	const burst = 2
	key := bytes.Repeat([]byte{'i'}, auth.MinSecretLen)
	// The account's claim of its name and its link take two of its claims.
	ts := newTestServerWith(t, Config{MaxHashes: 1, MaxHashWaiting: 1, ClaimRate: rate.Every(time.Hour), ClaimBurst: burst, UserClaimBurst: burst + 2},
		auth.Config{GuestLoginRate: rate.Inf, Identity: auth.IdentityConfig{HMACKey: key}}, nil)
	setup := client("127.0.0.46")
	tok, _ := ts.claimOwner(setup)
	if a := ts.post(setup, Path+"/link", tok, map[string]string{"identity_token": identityToken(key, "owner-id"), "current_password": "correct horse"}); a.status != 200 {
		t.Fatalf("link: %d %v", a.status, a.body)
	}

	c := client("127.0.0.47")
	rename := map[string]string{"name": "Owner", "password": "correct horse", "identity_token": identityToken(key, "owner-id")}
	free := busyHashes(t, ts)
	for i := range 2 * burst {
		if a := ts.post(c, Path+"/claim", tok, rename); !unavailable(a) {
			t.Fatalf("claim %d proven with the identity, every hash slot taken: %d %v, want 503", i, a.status, a.body)
		}
	}
	free()
	for i := range burst {
		if a := ts.post(c, Path+"/claim", tok, rename); a.status != 200 {
			t.Fatalf("claim %d proven with the identity within the burst, after claims answered 503 before a hash: %d %v, want 200", i, a.status, a.body)
		}
	}
	if a := ts.post(c, Path+"/claim", tok, rename); a.status != 429 {
		t.Fatalf("claim proven with the identity past the burst: %d %v, want 429", a.status, a.body)
	}
}
