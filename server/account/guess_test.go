package account

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
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
	_, device := ts.claimOwner(owner)
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

// TestWrongCurrentPasswordsAreWrongPasswords: a wrong current_password
// given to a claim or a link takes from the account's wrong passwords as
// a wrong password login does, and marks its address: past the burst, a
// password login from the guesser's address gets 429 before any hash.
// The claims and links themselves are checked still (bounded by the
// claim limits: TestTheOwnerChangesThePasswordOfASpentAccount).
func TestWrongCurrentPasswordsAreWrongPasswords(t *testing.T) {
	t.Parallel()
	const burst = 2
	key := bytes.Repeat([]byte{'i'}, auth.MinSecretLen)
	ts := newTestServerWith(t, Config{ClaimRate: rate.Inf, WrongPasswordRate: rate.Every(time.Hour), WrongPasswordBurst: burst},
		auth.Config{GuestLoginRate: rate.Inf, Identity: auth.IdentityConfig{HMACKey: key}}, nil)
	owner := client("127.0.0.24")
	tok, _ := ts.claimOwner(owner)
	// Whoever holds the session token (it travels in URLs) guesses.
	g := client("127.0.0.25")
	if a := ts.post(g, Path+"/claim", tok, map[string]string{"name": "Mine", "password": "battery staple", "current_password": "guess 1"}); a.status != 403 {
		t.Fatalf("claim with a wrong current password: %d %v, want 403", a.status, a.body)
	}
	if a := ts.post(g, Path+"/link", tok, map[string]string{"identity_token": identityToken(key, "mine"), "current_password": "guess 2"}); a.status != 403 {
		t.Fatalf("link with a wrong current password: %d %v, want 403", a.status, a.body)
	}
	refused := func(a answer) bool {
		secs, err := strconv.Atoi(a.retryAfter)
		return a.status == 429 && err == nil && secs >= 1 && strings.Contains(a.err(), auth.WrongPasswordsMessage)
	}
	hashes := ts.svc.Stats().Hashes
	if a := ts.post(g, auth.LoginPath, "", map[string]string{"name": "Owner", "password": "guess 3"}); !refused(a) {
		t.Fatalf("password login from the address that guessed the current password %d times, the account's burst: %d Retry-After %q %v, want 429 with Retry-After, %s", burst, a.status, a.retryAfter, a.body, auth.WrongPasswordsMessage)
	}
	if got := ts.svc.Stats().Hashes - hashes; got != 0 {
		t.Fatalf("%d password hashes ran for the login past the burst, want 0", got)
	}
	if a := ts.post(g, Path+"/claim", tok, map[string]string{"name": "Mine", "password": "battery staple", "current_password": "guess 4"}); a.status != 403 {
		t.Fatalf("claim with a wrong current password past the account's burst: %d %v, want 403 (checked)", a.status, a.body)
	}
	if a := ts.post(g, Path+"/link", tok, map[string]string{"identity_token": identityToken(key, "mine"), "current_password": "guess 5"}); a.status != 403 {
		t.Fatalf("link with a wrong current password past the account's burst: %d %v, want 403 (checked)", a.status, a.body)
	}
	// The owner, from an address that has not guessed wrong, renames.
	if a := ts.post(owner, Path+"/claim", tok, map[string]string{"name": "Owner2", "password": "correct horse", "current_password": "correct horse"}); a.status != 200 {
		t.Fatalf("the owner's rename with the right current password: %d %v, want 200", a.status, a.body)
	}
}

