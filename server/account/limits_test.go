package account

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/store"
)

// testServer serves POST /v1/login and the account endpoints of a Service
// made with cfg (over a SQLite store in a temporary directory) on
// loopback.
type testServer struct {
	t    *testing.T
	svc  *Service
	auth *auth.Authority
	url  string
	// secrets maps a guest's session token to its device secret, which
	// a claim of the guest needs.
	secrets map[string]string
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return newTestServerWith(t, cfg, auth.Config{GuestLoginRate: rate.Inf}, nil)
}

// newTestServerWith is newTestServer with the login limits of acfg and,
// unless wrap is nil, the store seen through wrap.
func newTestServerWith(t *testing.T, cfg Config, acfg auth.Config, wrap func(store.Users) store.Users) *testServer {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg.Users = db
	if wrap != nil {
		cfg.Users = wrap(db)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg.Keys, acfg.Accounts = []auth.Key{{ID: "k", Secret: bytes.Repeat([]byte{7}, 32)}}, svc
	a, err := auth.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(auth.LoginPath, a.LoginHandler())
	mux.Handle(Path+"/", svc.Handler(a))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &testServer{t: t, svc: svc, auth: a, url: hs.URL, secrets: map[string]string{}}
}

// client returns an HTTP client whose connections come from source.
func client(source string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

type answer struct {
	status     int
	retryAfter string
	body       map[string]any
}

func (ts *testServer) post(c *http.Client, path, token string, body any) answer {
	ts.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, ts.url+path, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		ts.t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	out := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: map[string]any{}}
	_ = json.NewDecoder(resp.Body).Decode(&out.body)
	return out
}

// guest logs a new guest in from c and returns its session token; its
// device secret is ts.secrets[token].
func (ts *testServer) guest(c *http.Client, name string) string {
	ts.t.Helper()
	a := ts.post(c, auth.LoginPath, "", map[string]string{"name": name})
	tok, _ := a.body["token"].(string)
	if a.status != 200 || tok == "" {
		ts.t.Fatalf("guest login %s: %d %v", name, a.status, a.body)
	}
	ts.secrets[tok], _ = a.body["device_secret"].(string)
	return tok
}

// claimOwner has a new guest on c claim the name "Owner" with the password
// "correct horse", and returns the account's session token and device
// secret from the claim's answer.
func (ts *testServer) claimOwner(c *http.Client) (token, device string) {
	ts.t.Helper()
	tok := ts.guest(c, "owner")
	a := ts.post(c, Path+"/claim", tok, map[string]string{"name": "Owner", "password": "correct horse", "device_secret": ts.secrets[tok]})
	token, _ = a.body["token"].(string)
	device, _ = a.body["device_secret"].(string)
	if a.status != 200 || token == "" || device == "" {
		ts.t.Fatalf("claim: %d %v", a.status, a.body)
	}
	return token, device
}

func (a answer) err() string { s, _ := a.body["error"].(string); return s }

// TestClaimsLimitedPerAddressAndAccount: claims of a taken name answer 409
// and use up nothing, however many; past the burst, claims from one
// address answer 429 with Retry-After while another address still claims
// and logs in; one account past its own burst gets 429 too.
func TestClaimsLimitedPerAddressAndAccount(t *testing.T) {
	t.Parallel()
	// The defaults' burst at a rate that refills nothing during the test.
	ts := newTestServer(t, Config{ClaimRate: rate.Every(time.Hour), ClaimBurst: DefaultClaimBurst, UserClaimBurst: DefaultUserClaimBurst})
	one, two := client("127.0.0.1"), client("127.0.0.2")

	owner := ts.guest(one, "owner")
	if a := ts.post(one, Path+"/claim", owner, map[string]string{"name": "Taken", "password": "correct horse", "device_secret": ts.secrets[owner]}); a.status != 200 {
		t.Fatalf("first claim: %d %v", a.status, a.body)
	}
	attacker := ts.guest(one, "attacker")
	hashes := ts.svc.Stats().Hashes
	for i := range 50 {
		if a := ts.post(one, Path+"/claim", attacker, map[string]string{"name": "taken", "password": "another one"}); a.status != 409 {
			t.Fatalf("claim %d of a taken name: %d %v, want 409", i, a.status, a.body)
		}
	}
	if got := ts.svc.Stats().Hashes; got != hashes {
		t.Fatalf("claims of a taken name ran %d password hashes, want none", got-hashes)
	}

	// The owner's claim took one of the address's DefaultClaimBurst.
	for i := range DefaultClaimBurst - 1 {
		tok := ts.guest(one, "g"+strconv.Itoa(i))
		if a := ts.post(one, Path+"/claim", tok, map[string]string{"name": "Name" + strconv.Itoa(i), "password": "correct horse", "device_secret": ts.secrets[tok]}); a.status != 200 {
			t.Fatalf("claim %d within the burst: %d %v", i, a.status, a.body)
		}
	}
	tok := ts.guest(one, "late")
	a := ts.post(one, Path+"/claim", tok, map[string]string{"name": "Late", "password": "correct horse", "device_secret": ts.secrets[tok]})
	if secs, err := strconv.Atoi(a.retryAfter); a.status != 429 || err != nil || secs < 1 || !strings.Contains(a.err(), "too many claims from this address") {
		t.Fatalf("claim past the burst: %d Retry-After %q %v, want 429 with Retry-After", a.status, a.retryAfter, a.body)
	}

	other := ts.guest(two, "other")
	if a := ts.post(two, Path+"/claim", other, map[string]string{"name": "Other", "password": "correct horse", "device_secret": ts.secrets[other]}); a.status != 200 {
		t.Fatalf("claim from another address: %d %v", a.status, a.body)
	}
	if a := ts.post(two, auth.LoginPath, "", map[string]string{"name": "Taken", "password": "correct horse"}); a.status != 200 {
		t.Fatalf("password login from another address: %d %v", a.status, a.body)
	}

	// One account renaming itself: DefaultUserClaimBurst claims, then 429.
	// From 127.0.0.2 (one claim used), the address allows more than that.
	for i := range DefaultUserClaimBurst - 1 {
		if a := ts.post(two, Path+"/claim", other, map[string]string{"name": "Other" + strconv.Itoa(i), "password": "correct horse", "current_password": "correct horse"}); a.status != 200 {
			t.Fatalf("rename %d: %d %v", i, a.status, a.body)
		}
	}
	a = ts.post(two, Path+"/claim", other, map[string]string{"name": "OtherAgain", "password": "correct horse", "current_password": "correct horse"})
	if a.status != 429 || a.retryAfter == "" || !strings.Contains(a.err(), "too many claims for this account") {
		t.Fatalf("rename past the account's burst: %d Retry-After %q %v, want 429", a.status, a.retryAfter, a.body)
	}
}

// TestClaimsRefusedForTheAccountTakeNothingFromTheAddress: one account
// past its own burst, retrying, is refused for the account alone: the
// address's claims stay for the others behind it (a NAT, a school).
func TestClaimsRefusedForTheAccountTakeNothingFromTheAddress(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{ClaimRate: rate.Every(time.Hour), ClaimBurst: DefaultClaimBurst, UserClaimBurst: DefaultUserClaimBurst})
	c := client("127.0.0.3")
	guesser := ts.guest(c, "guesser")
	for i := range DefaultUserClaimBurst {
		if a := ts.post(c, Path+"/claim", guesser, map[string]string{"name": "Guesser", "password": "correct horse", "device_secret": "wrong" + strconv.Itoa(i)}); a.status != 403 {
			t.Fatalf("claim %d with a wrong device secret: %d %v, want 403", i, a.status, a.body)
		}
	}
	for i := range 2 * DefaultClaimBurst {
		a := ts.post(c, Path+"/claim", guesser, map[string]string{"name": "Guesser", "password": "correct horse", "device_secret": "wrong"})
		if a.status != 429 || !strings.Contains(a.err(), "too many claims for this account") {
			t.Fatalf("retry %d past the account's burst: %d %v, want 429 for the account", i, a.status, a.body)
		}
	}
	// The account took DefaultUserClaimBurst of the address's claims.
	for i := range DefaultClaimBurst - DefaultUserClaimBurst {
		tok := ts.guest(c, "n"+strconv.Itoa(i))
		if a := ts.post(c, Path+"/claim", tok, map[string]string{"name": "Neighbour" + strconv.Itoa(i), "password": "correct horse", "device_secret": ts.secrets[tok]}); a.status != 200 {
			t.Fatalf("claim %d of another account at the address: %d %v, want 200", i, a.status, a.body)
		}
	}
}

