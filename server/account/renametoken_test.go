package account

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestARenameIssuesItsTokenPastTheSignOuts: a rename that keeps the
// password ends no session, and its new token is issued past the
// account's sign-outs, as a link's and a login's are: one made in the
// second of an earlier password change's sign-out was refused at once.
// Here the account's sign-out refuses tokens up to 2 s ahead.
func TestARenameIssuesItsTokenPastTheSignOuts(t *testing.T) {
	t.Parallel()
	var cutoff time.Time
	ts := newTestServer(t, Config{ClaimRate: rate.Inf, SignedOut: func(_ string, now time.Time) (time.Time, bool) {
		if cutoff.IsZero() || now.After(cutoff) {
			return time.Time{}, false
		}
		return cutoff, true
	}})
	c := client("127.0.0.1")
	tok, _ := ts.claimOwner(c)
	cutoff = time.Now().Add(2 * time.Second)
	a := ts.post(c, Path+"/claim", tok, map[string]string{"name": "Owner2", "password": "correct horse", "current_password": "correct horse"})
	if a.status != 200 {
		t.Fatalf("rename: %d %v", a.status, a.body)
	}
	renamed, _ := a.body["token"].(string)
	claims, err := ts.auth.Verify(renamed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !claims.IssuedAt.After(cutoff) {
		t.Fatalf("the rename's token was issued at %v, at or before the account's sign-out at %v: refused as soon as it is used", claims.IssuedAt, cutoff)
	}
}