// TestMarkedAddressesStayMarkedWhileOthersGuess: an address that guessed
// a spent account wrong stays refused while many other addresses guess
// that account and others, however small the tables, as long as the
// account is guessed: the accounts guessed least recently are the ones
// forgotten past the tables' bounds (of accounts, and of marks in all),
// and one whose addresses are all taken refuses the password of any
// other address while its wrong passwords are spent (its device secrets
// still log it in).
func TestMarkedAddressesStayMarkedWhileOthersGuess(t *testing.T) {
	t.Parallel()
	const keys, perAccount = 8, 3
	ts := newTestServer(t, Config{ClaimRate: rate.Inf, WrongPasswordRate: rate.Every(time.Hour), WrongPasswordBurst: 1, WrongPasswordKeys: keys, WrongPasswordAddrs: perAccount})
	setup := client("127.0.1.1")
	var device string
	// More accounts than the table keeps, each guessed from more
	// addresses than the table keeps marks for all of them.
	var others []string
	for i := range keys {
		others = append(others, fmt.Sprint("Other", i))
	}
	for _, name := range append([]string{"Owner"}, others...) {
		tok := ts.guest(setup, strings.ToLower(name))
		a := ts.post(setup, Path+"/claim", tok, map[string]string{"name": name, "password": "correct horse", "device_secret": ts.secrets[tok]})
		if a.status != 200 {
			t.Fatalf("claim %s: %d %v", name, a.status, a.body)
		}
		if name == "Owner" {
			device, _ = a.body["device_secret"].(string)
		}
	}
	refused := func(a answer) bool {
		return a.status == 429 && a.retryAfter != "" && strings.Contains(a.err(), auth.WrongPasswordsMessage)
	}
	guess := func(c *http.Client, name string) answer {
		return ts.post(c, auth.LoginPath, "", map[string]string{"name": name, "password": "a wrong guess"})
	}
	first := client("127.0.1.2")
	if a := guess(first, "Owner"); a.status != 401 {
		t.Fatalf("first wrong password: %d %v, want 401", a.status, a.body)
	}
	if a := guess(first, "Owner"); !refused(a) {
		t.Fatalf("its second, past the account's burst: %d %v, want 429", a.status, a.body)
	}
	// More addresses than the tables hold guess the account, and the
	// others in turn.
	checked := 0
	last := map[string]*http.Client{}
	for i := range 2 * keys {
		c := client("127.0.1." + strconv.Itoa(10+i))
		a := guess(c, "Owner")
		switch {
		case a.status == 401:
			checked++
		case !refused(a):
			t.Fatalf("wrong password of another address %d: %d %v, want 401 or 429", i, a.status, a.body)
		}
		other := others[i%len(others)]
		if a := guess(c, other); a.status != 401 && !refused(a) {
			t.Fatalf("wrong password of %s from address %d: %d %v, want 401 or 429", other, i, a.status, a.body)
		}
		last[other] = c
	}
	if a := guess(first, "Owner"); !refused(a) {
		t.Fatalf("the first guesser again, after %d addresses guessed: %d %v, want 429", 2*keys, a.status, a.body)
	}
	if checked > perAccount-1 {
		t.Fatalf("%d of %d other addresses had a guess checked past the account's burst, want at most %d", checked, 2*keys, perAccount-1)
	}
	if a := ts.post(setup, auth.LoginPath, "", map[string]string{"device_secret": device}); a.status != 200 {
		t.Fatalf("the owner's device secret: %d %v, want 200", a.status, a.body)
	}
	// The tables' bounds were reached: some other account was forgotten,
	// and its last guesser, marked and past its burst while it was kept,
	// has a guess checked again.
	forgotten := 0
	for _, name := range others {
		if a := guess(last[name], name); a.status == 401 {
			forgotten++
		}
	}
	if forgotten == 0 {
		t.Fatal("every other account's last guesser still refused: the test never reached the tables' bounds")
	}
}

// TestAGuessersNeighboursAreRefusedWhileTheAccountIsSpent: once 16 /64s
// of one IPv6 /48 guessed a spent account wrong, the whole /48 is
// refused its password, the owner's /64 there too though it never
// guessed; the owner logs in there with a device secret, and with the
// password from another /48. (Clients named by X-Forwarded-For through
// a trusted proxy on loopback.)
func TestAGuessersNeighboursAreRefusedWhileTheAccountIsSpent(t *testing.T) {
	t.Parallel()
	proxy := clientip.MustParse("127.0.0.0/8")
	ts := newTestServerWith(t, Config{WrongPasswordRate: rate.Every(time.Hour), WrongPasswordBurst: 1, TrustedProxies: proxy},
		auth.Config{GuestLoginRate: rate.Inf, TrustedProxies: proxy}, nil)
	c := client("127.0.0.26")
	_, device := ts.claimOwner(c)
	login := func(from string, body map[string]string) answer {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, ts.url+auth.LoginPath, bytes.NewReader(b))
		req.Header.Set("X-Forwarded-For", from)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: map[string]any{}}
		_ = json.NewDecoder(resp.Body).Decode(&out.body)
		return out
	}
	for i := range clientip.V6SiteFactor {
		if a := login(fmt.Sprintf("2001:db8:1:%x::1", i), map[string]string{"name": "Owner", "password": "a wrong guess"}); a.status != 401 {
			t.Fatalf("wrong password from /64 %d of the guesser's /48: %d %v, want 401", i, a.status, a.body)
		}
	}
	neighbour := "2001:db8:1:ffff::1"
	if a := login(neighbour, map[string]string{"name": "Owner", "password": "correct horse"}); a.status != 429 || !strings.Contains(a.err(), auth.WrongPasswordsMessage) {
		t.Fatalf("the right password from a /64 that never guessed, in the guesser's /48: %d %v, want 429", a.status, a.body)
	}
	if a := login(neighbour, map[string]string{"device_secret": device}); a.status != 200 {
		t.Fatalf("the owner's device secret there: %d %v, want 200", a.status, a.body)
	}
	if a := login("2001:db8:2::1", map[string]string{"name": "Owner", "password": "correct horse"}); a.status != 200 {
		t.Fatalf("the right password from another /48: %d %v, want 200", a.status, a.body)
	}
}

