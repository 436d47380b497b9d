package account

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the configured parameters", h)
	}
	if h2, _ := hashPassword("correct horse"); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horse ": false, "": false} {
		if ok, err := checkPassword(pw, h); ok != want || err != nil {
			t.Errorf("checkPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	parts := strings.Split(h, "$")
	for name, bad := range map[string]string{
		"empty":         "",
		"bcrypt":        "$2a$10$abcdefghijklmnopqrstuv",
		"huge memory":   "$argon2id$v=19$m=99999999,t=2,p=1$" + parts[4] + "$" + parts[5],
		"zero passes":   "$argon2id$v=19$m=19456,t=0,p=1$" + parts[4] + "$" + parts[5],
		"other version": "$argon2id$v=16$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"bad base64":    "$argon2id$v=19$m=19456,t=2,p=1$!!$" + parts[5],
	} {
		if ok, err := checkPassword("correct horse", bad); ok || !errors.Is(err, errHashFormat) {
			t.Errorf("%s: %v, %v; want errHashFormat", name, ok, err)
		}
	}
}
