package auth

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Accounts makes logins durable. With it, a guest login makes an account
// and returns a device secret that logs the same account in again; a
// claimed name logs in with its password; an identity login finds the
// account its subject is linked to. The methods are called from HTTP
// handlers and may wait on a database.
type Accounts interface {
	// NewGuest records a new guest account and returns the device secret
	// that logs it in again.
	NewGuest(ctx context.Context, userID, name string) (deviceSecret string, err error)
	// Device returns the account a device secret belongs to, or
	// ErrUnknownDevice.
	Device(ctx context.Context, deviceSecret string) (Account, error)
	// Password checks a claimed name's password, given from the client
	// address client, and returns the account and a new device secret for
	// this device, or ErrBadPassword; or a *WrongPasswordsError, without
	// checking, while the account's wrong passwords are past their limit.
	// An error after the password's hash ran wraps ErrAfterHash.
	Password(ctx context.Context, name, password string, client netip.Addr) (Account, string, error)
	// Identity returns the account linked to subject, making one (user id
	// = subject, display name = name) on its first login.
	Identity(ctx context.Context, subject, name string) (Account, error)
}

// Account is one durable account as login sees it.
type Account struct {
	UserID string
	Name   string
	// Guest is true for an account with neither a claimed name nor a
	// linked identity.
	Guest bool
}

var (
	// ErrUnknownDevice reports a device secret no account has.
	ErrUnknownDevice = errors.New("auth: unknown device secret")
	// ErrBadPassword reports a name and password that do not match (or a
	// name nobody claimed: the two are not told apart).
	ErrBadPassword = errors.New("auth: wrong name or password")
	// ErrBusy reports that the accounts could not take the request now
	// (too many password checks waiting); the client may retry in
	// BusyRetryAfter.
	ErrBusy = errors.New("auth: accounts busy")
	// ErrAfterHash marks an error of Accounts.Password that came after
	// the password's hash ran (the store failing as it records the login):
	// POST /v1/login answers it as the error it wraps, 503, but keeps the
	// address's login, which a 503 before the hash gives back, so that a
	// client that knows its password cannot have the server hash for it
	// without end.
	ErrAfterHash = errors.New("auth: after the password hash")
)

// WrongPasswordsError reports a password login refused before its check:
// the account's wrong passwords are past their limit. Wait is how long
// until a login of it would be checked again. POST /v1/login answers it
// 429 with Retry-After.
type WrongPasswordsError struct{ Wait time.Duration }

// WrongPasswordsMessage is the error text of a WrongPasswordsError's 429.
const WrongPasswordsMessage = "too many wrong passwords for this account"

func (e *WrongPasswordsError) Error() string {
	return "auth: too many wrong passwords for this account"
}

// BusyRetryAfter is the Retry-After an ErrBusy answer carries, and
// ErrBusyMessage its error text.
const (
	BusyRetryAfter = time.Second
	ErrBusyMessage = "too many password checks waiting"
)