// TestAnAccountsMarksAreForgottenWithItsBucket: marks held by other
// accounts push an account out of the table whole, never its marks alone:
// once its marks are gone its bucket is full again too, so the address
// that had guessed it is checked as any address of a fresh account is,
// its burst and then 429.
func TestAnAccountsMarksAreForgottenWithItsBucket(t *testing.T) {
	t.Parallel()
	const keys, perAccount, burst = 8, 2, 2
	ts := newTestServer(t, Config{ClaimRate: rate.Inf, WrongPasswordRate: rate.Every(time.Hour), WrongPasswordBurst: burst, WrongPasswordKeys: keys, WrongPasswordAddrs: perAccount})
	setup := client("127.0.2.1")
	names := []string{"Owner", "Other1", "Other2", "Other3", "Other4"}
	for _, name := range names {
		tok := ts.guest(setup, strings.ToLower(name))
		if a := ts.post(setup, Path+"/claim", tok, map[string]string{"name": name, "password": "correct horse", "device_secret": ts.secrets[tok]}); a.status != 200 {
			t.Fatalf("claim %s: %d %v", name, a.status, a.body)
		}
	}
	refused := func(a answer) bool {
		return a.status == 429 && a.retryAfter != "" && strings.Contains(a.err(), auth.WrongPasswordsMessage)
	}
	guess := func(c *http.Client, name string) answer {
		return ts.post(c, auth.LoginPath, "", map[string]string{"name": name, "password": "a wrong guess"})
	}
	g := client("127.0.2.2")
	for i := range burst {
		if a := guess(g, "Owner"); a.status != 401 {
			t.Fatalf("wrong password %d within the burst: %d %v, want 401", i, a.status, a.body)
		}
	}
	if a := guess(g, "Owner"); !refused(a) {
		t.Fatalf("past the burst: %d %v, want 429", a.status, a.body)
	}
	// Two addresses guess each of four other accounts: 8 marks, the
	// table's, and the owner's account is the one used least recently.
	for i, name := range names[1:] {
		for j := range perAccount {
			if a := guess(client(fmt.Sprintf("127.0.2.%d", 10+perAccount*i+j)), name); a.status != 401 {
				t.Fatalf("wrong password of %s from address %d: %d %v, want 401", name, j, a.status, a.body)
			}
		}
	}
	for i := range burst {
		if a := guess(g, "Owner"); a.status != 401 {
			t.Fatalf("wrong password %d of the guesser once the account's marks were forgotten: %d %v, want 401 (its bucket full again: forgotten whole)", i, a.status, a.body)
		}
	}
	if a := guess(g, "Owner"); !refused(a) {
		t.Fatalf("past the burst again: %d %v, want 429", a.status, a.body)
	}
}

