// Package account keeps durable accounts for logins: a guest gets an
// account and a device secret that brings the same account back; a guest
// can claim a name with a password, or link an external identity (the
// identity token's "sub"); names are unique case-insensitively.
//
// A Service implements auth.Accounts, which POST /v1/login calls (set it as
// auth.Config.Accounts), and serves the account endpoints under
// /v1/account/ with a session token (Handler):
//
//	GET  /v1/account        the account
//	POST /v1/account/claim  {"name", "password"}: claim a name
//	POST /v1/account/link   {"identity_token"}: link an external identity
//
// Passwords are hashed with argon2id (golang.org/x/crypto/argon2) at the
// OWASP minimum parameters (19 MiB, 2 passes, 1 lane) and stored in the
// PHC string format; at most Config.MaxHashes hashes run at once, so a
// burst of logins cannot take the memory. Device secrets are 256 random
// bits, so the store keeps only their SHA-256.
//
// A Service's methods are safe from any goroutine; they wait on the store,
// so they belong on HTTP handlers, never on an event loop.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/store"
)

// Config configures a Service.
type Config struct {
	// Users keeps the accounts. Required.
	Users store.Users
	// MaxHashes caps the password hashes running at once; more wait.
	// Zero value means 2.
	MaxHashes int
	// Logger receives store failures. Zero value means no logging.
	Logger *slog.Logger
}

// Password length bounds, in bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// maxSecretLen caps a presented device secret before it is decoded.
const maxSecretLen = 128

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("account: invalid config")

// Service keeps accounts. See the package doc.
type Service struct {
	users  store.Users
	log    *slog.Logger
	hashes chan struct{} // semaphore of running password hashes
}

var _ auth.Accounts = (*Service)(nil)

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Users == nil {
		return nil, fmt.Errorf("%w: Users is required", ErrConfig)
	}
	if cfg.MaxHashes < 0 {
		return nil, fmt.Errorf("%w: negative MaxHashes", ErrConfig)
	}
	if cfg.MaxHashes == 0 {
		cfg.MaxHashes = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{users: cfg.Users, log: cfg.Logger, hashes: make(chan struct{}, cfg.MaxHashes)}, nil
}

// newDeviceSecret returns a fresh secret and the hash the store keeps.
func newDeviceSecret() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	return secret, deviceHash(secret)
}

func deviceHash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

func toAccount(u store.User) auth.Account {
	return auth.Account{UserID: u.ID, Name: u.Name, Guest: !u.Claimed && u.Subject == ""}
}

// NewGuest implements auth.Accounts.
func (s *Service) NewGuest(ctx context.Context, userID, name string) (string, error) {
	secret, hash := newDeviceSecret()
	if _, err := s.users.CreateGuest(ctx, store.Guest{ID: userID, Name: name, DeviceHash: hash}); err != nil {
		return "", err
	}
	return secret, nil
}

// Device implements auth.Accounts.
func (s *Service) Device(ctx context.Context, secret string) (auth.Account, error) {
	if len(secret) > maxSecretLen {
		return auth.Account{}, auth.ErrUnknownDevice
	}
	u, err := s.users.UserByDevice(ctx, deviceHash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return auth.Account{}, auth.ErrUnknownDevice
	}
	if err != nil {
		return auth.Account{}, err
	}
	return toAccount(u), nil
}

// Password implements auth.Accounts.
func (s *Service) Password(ctx context.Context, name, password string) (auth.Account, string, error) {
	if len(password) > MaxPasswordLen || len(name) > store.MaxNameLen {
		return auth.Account{}, "", auth.ErrBadPassword
	}
	u, err := s.users.UserByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return auth.Account{}, "", err
	}
	// An unknown name costs the same hash as a wrong password, so the
	// answer's timing does not tell which names are claimed.
	encoded := u.PasswordHash
	if encoded == "" {
		encoded = dummyHash()
	}
	ok, err := s.verify(ctx, password, encoded)
	if err != nil {
		return auth.Account{}, "", err
	}
	if !ok || u.ID == "" {
		return auth.Account{}, "", auth.ErrBadPassword
	}
	secret, hash := newDeviceSecret()
	if err := s.users.AddDevice(ctx, u.ID, hash); err != nil {
		return auth.Account{}, "", err
	}
	return toAccount(u), secret, nil
}

// Identity implements auth.Accounts.
func (s *Service) Identity(ctx context.Context, subject, name string) (auth.Account, error) {
	for range 2 {
		u, err := s.users.UserBySubject(ctx, subject)
		if err == nil {
			return toAccount(u), nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return auth.Account{}, err
		}
		u, err = s.users.CreateLinked(ctx, subject, name, subject)
		if err == nil {
			return toAccount(u), nil
		}
		// A concurrent first login made it: read it again.
		if !errors.Is(err, store.ErrIdentityTaken) && !errors.Is(err, store.ErrNameTaken) {
			return auth.Account{}, err
		}
	}
	return auth.Account{}, fmt.Errorf("account: identity %q: concurrent first logins", subject)
}
