package tickroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/text/unicode/norm"

	"github.com/tickroom/tickroom"
	"github.com/tickroom/tickroom/game"
	"github.com/tickroom/tickroom/internal/testclient"
	"github.com/tickroom/tickroom/protocol/tickroomv1"
)

// api is a client of a server's public HTTP port.
type api struct {
	t    *testing.T
	base string
}

// post sends body as JSON with an optional bearer token and decodes the
// JSON reply into a map.
func (a api) post(path, token string, body any) (int, map[string]any) {
	a.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, a.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

const identityKey = "an identity provider's shared HMAC key, 32+ bytes"

func identityToken(t *testing.T, sub, name string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "name": name, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(identityKey))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func accountServer(t *testing.T, dir string) (*tickroom.Server, api, context.CancelFunc, <-chan error) {
	return accountServerWith(t, dir, nil)
}

// accountServerWith is accountServer with edit applied to its options.
func accountServerWith(t *testing.T, dir string, edit func(*tickroom.Options)) (*tickroom.Server, api, context.CancelFunc, <-chan error) {
	opts := tickroom.Options{
		Games: []game.Definition{raceDefinition()}, DataDir: dir,
		IdentityKey: []byte(identityKey), GuestLoginRate: math.Inf(1), AdminAddr: "127.0.0.1:0",
	}
	if edit != nil {
		edit(&opts)
	}
	srv, cancel, done := start(t, opts)
	return srv, api{t: t, base: "http://" + srv.HTTPAddr().String()}, cancel, done
}

// TestGuestComesBackByDeviceSecret: a guest login returns a device secret;
// presenting it logs the same account in, also after a restart, and the
// session from before the restart still connects.
func TestGuestComesBackByDeviceSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, a, cancel, done := accountServer(t, dir)
	st, first := a.post("/v1/login", "", map[string]string{"name": "Ada"})
	secret := str(first, "device_secret")
	if st != 200 || len(secret) < 40 || first["guest"] != true {
		t.Fatalf("guest login: %d %v", st, first)
	}
	st, again := a.post("/v1/login", "", map[string]string{"device_secret": secret})
	if st != 200 || str(again, "user_id") != str(first, "user_id") || str(again, "name") != "Ada" || str(again, "device_secret") != secret {
		t.Fatalf("device login: %d %v, want user %s", st, again, str(first, "user_id"))
	}
	if st, body := a.post("/v1/login", "", map[string]string{"device_secret": "not-a-secret-anyone-has"}); st != 401 || !strings.Contains(str(body, "error"), "device secret not recognized") {
		t.Fatalf("unknown device secret: %d %v", st, body)
	}
	if st, body := a.post("/v1/login", "", map[string]string{"device_secret": strings.Repeat("x", 3000)}); st != 401 {
		t.Fatalf("oversized device secret: %d %v", st, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srv2, a2, _, _ := accountServer(t, dir)
	st, after := a2.post("/v1/login", "", map[string]string{"device_secret": secret})
	if st != 200 || str(after, "user_id") != str(first, "user_id") {
		t.Fatalf("device login after a restart: %d %v", st, after)
	}
	c, _, err := testclient.Dial(t, "ws://"+srv2.Addr().String()+tickroom.WebSocketPath, str(first, "token"), testclient.Options{Label: "ada"})
	if err != nil {
		t.Fatalf("connect with the token from before the restart: %v", err)
	}
	if w := c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome(); w.GetUserId() != str(first, "user_id") {
		t.Fatalf("welcome with the token from before the restart: %v", w)
	}
}

// TestClaimNameAndPassword: a guest claims a name with a password; names
// are unique case-insensitively; the name and password log the account in
// from another device.
func TestClaimNameAndPassword(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	_, ada := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	_, bob := a.post("/v1/login", "", map[string]string{"name": "guest2"})

	for _, tc := range []struct {
		name, token string
		body        map[string]string
		status      int
		errPart     string
	}{
		{"no session token", "", map[string]string{"name": "Ada", "password": "correct horse"}, 401, "session token"},
		{"forged session token", "x.y.z", map[string]string{"name": "Ada", "password": "correct horse"}, 401, "session token"},
		{"short password", str(ada, "token"), map[string]string{"name": "Ada", "password": "short"}, 400, "8 to 256"},
		{"invalid name", str(ada, "token"), map[string]string{"name": "", "password": "correct horse"}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := a.post("/v1/account/claim", tc.token, tc.body)
			if st != tc.status || !strings.Contains(str(body, "error"), tc.errPart) {
				t.Fatalf("claim: %d %v, want %d with %q", st, body, tc.status, tc.errPart)
			}
		})
	}

	st, claimed := a.post("/v1/account/claim", str(ada, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(ada, "device_secret")})
	if st != 200 || claimed["claimed"] != true || str(claimed, "name") != "Ada" || str(claimed, "token") == "" || claimed["guest"] != false {
		t.Fatalf("claim: %d %v", st, claimed)
	}
	for _, taken := range []string{"Ada", "ADA", "ada"} {
		if st, body := a.post("/v1/account/claim", str(bob, "token"), map[string]string{"name": taken, "password": "another one"}); st != 409 {
			t.Fatalf("claim %q after Ada: %d %v, want 409", taken, st, body)
		}
	}
	st, in := a.post("/v1/login", "", map[string]string{"name": "aDA", "password": "correct horse"})
	if st != 200 || str(in, "user_id") != str(ada, "user_id") || str(in, "name") != "Ada" || in["guest"] != false || str(in, "device_secret") == "" || str(in, "device_secret") == str(ada, "device_secret") {
		t.Fatalf("password login: %d %v", st, in)
	}
	for _, bad := range []map[string]string{
		{"name": "Ada", "password": "wrong horse"},
		{"name": "Nobody", "password": "correct horse"},
	} {
		if st, body := a.post("/v1/login", "", bad); st != 401 || str(body, "error") != "wrong name or password" {
			t.Fatalf("login %v: %d %v, want 401", bad, st, body)
		}
	}
	// The new device's secret logs in as Ada too.
	if st, body := a.post("/v1/login", "", map[string]string{"device_secret": str(in, "device_secret")}); st != 200 || str(body, "user_id") != str(ada, "user_id") {
		t.Fatalf("second device: %d %v", st, body)
	}
}

// TestReclaimNeedsTheCurrentPassword: a claimed account's name and
// password are changed by a claim only with its current password, so
// that whoever holds one of its session tokens (a private room's watch
// link, watch.html?room=ID&token=T, hands it to anyone the player shares
// it with) cannot lock its owner out of the password login and keep the
// account. server/account's limits test renames with it.
func TestReclaimNeedsTheCurrentPassword(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	_, ada := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	if st, body := a.post("/v1/account/claim", str(ada, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(ada, "device_secret")}); st != 200 {
		t.Fatalf("claim: %d %v", st, body)
	}
	_, in := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	leaked := str(in, "token")
	for _, body := range []map[string]string{
		{"name": "Eve", "password": "eve's password"},
		{"name": "Ada", "password": "eve's password", "current_password": "wrong horse"},
	} {
		if st, m := a.post("/v1/account/claim", leaked, body); st != 403 || !strings.Contains(str(m, "error"), "current password") {
			t.Fatalf("claim %v of a claimed account: %d %v, want 403", body, st, m)
		}
	}
	// Guesses of the current password count against the account's claims
	// (its burst of 3, the first claim included).
	if st, m := a.post("/v1/account/claim", leaked, map[string]string{"name": "Ada", "password": "eve's password", "current_password": "guess"}); st != 429 {
		t.Fatalf("a third claim of the account: %d %v, want 429", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"}); st != 200 || str(m, "user_id") != str(ada, "user_id") {
		t.Fatalf("the owner's password login after the refused claims: %d %v", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"name": "Eve", "password": "eve's password"}); st != 401 {
		t.Fatalf("login with the refused claim's name and password: %d %v, want 401", st, m)
	}
}

// TestLinkIdentity: a guest links an external identity; logging in with
// that identity then gives the guest's account; one identity links to
// one account only.
func TestLinkIdentity(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	_, ada := a.post("/v1/login", "", map[string]string{"name": "ada"})
	_, bob := a.post("/v1/login", "", map[string]string{"name": "bob"})
	tok := identityToken(t, "ext-ada", "Ada Ext")
	if st, body := a.post("/v1/account/link", str(ada, "token"), map[string]string{"identity_token": "junk"}); st != 401 {
		t.Fatalf("link with a bad token: %d %v", st, body)
	}
	st, linked := a.post("/v1/account/link", str(ada, "token"), map[string]string{"identity_token": tok, "device_secret": str(ada, "device_secret")})
	if st != 200 || str(linked, "subject") != "ext-ada" || str(linked, "user_id") != str(ada, "user_id") {
		t.Fatalf("link: %d %v", st, linked)
	}
	if st, body := a.post("/v1/account/link", str(bob, "token"), map[string]string{"identity_token": tok, "device_secret": str(bob, "device_secret")}); st != 409 {
		t.Fatalf("second link of one identity: %d %v, want 409", st, body)
	}
	st, in := a.post("/v1/login", "", map[string]string{"identity_token": tok})
	if st != 200 || str(in, "user_id") != str(ada, "user_id") || in["guest"] != false {
		t.Fatalf("identity login after linking: %d %v, want user %s", st, in, str(ada, "user_id"))
	}
	// An identity nobody linked gets its own account, the same each time.
	_, c1 := a.post("/v1/login", "", map[string]string{"identity_token": identityToken(t, "ext-cy", "Cy")})
	_, c2 := a.post("/v1/login", "", map[string]string{"identity_token": identityToken(t, "ext-cy", "Cy")})
	if str(c1, "user_id") != "ext-cy" || str(c2, "user_id") != "ext-cy" || str(c2, "name") != "Cy" {
		t.Fatalf("first identity logins: %v / %v", c1, c2)
	}
}

// TestLinkDoesNotReplaceALinkedIdentity: an account linked to an identity
// keeps it: whoever holds one of its session tokens (a watch link carries
// one) cannot link their own identity in its place, which locked the owner
// out of their identity login and kept the account for the new one.
func TestLinkDoesNotReplaceALinkedIdentity(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	_, ada := a.post("/v1/login", "", map[string]string{"name": "ada"})
	adaID := identityToken(t, "ext-ada", "Ada Ext")
	if st, m := a.post("/v1/account/link", str(ada, "token"), map[string]string{"identity_token": adaID, "device_secret": str(ada, "device_secret")}); st != 200 {
		t.Fatalf("link: %d %v", st, m)
	}
	if st, m := a.post("/v1/account/link", str(ada, "token"), map[string]string{"identity_token": adaID}); st != 200 {
		t.Fatalf("the same link again: %d %v", st, m)
	}
	if st, m := a.post("/v1/account/link", str(ada, "token"), map[string]string{"identity_token": identityToken(t, "ext-eve", "Eve")}); st != 409 {
		t.Fatalf("another identity in place of the linked one: %d %v, want 409", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"identity_token": identityToken(t, "ext-ada", "Ada Ext")}); st != 200 || str(m, "user_id") != str(ada, "user_id") {
		t.Fatalf("the owner's identity login: %d %v, want user %s", st, m, str(ada, "user_id"))
	}
	if st, m := a.post("/v1/login", "", map[string]string{"identity_token": identityToken(t, "ext-eve", "Eve")}); st != 200 || str(m, "user_id") == str(ada, "user_id") {
		t.Fatalf("the other identity's login: %d %v, want an account of its own", st, m)
	}
}

// TestLinkNeedsTheCurrentPassword: an account that has a password gets an
// identity linked only with that password as well. With a session token
// alone (a watch link carries one), its holder linked their own identity,
// and since a link is never replaced, the owner could not take it back:
// the holder's identity logins came to the account for good.
func TestLinkNeedsTheCurrentPassword(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	_, ada := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	if st, body := a.post("/v1/account/claim", str(ada, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(ada, "device_secret")}); st != 200 {
		t.Fatalf("claim: %d %v", st, body)
	}
	_, in := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	leaked := str(in, "token")
	eve := identityToken(t, "ext-eve", "Eve")
	for _, body := range []map[string]string{
		{"identity_token": eve},
		{"identity_token": eve, "current_password": "wrong horse"},
	} {
		if st, m := a.post("/v1/account/link", leaked, body); st != 403 || !strings.Contains(str(m, "error"), "current password") {
			t.Fatalf("link %v to an account with a password: %d %v, want 403", body, st, m)
		}
	}
	if st, m := a.post("/v1/login", "", map[string]string{"identity_token": eve}); st != 200 || str(m, "user_id") == str(ada, "user_id") {
		t.Fatalf("the refused identity's login: %d %v, want an account of its own", st, m)
	}
	// The owner links its own identity with the password.
	adaID := identityToken(t, "ext-ada", "Ada Ext")
	if st, m := a.post("/v1/account/link", leaked, map[string]string{"identity_token": adaID, "current_password": "correct horse"}); st != 200 || str(m, "subject") != "ext-ada" {
		t.Fatalf("link with the current password: %d %v", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"identity_token": adaID}); st != 200 || str(m, "user_id") != str(ada, "user_id") {
		t.Fatalf("the owner's identity login: %d %v, want user %s", st, m, str(ada, "user_id"))
	}
	// Guesses count against the account's claim limits (a burst of 3, the
	// first claim included), on a server of their own.
	_, b, _, _ := accountServer(t, t.TempDir())
	_, bob := b.post("/v1/login", "", map[string]string{"name": "guest2"})
	// The claim ends the guest's session: its reply's token carries on.
	st, bobClaimed := b.post("/v1/account/claim", str(bob, "token"), map[string]string{"name": "Bob", "password": "correct horse", "device_secret": str(bob, "device_secret")})
	if st != 200 {
		t.Fatalf("claim: %d %v", st, bobClaimed)
	}
	for i := range 2 {
		if st, m := b.post("/v1/account/link", str(bobClaimed, "token"), map[string]string{"identity_token": eve, "current_password": "guess"}); st != 403 {
			t.Fatalf("guess %d: %d %v, want 403", i, st, m)
		}
	}
	if st, m := b.post("/v1/account/link", str(bobClaimed, "token"), map[string]string{"identity_token": eve, "current_password": "guess"}); st != 429 || !strings.Contains(str(m, "error"), "too many claims for this account") {
		t.Fatalf("a third guess: %d %v, want 429", st, m)
	}
}

// TestClaimOfALinkedAccountNeedsItsIdentity: an account linked to an
// identity and without a password gets one only with a token of that
// identity (or later its current password). With a session token alone its
// holder set a password of their own, which the owner, logging in with the
// identity, could then never change, since a claim of an account with a
// password needs the current one.
func TestClaimOfALinkedAccountNeedsItsIdentity(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	adaID := identityToken(t, "ext-ada", "Ada")
	_, ada := a.post("/v1/login", "", map[string]string{"identity_token": adaID})
	leaked := str(ada, "token")
	for _, body := range []map[string]string{
		{"name": "Eve", "password": "eve's password"},
		{"name": "Eve", "password": "eve's password", "identity_token": identityToken(t, "ext-eve", "Eve")},
	} {
		if st, m := a.post("/v1/account/claim", leaked, body); st != 403 || !strings.Contains(str(m, "error"), "identity_token") {
			t.Fatalf("claim %v of a linked account: %d %v, want 403", body, st, m)
		}
	}
	if st, m := a.post("/v1/login", "", map[string]string{"name": "Eve", "password": "eve's password"}); st != 401 {
		t.Fatalf("login with the refused claim's name and password: %d %v, want 401", st, m)
	}
	// The owner claims with its identity (the third claim of the
	// account: its burst).
	if st, m := a.post("/v1/account/claim", leaked, map[string]string{"name": "Ada", "password": "correct horse", "identity_token": adaID}); st != 200 {
		t.Fatalf("claim with the account's identity: %d %v", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"}); st != 200 || str(m, "user_id") != str(ada, "user_id") {
		t.Fatalf("the owner's password login: %d %v, want user %s", st, m, str(ada, "user_id"))
	}
}

// TestGuestsNotSeenForGuestTTLAreForgotten: a guest that comes back within
// GuestTTL keeps its account; one that does not is deleted once another
// guest logs in, and its device secret is then unknown (it would log in as
// a new guest). A claimed account is never deleted.
func TestGuestsNotSeenForGuestTTLAreForgotten(t *testing.T) {
	t.Parallel()
	const ttl = 4 * time.Second
	// A token's expiry is in whole seconds, so one issued for 2 s lives
	// 1–2 s: time for the claim below on a busy machine (GuestTTL must
	// exceed it).
	_, a, _, _ := accountServerWith(t, t.TempDir(), func(o *tickroom.Options) { o.GuestTTL, o.TokenTTL = ttl, 2*time.Second })
	login := func(body map[string]string) map[string]any {
		t.Helper()
		st, m := a.post("/v1/login", "", body)
		if st != 200 {
			t.Fatalf("login %v: %d %v", body, st, m)
		}
		return m
	}
	back, gone, named := login(map[string]string{"name": "Back"}), login(map[string]string{"name": "Gone"}), login(map[string]string{"name": "Named"})
	// The claim gives the claimer's device a new secret.
	st, claimed := a.post("/v1/account/claim", str(named, "token"), map[string]string{"name": "Named", "password": "a long enough password", "device_secret": str(named, "device_secret")})
	if st != 200 || str(claimed, "device_secret") == "" {
		t.Fatalf("claim: %d %v", st, claimed)
	}
	time.Sleep(ttl / 2)
	if again := login(map[string]string{"device_secret": str(back, "device_secret")}); str(again, "user_id") != str(back, "user_id") {
		t.Fatalf("back's device login: %v", again)
	}
	time.Sleep(ttl/2 + 500*time.Millisecond)
	// Gone was last seen more than GuestTTL ago, Back less.
	login(map[string]string{"name": "Newcomer"})
	if st, m := a.post("/v1/login", "", map[string]string{"device_secret": str(gone, "device_secret")}); st != 401 || !strings.Contains(str(m, "error"), "device secret not recognized") {
		t.Fatalf("the forgotten guest's device login: %d %v, want 401", st, m)
	}
	if again := login(map[string]string{"device_secret": str(back, "device_secret")}); str(again, "user_id") != str(back, "user_id") {
		t.Fatalf("back after GuestTTL since its first login: %v", again)
	}
	if again := login(map[string]string{"device_secret": str(claimed, "device_secret")}); str(again, "user_id") != str(named, "user_id") {
		t.Fatalf("the claimed account: %v", again)
	}
}

// TestGuestClaimNeedsItsDeviceSecret: a guest account (no password, no
// identity) is claimed only with the device secret its login returned.
// With a session token alone (carried in WebSocket URLs, so in proxy logs
// and history) its holder set a name and password of their own, and the
// owner, whose device secret still logged in, shared the account with
// them and could not take it back. A wrong secret counts against the
// account's claims.
func TestGuestClaimNeedsItsDeviceSecret(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	_, ada := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	_, other := a.post("/v1/login", "", map[string]string{"name": "guest2"})
	leaked := str(ada, "token")
	for _, body := range []map[string]string{
		{"name": "Eve", "password": "eve's password"},
		{"name": "Eve", "password": "eve's password", "device_secret": str(other, "device_secret")},
	} {
		if st, m := a.post("/v1/account/claim", leaked, body); st != 403 || !strings.Contains(str(m, "error"), "device_secret") {
			t.Fatalf("claim %v of a guest with its session token alone: %d %v, want 403 naming device_secret", body, st, m)
		}
	}
	if st, m := a.post("/v1/login", "", map[string]string{"name": "Eve", "password": "eve's password"}); st != 401 {
		t.Fatalf("login with the refused claim's name and password: %d %v, want 401", st, m)
	}
	// The refused claims took two of the account's burst of 3: the owner
	// claims with the third, and a further wrong secret gets 429.
	if st, m := a.post("/v1/account/claim", leaked, map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(ada, "device_secret")}); st != 200 || m["claimed"] != true {
		t.Fatalf("the owner's claim with its device secret: %d %v", st, m)
	}
	// On a server of its own, so the address's burst (5) is not the one hit.
	_, b, _, _ := accountServer(t, t.TempDir())
	_, bob := b.post("/v1/login", "", map[string]string{"name": "guest3"})
	for i := range 3 {
		if st, m := b.post("/v1/account/claim", str(bob, "token"), map[string]string{"name": "Eve", "password": "eve's password", "device_secret": "wrong"}); st != 403 {
			t.Fatalf("wrong secret %d: %d %v, want 403", i, st, m)
		}
	}
	if st, m := b.post("/v1/account/claim", str(bob, "token"), map[string]string{"name": "Bob", "password": "correct horse", "device_secret": str(bob, "device_secret")}); st != 429 || !strings.Contains(str(m, "error"), "too many claims for this account") {
		t.Fatalf("a claim after 3 wrong secrets: %d %v, want 429", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"}); st != 200 || str(m, "user_id") != str(ada, "user_id") {
		t.Fatalf("the owner's password login: %d %v, want user %s", st, m, str(ada, "user_id"))
	}
}

// TestGuestLinkNeedsItsDeviceSecret: a guest account gets an identity
// linked only with the device secret its login returned; with a session
// token alone its holder linked their own identity, which is never
// replaced, so their identity logins came to the account for good. Wrong
// secrets count against the account's claims.
func TestGuestLinkNeedsItsDeviceSecret(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	_, ada := a.post("/v1/login", "", map[string]string{"name": "ada"})
	leaked := str(ada, "token")
	eve := identityToken(t, "ext-eve", "Eve")
	for _, body := range []map[string]string{
		{"identity_token": eve},
		{"identity_token": eve, "device_secret": "wrong"},
	} {
		if st, m := a.post("/v1/account/link", leaked, body); st != 403 || !strings.Contains(str(m, "error"), "device_secret") {
			t.Fatalf("link %v to a guest with its session token alone: %d %v, want 403 naming device_secret", body, st, m)
		}
	}
	if st, m := a.post("/v1/login", "", map[string]string{"identity_token": eve}); st != 200 || str(m, "user_id") == str(ada, "user_id") {
		t.Fatalf("the refused identity's login: %d %v, want an account of its own", st, m)
	}
	adaID := identityToken(t, "ext-ada", "Ada Ext")
	if st, m := a.post("/v1/account/link", leaked, map[string]string{"identity_token": adaID, "device_secret": str(ada, "device_secret")}); st != 200 || str(m, "subject") != "ext-ada" {
		t.Fatalf("the owner's link with its device secret: %d %v", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"identity_token": adaID}); st != 200 || str(m, "user_id") != str(ada, "user_id") {
		t.Fatalf("the owner's identity login: %d %v, want user %s", st, m, str(ada, "user_id"))
	}
	// On a server of its own, so the address's burst (5) is not the one hit.
	_, b, _, _ := accountServer(t, t.TempDir())
	_, bob := b.post("/v1/login", "", map[string]string{"name": "bob"})
	for i := range 3 {
		if st, m := b.post("/v1/account/link", str(bob, "token"), map[string]string{"identity_token": eve, "device_secret": "wrong"}); st != 403 {
			t.Fatalf("wrong secret %d: %d %v, want 403", i, st, m)
		}
	}
	if st, m := b.post("/v1/account/link", str(bob, "token"), map[string]string{"identity_token": eve, "device_secret": "wrong"}); st != 429 || !strings.Contains(str(m, "error"), "too many claims for this account") {
		t.Fatalf("a fourth wrong secret: %d %v, want 429", st, m)
	}
}

// TestPasswordLoginTakesTheNameAsAClaimDoes: a claim stores its name in
// the form ValidateName gives it (PRECIS Nickname: NFKC, full-width forms
// at their usual width, white space trimmed and runs of it one space), so
// the password login must read the name it is given in that form too: a
// name typed in another normalization (macOS and iOS keyboards send
// decomposed accents and Hangul), from a full-width IME, or with a
// space an autocomplete added, is the name claimed.
func TestPasswordLoginTakesTheNameAsAClaimDoes(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	for _, tc := range []struct{ claim, login string }{
		{"José Núñez", "Jose\u0301 Nu\u0301n\u0303ez"}, // decomposed accents
		{"한글", "\u1112\u1161\u11ab\u1100\u1173\u11af"}, // conjoining Hangul jamo
		{"Taro", "Ｔａｒｏ"},                               // full-width forms
		{"Ada Lovelace", " Ada  Lovelace "},            // spaces
	} {
		_, g := a.post("/v1/login", "", map[string]string{"name": "guest"})
		st, claimed := a.post("/v1/account/claim", str(g, "token"), map[string]string{"name": tc.claim, "password": "correct horse", "device_secret": str(g, "device_secret")})
		if st != 200 || str(claimed, "name") != tc.claim {
			t.Fatalf("claim %q: %d %v", tc.claim, st, claimed)
		}
		if st, in := a.post("/v1/login", "", map[string]string{"name": tc.login, "password": "correct horse"}); st != 200 || str(in, "user_id") != str(g, "user_id") {
			t.Errorf("password login as %q (+%q) after claiming %q: %d %v, want 200 as %s", tc.login, []rune(tc.login), tc.claim, st, in, str(g, "user_id"))
		}
	}
}

// TestNamesEqualAfterCaseFoldingAreOneName: names are unique
// case-insensitively, and a name folded to lower case may need composing
// again to be compared: "Ταΰγετος" has a precomposed ΰ (U+03B0), which
// folds to υ and two combining marks, while the same name typed in capitals,
// "ΤΑΫ́ΓΕΤΟΣ" (Ϋ, U+03AB, and a combining acute: Greek has no capital ΰ),
// folds to ϋ and one. Both are one name: a second account cannot claim it,
// and the password login finds the account whichever way it is typed. So
// are "Acme™" and "ACMETM" (NFKC makes ™ "TM"), and Cherokee in capitals
// and in small letters ("ᏣᎳᎩ", "ꮳꮃꭹ"), which golang.org/x/text folds to
// the other case, both ways.
func TestNamesEqualAfterCaseFoldingAreOneName(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	for i, tc := range []struct{ claimed, other string }{
		{"Ταΰγετος", "ΤΑ\u03ab\u0301ΓΕΤΟΣ"},
		{"Acme™", "ACMETM"},
		{"ᏣᎳᎩ", "ꮳꮃꭹ"},
	} {
		_, first := a.post("/v1/login", "", map[string]string{"name": fmt.Sprintf("guest%d-1", i)})
		_, second := a.post("/v1/login", "", map[string]string{"name": fmt.Sprintf("guest%d-2", i)})
		if st, body := a.post("/v1/account/claim", str(first, "token"), map[string]string{"name": tc.claimed, "password": "correct horse", "device_secret": str(first, "device_secret")}); st != 200 {
			t.Fatalf("claim %q: %d %v", tc.claimed, st, body)
		}
		if st, body := a.post("/v1/account/claim", str(second, "token"), map[string]string{"name": tc.other, "password": "another one", "device_secret": str(second, "device_secret")}); st != 409 {
			t.Errorf("claim %q after %q: %d %v, want 409", tc.other, tc.claimed, st, body)
		}
		if st, in := a.post("/v1/login", "", map[string]string{"name": tc.other, "password": "correct horse"}); st != 200 || str(in, "user_id") != str(first, "user_id") {
			t.Errorf("password login as %q after claiming %q: %d %v, want 200 as %s", tc.other, tc.claimed, st, in, str(first, "user_id"))
		}
	}
}

// TestLongNamesTypedDecomposedAreTheirLength: a name is 1 to 32
// characters after PRECIS composes it, whatever its length as typed. A
// Hangul syllable from a macOS or iOS keyboard comes as its three jamo,
// nine bytes, so a name of 32 syllables comes as 288 bytes: a guest login
// with it gets the name, and a claimed name of 32 syllables logs in
// typed so.
func TestLongNamesTypedDecomposedAreTheirLength(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	name := strings.Repeat("한", 32)
	typed := norm.NFD.String(name)
	if st, g := a.post("/v1/login", "", map[string]string{"name": typed}); st != 200 || str(g, "name") != name {
		t.Errorf("guest login as %d syllables typed decomposed (%d bytes): %d %v, want 200 as %s", 32, len(typed), st, g, name)
	}
	_, g := a.post("/v1/login", "", map[string]string{"name": "guest"})
	if st, claimed := a.post("/v1/account/claim", str(g, "token"), map[string]string{"name": name, "password": "correct horse", "device_secret": str(g, "device_secret")}); st != 200 {
		t.Fatalf("claim %q: %d %v", name, st, claimed)
	}
	if st, in := a.post("/v1/login", "", map[string]string{"name": typed, "password": "correct horse"}); st != 200 || str(in, "user_id") != str(g, "user_id") {
		t.Errorf("password login as the claimed name typed decomposed (%d bytes): %d %v, want 200 as %s", len(typed), st, in, str(g, "user_id"))
	}
}

// TestPasswordChangeSignsOutTheOtherDevices: a new password ends the
// device logins made before it: a user who changes a leaked password (or
// claims a guest account whose device secret someone copied) does not
// leave the other holder a device that logs in as the account. The
// claimer's own device gets a new secret in the reply; a rename that
// keeps the password signs no one out.
func TestPasswordChangeSignsOutTheOtherDevices(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	deviceLogin := func(secret string) (int, map[string]any) {
		return a.post("/v1/login", "", map[string]string{"device_secret": secret})
	}
	_, guest := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	id := str(guest, "user_id")
	// Whoever borrowed the guest's device may have copied its secret.
	copied := str(guest, "device_secret")
	st, claimed := a.post("/v1/account/claim", str(guest, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": copied})
	if st != 200 {
		t.Fatalf("claim: %d %v", st, claimed)
	}
	// The owner logs in on a phone and a laptop, and changes the password
	// from the laptop.
	_, phone := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	_, laptop := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	if str(phone, "device_secret") == "" || str(laptop, "device_secret") == "" {
		t.Fatalf("password logins: %v, %v", phone, laptop)
	}
	st, changed := a.post("/v1/account/claim", str(laptop, "token"), map[string]string{"name": "Ada", "password": "battery staple", "current_password": "correct horse"})
	if st != 200 || str(changed, "token") == "" {
		t.Fatalf("password change: %d %v", st, changed)
	}
	if st, m := deviceLogin(str(phone, "device_secret")); st != 401 {
		t.Fatalf("device login with a secret from before the password change: %d %v, want 401", st, m)
	}
	for what, secret := range map[string]string{"the laptop's own secret from before": str(laptop, "device_secret"), "the guest's copied secret": copied, "the guest claim's new secret": str(claimed, "device_secret")} {
		if st, m := deviceLogin(secret); st != 401 {
			t.Fatalf("device login with %s: %d %v, want 401", what, st, m)
		}
	}
	fresh := str(changed, "device_secret")
	if st, m := deviceLogin(fresh); st != 200 || str(m, "user_id") != id {
		t.Fatalf("device login with the new secret the password change answered: %d %v, want 200 as %s", st, m, id)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"}); st != 401 {
		t.Fatalf("login with the old password: %d %v, want 401", st, m)
	}
	// A rename that keeps the password (given as current_password) signs
	// no one out, and answers no new secret.
	st, renamed := a.post("/v1/account/claim", str(changed, "token"), map[string]string{"name": "Ada Lovelace", "password": "battery staple", "current_password": "battery staple"})
	if st != 200 || str(renamed, "device_secret") != "" {
		t.Fatalf("rename: %d %v", st, renamed)
	}
	if st, m := deviceLogin(fresh); st != 200 || str(m, "user_id") != id {
		t.Fatalf("device login after a rename: %d %v, want 200 as %s", st, m, id)
	}
}

// TestPasswordChangeEndsTheOtherSessions: a new password ends the
// account's sessions from before it: their tokens are refused at the
// upgrade, by the session check and by the account endpoints, also after
// a restart, and a connection open with one is closed with
// CLOSE_CODE_UNAUTHORIZED. The token the change answers works at once.
func TestPasswordChangeEndsTheOtherSessions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, a, cancel, done := accountServer(t, dir)
	_, guest := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	id := str(guest, "user_id")
	if st, m := a.post("/v1/account/claim", str(guest, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(guest, "device_secret")}); st != 200 {
		t.Fatalf("claim: %d %v", st, m)
	}
	wsURL := func(srv *tickroom.Server) string { return "ws://" + srv.Addr().String() + tickroom.WebSocketPath }
	upgrade := func(srv *tickroom.Server, token string) int {
		t.Helper()
		c, resp, err := testclient.Dial(t, wsURL(srv), token, testclient.Options{})
		if err != nil {
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			return resp.StatusCode
		}
		if w := c.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome]).GetWelcome(); w.GetUserId() != id {
			t.Fatalf("welcome: %v, want user %s", w, id)
		}
		c.WS.Close()
		return 101
	}
	// The account is open on a phone (whoever holds the leaked password
	// may be the one there); its owner changes the password from a laptop.
	_, phone := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	laptop := laterLogin(a, phone, map[string]string{"name": "Ada", "password": "correct horse"})
	phoneLive, _, err := testclient.Dial(t, wsURL(srv), str(phone, "token"), testclient.Options{Label: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	phoneLive.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	st, changed := a.post("/v1/account/claim", str(laptop, "token"), map[string]string{"name": "Ada", "password": "battery staple", "current_password": "correct horse"})
	if st != 200 || str(changed, "token") == "" {
		t.Fatalf("password change: %d %v", st, changed)
	}
	for what, tok := range map[string]string{"the phone's": str(phone, "token"), "the laptop's own": str(laptop, "token")} {
		if st := upgrade(srv, tok); st != http.StatusUnauthorized {
			t.Fatalf("upgrade with %s token from before the password change: %d, want 401", what, st)
		}
		if st, m := a.post("/v1/session", tok, nil); st != http.StatusUnauthorized || !strings.Contains(str(m, "error"), "password") {
			t.Fatalf("session check of %s token from before the password change: %d %v, want 401 naming the password", what, st, m)
		}
	}
	if code := phoneLive.WaitClosed(); code != int(tickroomv1.CloseCode_CLOSE_CODE_UNAUTHORIZED) {
		t.Fatalf("the phone's open connection closed with %d, want %d (UNAUTHORIZED)", code, tickroomv1.CloseCode_CLOSE_CODE_UNAUTHORIZED)
	}
	// An attacker's old token cannot change the password back either.
	if st, m := a.post("/v1/account/claim", str(phone, "token"), map[string]string{"name": "Ada", "password": "eve's password", "current_password": "correct horse"}); st != http.StatusUnauthorized {
		t.Fatalf("claim with the phone's old token: %d %v, want 401", st, m)
	}
	fresh := str(changed, "token")
	if st := upgrade(srv, fresh); st != 101 {
		t.Fatalf("upgrade with the token the password change answered: %d, want 101", st)
	}
	// An unban lifts kicks and bans, not the end of these sessions.
	adminPost(t, srv, "/v1/admin/players/"+id+"/unban", "")
	if st := upgrade(srv, str(phone, "token")); st != http.StatusUnauthorized {
		t.Fatalf("upgrade after an unban with the phone's token from before the password change: %d, want 401", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv, _, _, _ = accountServer(t, dir)
	if st := upgrade(srv, str(phone, "token")); st != http.StatusUnauthorized {
		t.Fatalf("upgrade after a restart with the phone's token from before the password change: %d, want 401", st)
	}
	if st := upgrade(srv, fresh); st != 101 {
		t.Fatalf("upgrade after a restart with the token the password change answered: %d, want 101", st)
	}
}

// laterLogin logs in with body until the token it answers was issued in a
// later second than after's (tokens carry whole seconds; a password change
// keeps the connections of its own token's second open).
func laterLogin(a api, after map[string]any, body map[string]string) map[string]any {
	a.t.Helper()
	for {
		st, m := a.post("/v1/login", "", body)
		if st != 200 {
			a.t.Fatalf("login: %d %v", st, m)
		}
		if str(m, "expires_at") != str(after, "expires_at") {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPasswordChangeKeepsTheClaimersConnection: a password change ends
// the account's other sessions, but not the claimer's own connection (that
// of the token the claim was made with): it stays open, with its seat in
// the match it is playing. Its token, as another device's, is refused at
// the next upgrade: the app switches to the claim's new one.
func TestPasswordChangeKeepsTheClaimersConnection(t *testing.T) {
	t.Parallel()
	srv, a, _, _ := accountServer(t, t.TempDir())
	_, guest := a.post("/v1/login", "", map[string]string{"name": "guest1"})
	if st, m := a.post("/v1/account/claim", str(guest, "token"), map[string]string{"name": "Ada", "password": "correct horse", "device_secret": str(guest, "device_secret")}); st != 200 {
		t.Fatalf("claim: %d %v", st, m)
	}
	url := "ws://" + srv.Addr().String() + tickroom.WebSocketPath
	_, phone := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	laptop := laterLogin(a, phone, map[string]string{"name": "Ada", "password": "correct horse"})
	playing, _, err := testclient.Dial(t, url, str(laptop, "token"), testclient.Options{Label: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	playing.Next(testclient.Is[*tickroomv1.ServerMessage_Welcome])
	j := playing.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_CreateRoom{CreateRoom: &tickroomv1.CreateRoom{Game: "race"}}}).GetJoined()
	if j == nil {
		t.Fatal("create refused")
	}
	if st, m := a.post("/v1/account/claim", str(laptop, "token"), map[string]string{"name": "Ada", "password": "battery staple", "current_password": "correct horse"}); st != 200 {
		t.Fatalf("password change from the laptop: %d %v", st, m)
	}
	if r := playing.Request(&tickroomv1.ClientMessage{Body: &tickroomv1.ClientMessage_GetWatchPass{GetWatchPass: &tickroomv1.GetWatchPass{RoomId: j.RoomId}}}); r.GetWatchPass() == nil {
		t.Fatalf("the claimer asked for a pass to the room it plays in after its password change: %v, want its seat kept", r)
	}
	if code := playing.CloseCode(); code != 0 {
		t.Fatalf("the claimer's own connection closed with %d by its password change", code)
	}
	for what, tok := range map[string]string{"the phone's": str(phone, "token"), "the laptop's own": str(laptop, "token")} {
		c, resp, err := testclient.Dial(t, url, tok, testclient.Options{Label: "again"})
		if err == nil {
			c.WS.Close()
			t.Fatalf("upgrade with %s token from before the password change: 101, want 401", what)
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("upgrade with %s token from before the password change: %v %v, want 401", what, resp, err)
		}
	}
}