// TestTheOwnerChangesThePasswordOfASpentAccount: while guessers keep an
// account's wrong passwords spent, the owner's address among them (a
// NAT they share), the owner, logged in by a device secret, links an
// identity and changes the password with the right current_password from
// that very address: claims and links are never refused for the
// account's wrong passwords. A session token's holder guessing
// current_password is held to the claim limits, and each wrong one marks
// its address for the account's password logins.
func TestTheOwnerChangesThePasswordOfASpentAccount(t *testing.T) {
	t.Parallel()
	const userClaims = 5
	key := bytes.Repeat([]byte{'o'}, auth.MinSecretLen)
	ts := newTestServerWith(t, Config{ClaimRate: rate.Every(time.Hour), UserClaimBurst: userClaims, WrongPasswordRate: rate.Every(time.Hour), WrongPasswordBurst: 2},
		auth.Config{GuestLoginRate: rate.Inf, Identity: auth.IdentityConfig{HMACKey: key}}, nil)
	nat := client("127.0.3.1")
	tok, _ := ts.claimOwner(nat)
	login := func(c *http.Client, password string) answer {
		return ts.post(c, auth.LoginPath, "", map[string]string{"name": "Owner", "password": password})
	}
	// Guessers behind the owner's NAT and elsewhere spend the account.
	for i, c := range []*http.Client{nat, client("127.0.3.2")} {
		if a := login(c, "a wrong guess"); a.status != 401 {
			t.Fatalf("wrong password %d: %d %v, want 401", i, a.status, a.body)
		}
	}
	if a := login(nat, "correct horse"); a.status != 429 {
		t.Fatalf("the right password from the guessers' NAT: %d %v, want 429", a.status, a.body)
	}
	if a := ts.post(nat, Path+"/link", tok, map[string]string{"identity_token": identityToken(key, "owner-id"), "current_password": "correct horse"}); a.status != 200 {
		t.Fatalf("the owner's link with the right current password from the NAT: %d %v, want 200", a.status, a.body)
	}
	a := ts.post(nat, Path+"/claim", tok, map[string]string{"name": "Owner", "password": "battery staple", "current_password": "correct horse"})
	if a.status != 200 {
		t.Fatalf("the owner's new password with the right current password from the NAT: %d %v, want 200", a.status, a.body)
	}
	if a := login(client("127.0.3.3"), "battery staple"); a.status != 200 {
		t.Fatalf("the new password from an address that has not guessed: %d %v, want 200", a.status, a.body)
	}
	// Whoever holds a session token guesses current_password: each guess
	// is checked, up to the account's claims (the owner's took 3), and
	// marks the address.
	holder := client("127.0.3.4")
	for i := range userClaims - 3 {
		if a := ts.post(holder, Path+"/claim", tok, map[string]string{"name": "Mine", "password": "mine mine", "current_password": fmt.Sprint("guess ", i)}); a.status != 403 {
			t.Fatalf("claim %d with a wrong current password: %d %v, want 403", i, a.status, a.body)
		}
	}
	if a := ts.post(holder, Path+"/claim", tok, map[string]string{"name": "Mine", "password": "mine mine", "current_password": "battery staple"}); a.status != 429 || !strings.Contains(a.err(), "too many claims for this account") {
		t.Fatalf("claim past the account's claims: %d %v, want 429 too many claims for this account", a.status, a.body)
	}
	if a := login(holder, "battery staple"); a.status != 429 || !strings.Contains(a.err(), auth.WrongPasswordsMessage) {
		t.Fatalf("password login from the address that guessed current_password: %d %v, want 429", a.status, a.body)
	}
}

// TestWrongPasswordsRetryAfterIsTheBucketsRefill: at the default limits,
// the 429 of a guesser past an account's wrong passwords says to retry
// within the bucket's refill of one token (a minute), not at the end of
// its mark's hour: the account's next token comes first, and a login
// from the address is checked again with it.
func TestWrongPasswordsRetryAfterIsTheBucketsRefill(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := client("127.0.4.1")
	ts.claimOwner(c)
	for i := range DefaultWrongPasswordBurst {
		if a := ts.post(c, auth.LoginPath, "", map[string]string{"name": "Owner", "password": "a wrong guess"}); a.status != 401 {
			t.Fatalf("wrong password %d within the burst: %d %v, want 401", i, a.status, a.body)
		}
	}
	a := ts.post(c, auth.LoginPath, "", map[string]string{"name": "Owner", "password": "a wrong guess"})
	secs, err := strconv.Atoi(a.retryAfter)
	if a.status != 429 || err != nil || secs < 1 || secs > 60 {
		t.Fatalf("past the burst: %d Retry-After %q %v, want 429 with Retry-After 1 to 60", a.status, a.retryAfter, a.body)
	}
}
