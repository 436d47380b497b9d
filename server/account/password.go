package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/tickroom/tickroom/server/auth"
)

// argon2id parameters: the OWASP Password Storage Cheat Sheet's minimum
// (m=19 MiB, t=2, p=1). Stored hashes carry their own parameters, so they
// can be raised later without breaking old ones.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// dummyHash is verified against when a name is unknown, so that the reply
// takes as long as for a wrong password.
// It is made on first use, not at start.
var dummyHash = sync.OnceValue(func() string { return mustHash("not a password anyone has") })

func mustHash(pw string) string {
	h, err := hashPassword(pw)
	if err != nil {
		panic(err)
	}
	return h
}

// hashPassword returns the PHC string of argon2id over pw with a random
// salt: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func hashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errHashFormat = errors.New("account: stored password hash has an unknown format")

// checkPassword reports whether pw matches the PHC string encoded.
func checkPassword(pw, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errHashFormat
	}
	var version int
	var mem, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errHashFormat
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &time, &threads); err != nil ||
		mem == 0 || mem > 256*1024 || time == 0 || time > 16 || threads == 0 {
		return false, errHashFormat
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || len(key) > 64 {
		return false, errHashFormat
	}
	got := argon2.IDKey([]byte(pw), salt, time, mem, threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// hash and verify run hashPassword and checkPassword under the semaphore.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return hashPassword(pw)
}

func (s *Service) verify(ctx context.Context, pw, encoded string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	return checkPassword(pw, encoded)
}

// acquire takes a hash slot, waiting for one only when fewer than
// maxWaiting requests wait already; otherwise it returns auth.ErrBusy at
// once.
func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashes <- struct{}{}:
		s.hashCount.Add(1)
		return nil
	default:
	}
	if s.waiting.Add(1) > s.maxWaiting {
		s.waiting.Add(-1)
		s.busy.Add(1)
		return auth.ErrBusy
	}
	defer s.waiting.Add(-1)
	select {
	case s.hashes <- struct{}{}:
		s.hashCount.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.hashes }
