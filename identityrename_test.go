package tickroom_test

import (
	"net/http"
	"testing"
)

// TestRenameProvenWithTheIdentityKeepsTheSessions: a rename of an account
// linked to an identity, proven with a token of that identity, that keeps
// the password (given as "password") ends no session and no device login,
// as a rename proven with the current password does not. Before, only the
// latter counted as a rename: the former was taken for a new password and
// signed the account out everywhere else.
func TestRenameProvenWithTheIdentityKeepsTheSessions(t *testing.T) {
	t.Parallel()
	_, a, _, _ := accountServer(t, t.TempDir())
	adaID := identityToken(t, "ext-ada", "Ada")
	_, first := a.post("/v1/login", "", map[string]string{"identity_token": adaID})
	if st, m := a.post("/v1/account/claim", str(first, "token"), map[string]string{"name": "Ada", "password": "correct horse", "identity_token": adaID}); st != 200 {
		t.Fatalf("claim with the account's identity: %d %v", st, m)
	}
	_, phone := a.post("/v1/login", "", map[string]string{"name": "Ada", "password": "correct horse"})
	if str(phone, "token") == "" || str(phone, "device_secret") == "" {
		t.Fatalf("password login: %v", phone)
	}
	laptop := laterLogin(a, phone, map[string]string{"identity_token": adaID})
	st, renamed := a.post("/v1/account/claim", str(laptop, "token"), map[string]string{"name": "Ada Lovelace", "password": "correct horse", "identity_token": adaID})
	if st != 200 || str(renamed, "name") != "Ada Lovelace" || str(renamed, "device_secret") != "" {
		t.Fatalf("rename proven with the identity, keeping the password: %d %v, want 200 and no new device secret", st, renamed)
	}
	if st, m := a.post("/v1/session", str(phone, "token"), nil); st != 200 {
		t.Fatalf("session check of another device's token after a rename that kept the password: %d %v, want 200", st, m)
	}
	if st, m := a.post("/v1/login", "", map[string]string{"device_secret": str(phone, "device_secret")}); st != 200 || str(m, "user_id") != str(first, "user_id") {
		t.Fatalf("device login after a rename that kept the password: %d %v, want 200 as %s", st, m, str(first, "user_id"))
	}
	// A new password given with the identity still signs the others out.
	if st, m := a.post("/v1/account/claim", str(renamed, "token"), map[string]string{"name": "Ada Lovelace", "password": "battery staple", "identity_token": adaID}); st != 200 {
		t.Fatalf("password change proven with the identity: %d %v", st, m)
	}
	if st, m := a.post("/v1/session", str(phone, "token"), nil); st != http.StatusUnauthorized {
		t.Fatalf("session check of another device's token after a new password: %d %v, want 401", st, m)
	}
}