// TestTinyClaimRateGivesASaneRetryAfter: a claim rate whose next token
// is further away than a time.Duration reaches refuses the claim past the
// burst with a Retry-After of at most an hour, not a wrapped-round one.
func TestTinyClaimRateGivesASaneRetryAfter(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{ClaimRate: 1e-300, ClaimBurst: 1, UserClaimBurst: 1})
	one := client("127.0.0.1")
	for i, name := range []string{"First", "Second"} {
		tok := ts.guest(one, "g"+strconv.Itoa(i))
		a := ts.post(one, Path+"/claim", tok, map[string]string{"name": name, "password": "correct horse", "device_secret": ts.secrets[tok]})
		if i == 0 {
			if a.status != 200 {
				t.Fatalf("first claim: %d %v", a.status, a.body)
			}
			continue
		}
		if secs, err := strconv.Atoi(a.retryAfter); a.status != 429 || err != nil || secs < 1 || secs > 3600 {
			t.Fatalf("claim past the burst at 1e-300 a second: %d Retry-After %q %v, want 429 with Retry-After 1..3600", a.status, a.retryAfter, a.body)
		}
	}
}

// TestNewRefusesANaNClaimRate: a ClaimRate of NaN, which no comparison
// trips, is an error naming it, as a negative one is.
func TestNewRefusesANaNClaimRate(t *testing.T) {
	db, err := store.Open(context.Background(), store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, err = New(Config{Users: db, ClaimRate: rate.Limit(math.NaN())})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "ClaimRate is not a number") {
		t.Fatalf("New with ClaimRate NaN: %v, want ErrConfig naming it", err)
	}
}

