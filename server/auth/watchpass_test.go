package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

func TestWatchPassRoundTrip(t *testing.T) {
	a := newAuthority(t, nil)
	pass, err := a.IssueWatchPass(auth.WatchPass{RoomID: "r1", UserID: "ann", IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.VerifyWatchPass(pass, epoch.Add(59*time.Minute))
	if err != nil || p.RoomID != "r1" || p.UserID != "ann" || !p.IssuedAt.Equal(epoch) || !p.ExpiresAt.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("VerifyWatchPass = %+v, %v", p, err)
	}
	if _, err := a.VerifyWatchPass(pass, epoch.Add(time.Hour)); !errors.Is(err, auth.ErrTokenExpired) {
		t.Fatalf("at its expiry: %v, want ErrTokenExpired", err)
	}
	if _, err := a.VerifyWatchPass(pass, epoch.Add(-time.Minute-time.Second)); !errors.Is(err, auth.ErrTokenIssuedAhead) {
		t.Fatalf("issued over a minute ahead of the clock: %v, want ErrTokenIssuedAhead", err)
	}
}

// A pass and a session token are signed with the same keys under
// different tags: neither passes for the other.
func TestWatchPassAndSessionTokenAreNotInterchangeable(t *testing.T) {
	a := newAuthority(t, nil)
	pass, err := a.IssueWatchPass(auth.WatchPass{RoomID: "r1", UserID: "ann", IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := a.Verify(pass, epoch); !errors.Is(err, auth.ErrBadSignature) {
		t.Fatalf("a pass as a session token: %+v, %v; want ErrBadSignature", c, err)
	}
	tok, err := a.Issue(auth.Claims{UserID: "ann", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.VerifyWatchPass(tok, epoch); !errors.Is(err, auth.ErrBadSignature) {
		t.Fatalf("a session token as a pass: %+v, %v; want ErrBadSignature", p, err)
	}
	for _, bad := range []auth.WatchPass{
		{UserID: "ann", IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour)},
		{RoomID: "r1", IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour)},
		{RoomID: "r1", UserID: "ann", IssuedAt: epoch, ExpiresAt: epoch},
	} {
		if _, err := a.IssueWatchPass(bad); !errors.Is(err, auth.ErrInvalidClaims) {
			t.Errorf("IssueWatchPass(%+v) = %v, want ErrInvalidClaims", bad, err)
		}
	}
}
