package account

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
)

// TestWrongPasswordsLimitedPerAccount: guesses of one account's password
// from several addresses, past the account's burst of wrong passwords,
// get 429 with Retry-After and run no hash, however the name is spelt;
// an address that has not guessed wrong gets one guess. The owner still
// logs in: with the right password from an address that has not guessed
// wrong, and with a device secret from any address, a guesser's too.
func TestWrongPasswordsLimitedPerAccount(t *testing.T) {
	t.Parallel()
	const burst = 4
	ts := newTestServer(t, Config{WrongPasswordRate: rate.Every(time.Hour), WrongPasswordBurst: burst})
	owner := client("127.0.0.20")
	tok := ts.guest(owner, "owner")
	a := ts.post(owner, Path+"/claim", tok, map[string]string{"name": "Owner", "password": "correct horse", "device_secret": ts.secrets[tok]})
	device, _ := a.body["device_secret"].(string)
	if a.status != 200 || device == "" {
		t.Fatalf("claim: %d %v", a.status, a.body)
	}
	guessers := []*http.Client{client("127.0.0.21"), client("127.0.0.22"), client("127.0.0.23")}
	guess := func(c *http.Client, name string, i int) answer {
		return ts.post(c, auth.LoginPath, "", map[string]string{"name": name, "password": "guess number " + strconv.Itoa(i)})
	}
	refused := func(a answer) bool {
		secs, err := strconv.Atoi(a.retryAfter)
		return a.status == 429 && err == nil && secs >= 1 && strings.Contains(a.err(), "too many wrong passwords for this account")
	}

	// Two addresses spend the account's burst between them.
	for i := range burst {
		if a := guess(guessers[i%2], "Owner", i); a.status != 401 {
			t.Fatalf("wrong password %d within the account's burst: %d %v, want 401", i, a.status, a.body)
		}
	}
	hashes := ts.svc.Stats().Hashes
	for i, name := range []string{"Owner", "owner", "OWNER", " owner "} {
		for _, g := range guessers[:2] {
			if a := guess(g, name, burst+i); !refused(a) {
				t.Fatalf("wrong password past the account's burst as %q: %d Retry-After %q %v, want 429 with Retry-After, too many wrong passwords for this account", name, a.status, a.retryAfter, a.body)
			}
		}
	}
	// A third address has not guessed wrong: one guess, then 429.
	if a := guess(guessers[2], "owner", 100); a.status != 401 {
		t.Fatalf("first wrong password of another address: %d %v, want 401", a.status, a.body)
	}
	if a := guess(guessers[2], "owner", 101); !refused(a) {
		t.Fatalf("its second: %d Retry-After %q %v, want 429", a.status, a.retryAfter, a.body)
	}
	if got := ts.svc.Stats().Hashes - hashes; got != 1 {
		t.Fatalf("%d password hashes ran for the guesses past the burst, want 1 (the third address's first)", got)
	}

	// The owner's ways in.
	if a := ts.post(owner, auth.LoginPath, "", map[string]string{"name": "Owner", "password": "correct horse"}); a.status != 200 {
		t.Fatalf("the right password from an address that has not guessed wrong: %d %v, want 200", a.status, a.body)
	}
	for _, g := range guessers {
		if a := ts.post(g, auth.LoginPath, "", map[string]string{"device_secret": device}); a.status != 200 || a.body["name"] != "Owner" {
			t.Fatalf("the owner's device secret from a guesser's address: %d %v, want 200", a.status, a.body)
		}
	}
	// From an address that guessed wrong, the right password waits too:
	// before the hash, it is not told from a guess.
	if a := ts.post(guessers[0], auth.LoginPath, "", map[string]string{"name": "Owner", "password": "correct horse"}); !refused(a) {
		t.Fatalf("the right password from a guesser's address: %d %v, want 429", a.status, a.body)
	}
}