// TestHashQueueBounded: with every hash slot taken and MaxHashWaiting
// requests waiting, a claim and a password login answer 503 with
// Retry-After at once; a claim of a taken name still answers 409, needing
// no slot; the waiting claim completes once a slot frees.
func TestHashQueueBounded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{MaxHashes: 1, MaxHashWaiting: 1, ClaimRate: rate.Inf})
	c := client("127.0.0.1")
	owner := ts.guest(c, "owner")
	if a := ts.post(c, Path+"/claim", owner, map[string]string{"name": "Taken", "password": "correct horse", "device_secret": ts.secrets[owner]}); a.status != 200 {
		t.Fatalf("first claim: %d %v", a.status, a.body)
	}
	first, second := ts.guest(c, "first"), ts.guest(c, "second")

	ts.svc.hashes <- struct{}{} // every slot busy
	released := false
	release := func() {
		if !released {
			released = true
			ts.svc.release()
		}
	}
	defer release()

	waited := make(chan answer, 1)
	go func() {
		waited <- ts.post(c, Path+"/claim", first, map[string]string{"name": "First", "password": "correct horse", "device_secret": ts.secrets[first]})
	}()
	for deadline := time.Now().Add(10 * time.Second); ts.svc.Stats().Waiting < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the first claim never waited for a hash slot")
		}
		time.Sleep(5 * time.Millisecond)
	}

	a := ts.post(c, Path+"/claim", second, map[string]string{"name": "Second", "password": "correct horse", "device_secret": ts.secrets[second]})
	if a.status != 503 || a.retryAfter != "1" || !strings.Contains(a.err(), "too many password checks waiting") {
		t.Fatalf("claim past the waiting bound: %d Retry-After %q %v, want 503 with Retry-After 1", a.status, a.retryAfter, a.body)
	}
	a = ts.post(c, auth.LoginPath, "", map[string]string{"name": "Taken", "password": "correct horse"})
	if a.status != 503 || a.retryAfter != "1" || !strings.Contains(a.err(), "too many password checks waiting") {
		t.Fatalf("password login past the waiting bound: %d Retry-After %q %v, want 503 with Retry-After 1", a.status, a.retryAfter, a.body)
	}
	if a := ts.post(c, Path+"/claim", second, map[string]string{"name": "taken", "password": "correct horse", "device_secret": ts.secrets[second]}); a.status != 409 {
		t.Fatalf("claim of a taken name with every slot busy: %d %v, want 409", a.status, a.body)
	}
	if st := ts.svc.Stats(); st.Busy != 2 || st.Waiting != 1 {
		t.Fatalf("stats %+v, want 2 refused and 1 waiting", st)
	}

	release()
	if a := <-waited; a.status != 200 || a.body["name"] != "First" {
		t.Fatalf("the waiting claim: %d %v", a.status, a.body)
	}
	if a := ts.post(c, Path+"/claim", second, map[string]string{"name": "Second", "password": "correct horse", "device_secret": ts.secrets[second]}); a.status != 200 {
		t.Fatalf("claim once the slots are free: %d %v", a.status, a.body)
	}
}
