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
//	POST /v1/account/claim  {"name", "password"}: claim a name; a guest
//	                        (no password, no identity) claims only with
//	                        the secret of one of its devices,
//	                        "device_secret", as well; an account that has
//	                        a password renames itself or changes it only
//	                        with "current_password", and one linked to an
//	                        identity with a token of it, "identity_token",
//	                        or "current_password" (403)
//	POST /v1/account/link   {"identity_token"}: link an external identity
//	                        (once: another identity is not put in its place;
//	                        a guest links one only with "device_secret" as
//	                        well, an account that has a password only with
//	                        "current_password", 403)
//
// The replies of a claim and a link carry a new session token, "token"
// (and its "expires_at"), with the account's name and no longer a
// guest's: a guest's session is held to the guests' limits (its share of
// a user's friend requests) as its token says, until it connects with the
// new one. A link ends no session: the token it was made with stays valid
// (a guest's, still).
//
// A session token alone, which travels in WebSocket URLs (proxy logs,
// history) and watch links, never claims or links an account: its holder
// would then share the account with its owner for good.
//
// A claim that sets a new password (every claim but a rename that gives
// the account's password as both "password" and "current_password", or
// as "password" with an "identity_token" of its identity) signs
// the account out everywhere else: none of its device secrets logs in any
// more, a guest's included (whoever borrowed its device may have copied
// it), and the reply carries a new one for the claimer's device,
// "device_secret", in the same store transaction as the new password;
// and every session token issued up to the claim's second, the claimer's
// own too, is refused from then on (Config.SignOut: at the WebSocket
// upgrade, by the session check, the spectator feed and these endpoints,
// 401), its open connections closed with CLOSE_CODE_UNAUTHORIZED, but for
// those of the claim's own token's second (the claimer's, which keeps
// playing until its next upgrade). The reply's token, issued in the next
// second, carries on.
//
// Passwords are hashed with argon2id (golang.org/x/crypto/argon2) at the
// OWASP minimum parameters (19 MiB, 2 passes, 1 lane) and stored in the
// PHC string format; at most Config.MaxHashes hashes run at once (2), so a
// burst of logins cannot take the memory, and at most Config.MaxHashWaiting
// more wait for one (16): past that a claim or password login answers 503
// with Retry-After at once (auth.ErrBusy). Device secrets are 256 random
// bits, so the store keeps only their SHA-256.
//
// A claim that cannot succeed costs no hash: an invalid name or password,
// or a name another account holds, is refused (400, 409) before any
// hashing and before the rate limits; the store's insert still decides a
// race for a name. Claims that get that far are rate-limited with
// golang.org/x/time/rate, per client address (clientip.Limiter: an IPv4
// address, an IPv6 /64, with the /64s of a /48 sharing
// clientip.V6SiteFactor addresses' worth) at DefaultClaimRate (one every
// 20 s, 3 a minute) with a burst of DefaultClaimBurst (5), and per account
// at the same rate with a burst of DefaultUserClaimBurst (3); past either,
// 429 with Retry-After. A claim the server answers 503 (auth.ErrBusy, the
// store out of reach) before any password hash ran for it gives its claim
// back to both, as one refused with 400 takes none, and so does a
// password or device login to its address's logins (POST /v1/login); one
// answered 503 after a hash keeps them (auth.ErrAfterHash), so that a
// client that knows its own password cannot have the server hash for it
// without end. Password logins are limited per address by
// POST /v1/login (auth.Config.GuestLoginRate).
//
// Wrong passwords are limited per account besides, whatever their
// addresses, since many addresses together could otherwise guess one
// account's password at their number times the address rate: each
// account has a bucket of wrong password logins (DefaultWrongPasswordRate,
// one a minute, with a burst of DefaultWrongPasswordBurst, 10), and each
// address that gave it a wrong password is remembered for it for
// WrongPasswordMemory (an hour; an IPv6 /64, and a /48 once
// clientip.V6SiteFactor of its /64s did). While the account's bucket is
// spent, a password login of it from such an address is refused with 429
// and Retry-After before its hash runs (auth.WrongPasswordsError), so the
// guesses past the bound cost no argon2 time either. Retry-After is the
// time until the bucket's next token (at most a minute at the default
// rate), or until the mark ends when that is sooner: with that token a
// guess from the address is checked again. A wrong current_password
// given to a claim or a link is a wrong password of the account too: it
// takes a token of the same bucket, when one is left, and marks its
// address. But a claim or link is never refused for the account's wrong
// passwords or its address's mark: its owner, logged in with a device
// secret while someone guesses the password by login, must be able to
// change it, from any address (the guessers' NAT's too). Its guesses of
// current_password need a session token of the account, and are bounded
// by the claim limits, per address and per account (about 180 an hour an
// account). A login's guess takes its token before the hash, so guesses
// sent at once count as well as one after the other; a right password,
// or a check the server could not run (503), gives it back. The
// trade-off is the lock-out: a limit that refused every password login
// of a spent account would let anyone lock its owner out by guessing. So
// a guesser cannot shut every way in: a device secret logs the account
// in whatever its wrong passwords (a device login checks no password),
// and a password login from an address that is not marked is checked
// as usual, so the owner still logs in with the right password from an
// address apart from the guessers', while the account has fewer than
// Config.WrongPasswordAddrs (DefaultWrongPasswordAddrs, 64) addresses
// marked. That bound is the account's own: guesses of other accounts, or
// by other addresses, never make it forget a marked address while it is
// kept (below), which would give that address another guess; with as
// many marked, a password login of the spent account from any address
// is refused while it is spent (until its next token, or the oldest
// mark ends), and only its device secrets log it in. So the password
// logins of a spent account checked in an hour are at most its rate's
// and WrongPasswordAddrs (one per new address, 16 per new /48), against
// their number times the address login rate before. Nor does the owner
// log in with the password from beside a guesser: an address is what the
// server sees, so an owner behind the guesser's NAT (one IPv4 address) is
// refused as the guesser is, and so is one in an IPv6 /48 of which 16
// /64s guessed wrong, while the account is spent; there the account's
// device secrets log it in. Marking /64s alone would spare that owner but
// let one /48 take all of an account's marks, refusing its password
// everywhere, with 64 guesses. A right password from a marked address
// waits like a guess, since before the hash the two cannot be told
// apart. An account's bucket and its marked addresses are kept together,
// for at most Config.WrongPasswordKeys accounts and that many marked
// addresses in all: past either, the account used least recently (a
// refused guess is a use) is forgotten whole, its bucket full again and
// its addresses unmarked, as if never guessed; never its marks alone,
// which would give each of its addresses another checked guess while its
// bucket stayed spent. A password login of an account, right or wrong,
// keeps it in the table (its token is taken before the hash), so
// forgetting one takes WrongPasswordKeys password logins of other
// accounts, or as many wrong passwords of others from addresses not yet
// marked for them, each a hash, while it is not guessed itself. A
// successful login resets neither.
//
// In a cluster each node keeps that table in its own memory, so a
// guesser whose password logins a balancer spreads over N nodes would
// get N times the bound; Config.Guesses (package cluster's, in Redis)
// keeps each account's bucket and marks where every node counts them, by
// the same rules: a guess is checked only when both the node's table and
// the cluster's let it through. While Redis does not answer the node's
// table, charged all along, decides alone.
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
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickroom/tickroom/internal/limits"
	"github.com/tickroom/tickroom/internal/logspace"
	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/server/clientip"
	"github.com/tickroom/tickroom/store"
)

// Config configures a Service.
type Config struct {
	// Users keeps the accounts. Required.
	Users store.Users
	// MaxHashes caps the password hashes running at once; more wait.
	// Zero value means 2.
	MaxHashes int
	// MaxHashWaiting caps the requests waiting for one of the MaxHashes
	// slots; past it a request is refused at once with auth.ErrBusy (503
	// with Retry-After). Zero value means DefaultMaxHashWaiting.
	MaxHashWaiting int
	// ClaimRate is how many claims one client address (and one account)
	// may make per second, sustained. Zero value means DefaultClaimRate;
	// rate.Inf turns the claim limits off; a negative or NaN rate makes
	// New fail. Retry-After is at most an hour, however small the rate.
	ClaimRate rate.Limit
	// ClaimBurst is how many claims one client address may make at once.
	// Zero value means DefaultClaimBurst.
	ClaimBurst int
	// UserClaimBurst is how many claims one account may make at once.
	// Zero value means DefaultUserClaimBurst.
	UserClaimBurst int
	// ClaimKeys bounds the client addresses (and IPv6 /48s), and apart
	// from them the accounts, the claim limits track; past it the least
	// recently used is forgotten. Zero value means DefaultClaimKeys.
	ClaimKeys int
	// WrongPasswordRate is how many wrong password logins one account
	// may take per second, sustained, whatever their addresses; past it,
	// and past WrongPasswordBurst, a password login of the account from
	// an address that guessed it wrong (within WrongPasswordMemory) is
	// refused before its hash with a *auth.WrongPasswordsError (429 with
	// Retry-After: until the bucket's next token, 1/WrongPasswordRate at
	// most, or the mark's end if sooner). Zero value means DefaultWrongPasswordRate; rate.Inf
	// turns the limit off; a negative or NaN rate makes New fail.
	WrongPasswordRate rate.Limit
	// WrongPasswordBurst is how many wrong password logins one account
	// may take at once. Zero value means DefaultWrongPasswordBurst.
	WrongPasswordBurst int
	// WrongPasswordKeys bounds the accounts the wrong password limit
	// tracks, and apart from them the addresses all accounts together
	// remember as having guessed them wrong; past either, the account
	// used least recently is forgotten whole (its bucket full again, its
	// addresses no longer marked). Zero value means
	// DefaultWrongPasswordKeys.
	WrongPasswordKeys int
	// WrongPasswordAddrs bounds the addresses (IPv6 /64s) one account
	// remembers as having guessed it wrong (within WrongPasswordMemory),
	// so that guesses elsewhere never make it forget one while it is
	// kept (see WrongPasswordKeys): with as many marked, while its wrong
	// passwords are spent, a password login of it from any address is
	// refused before its hash until the bucket's next token or the
	// oldest mark's end. Zero value means DefaultWrongPasswordAddrs.
	WrongPasswordAddrs int
	// Guesses, when set, keeps the accounts' wrong passwords where every
	// node of a cluster counts them as well (package cluster's Guesses,
	// in Redis): with it the bound of WrongPasswordRate, WrongPasswordBurst
	// and WrongPasswordAddrs holds for a guesser however it spreads its
	// password logins over the nodes. The Service's own memory is charged
	// all along, and decides alone while Guesses fails (Redis does not
	// answer): each node then lets a guesser through its bound again.
	// Nil means each node counts alone.
	Guesses Guesses
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address of a claim (as auth.Config.TrustedProxies).
	TrustedProxies clientip.Trusted
	// Logger receives store failures. Zero value means no logging.
	Logger *slog.Logger
	// Revoked reports why a verified session token is refused (its user
	// was kicked or banned: hub.Hub's Revoked), as the WebSocket upgrade
	// refuses it; the endpoints then answer 401 with that message. Nil
	// means none is.
	Revoked func(c auth.Claims, now time.Time) (string, bool)
	// SignOut ends the account's sessions of the tokens issued up to now
	// (to the second) after a claim set a new password: they are refused
	// as Revoked reports, and its connections that carry one are closed
	// (hub.Hub's SignOut). It returns the time up to which it refuses
	// tokens, now or a little later; the claim's own new token is issued
	// in the second after it. The open connections of the tokens issued
	// in kept's second (the issue time of the token the claim was made
	// with: the claimer's own) are not closed. Nil means sessions are not
	// ended.
	SignOut func(userID string, now, kept time.Time) time.Time
	// SignedOut reports, for a new session token of userID issued at now
	// by a link, that a sign-out refuses the tokens issued up to the time
	// it returns, to the second, this one among them (hub.Hub's
	// SignedOut): the link then issues it in the next second, as a login
	// does (auth.Config.SignedOut). Nil means none is.
	SignedOut func(userID string, now time.Time) (time.Time, bool)
}

// Defaults of Config's limits.
const (
	DefaultMaxHashWaiting = 16
	// DefaultClaimRate: one claim every 20 s per address and per account.
	DefaultClaimRate      rate.Limit = 0.05
	DefaultClaimBurst                = 5
	DefaultUserClaimBurst            = 3
	DefaultClaimKeys                 = 16384
	// DefaultWrongPasswordRate: one wrong password login a minute per
	// account, sustained.
	DefaultWrongPasswordRate  rate.Limit = 1.0 / 60
	DefaultWrongPasswordBurst            = 10
	DefaultWrongPasswordKeys             = 16384
	DefaultWrongPasswordAddrs            = 64
)

// WrongPasswordMemory is how long an address (an IPv6 /64; a /48 after
// clientip.V6SiteFactor of its /64s) that gave an account a wrong
// password counts as one that guessed it: while the account's wrong
// passwords are past their limit, such an address's password logins of
// it are refused before the hash, every /64 of such a /48 included (an
// owner's there too, who then logs in with a device secret), and any
// other address's are checked (but see Config.WrongPasswordAddrs).
const WrongPasswordMemory = time.Hour

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
	users      store.Users
	log        *slog.Logger
	trusted    clientip.Trusted
	hashes     chan struct{} // semaphore of running password hashes
	maxWaiting int64
	waiting    atomic.Int64  // requests waiting for a hashes slot
	hashCount  atomic.Uint64 // hashes run (made or checked)
	busy       atomic.Uint64 // requests refused with auth.ErrBusy

	// storeLogs spaces the lines of failed store calls: each request
	// during a database outage fails, at whatever rate its clients send.
	storeLogs logspace.Spacer

	claimAddrs *clientip.Limiter         // claims per client address
	claimUsers *clientip.Buckets[string] // claims per account
	wrong      *guessers                 // wrong passwords and the addresses that gave them, per account; nil: no limit
	shared     Guesses                   // the same, counted by every node of a cluster; nil: this node's alone
	wrongLimit GuessLimit                // shared's bound
	revoked    func(auth.Claims, time.Time) (string, bool)
	signOut    func(string, time.Time, time.Time) time.Time
	signedOut  func(string, time.Time) (time.Time, bool)
}

var _ auth.Accounts = (*Service)(nil)

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Users == nil {
		return nil, fmt.Errorf("%w: Users is required", ErrConfig)
	}
	if cfg.MaxHashes < 0 || cfg.MaxHashWaiting < 0 || cfg.ClaimRate < 0 || cfg.ClaimBurst < 0 || cfg.UserClaimBurst < 0 || cfg.ClaimKeys < 0 ||
		cfg.WrongPasswordRate < 0 || cfg.WrongPasswordBurst < 0 || cfg.WrongPasswordKeys < 0 || cfg.WrongPasswordAddrs < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrConfig)
	}
	if err := limits.NonNegative("ClaimRate", cfg.ClaimRate); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err) // NaN
	}
	if err := limits.NonNegative("WrongPasswordRate", cfg.WrongPasswordRate); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err) // NaN
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxHashes, 2)
	def(&cfg.MaxHashWaiting, DefaultMaxHashWaiting)
	def(&cfg.ClaimBurst, DefaultClaimBurst)
	def(&cfg.UserClaimBurst, DefaultUserClaimBurst)
	def(&cfg.ClaimKeys, DefaultClaimKeys)
	def(&cfg.WrongPasswordBurst, DefaultWrongPasswordBurst)
	def(&cfg.WrongPasswordKeys, DefaultWrongPasswordKeys)
	def(&cfg.WrongPasswordAddrs, DefaultWrongPasswordAddrs)
	if cfg.ClaimRate == 0 {
		cfg.ClaimRate = DefaultClaimRate
	}
	if cfg.WrongPasswordRate == 0 {
		cfg.WrongPasswordRate = DefaultWrongPasswordRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var wrong *guessers
	var shared Guesses
	var limit GuessLimit
	if cfg.WrongPasswordRate < rate.Inf {
		wrong = newGuessers(cfg.WrongPasswordRate, cfg.WrongPasswordBurst, cfg.WrongPasswordKeys, cfg.WrongPasswordAddrs, cfg.WrongPasswordKeys, WrongPasswordMemory)
		shared = cfg.Guesses
		limit = GuessLimit{Rate: float64(wrong.limit), Burst: wrong.burst, Addrs: wrong.perAccount, Memory: wrong.memory}
	}
	return &Service{
		users: boundedUsers{cfg.Users}, log: cfg.Logger, trusted: cfg.TrustedProxies, revoked: cfg.Revoked, signOut: cfg.SignOut, signedOut: cfg.SignedOut,
		hashes: make(chan struct{}, cfg.MaxHashes), maxWaiting: int64(cfg.MaxHashWaiting),
		claimAddrs: clientip.NewLimiter(cfg.ClaimRate, cfg.ClaimBurst, cfg.ClaimKeys),
		claimUsers: clientip.NewBuckets[string](cfg.ClaimRate, cfg.UserClaimBurst, cfg.ClaimKeys),
		wrong:      wrong, shared: shared, wrongLimit: limit,
	}, nil
}

// Stats counts a Service's password work since New.
type Stats struct {
	// Hashes is how many argon2id hashes ran (made for a claim or checked
	// for a login).
	Hashes uint64
	// Busy is how many requests were refused with auth.ErrBusy because
	// MaxHashWaiting requests already waited for a hash.
	Busy uint64
	// Waiting is how many requests wait for a hash now.
	Waiting int
}

// Stats returns the counts so far.
func (s *Service) Stats() Stats {
	return Stats{Hashes: s.hashCount.Load(), Busy: s.busy.Load(), Waiting: int(s.waiting.Load())}
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
	if err := s.seen(ctx, u.ID); errors.Is(err, store.ErrNotFound) {
		// Deleted (a guest not seen for GuestTTL) since it was read.
		return auth.Account{}, auth.ErrUnknownDevice
	}
	return toAccount(u), nil
}

// seen records a login in the store, which keeps a guest for
// store.Config.GuestTTL after its last one. A failed write does not fail
// the login: the account was read, and the next login records it again;
// only an account gone meanwhile (ErrNotFound) is the caller's to refuse.
func (s *Service) seen(ctx context.Context, id string) error {
	err := s.users.Seen(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("account: recording a login", "user", id, "err", err)
	}
	return err
}

// Password implements auth.Accounts. A login of an account past its
// wrong passwords, from an address that guessed it wrong, is refused
// before the hash (see Config.WrongPasswordRate).
func (s *Service) Password(ctx context.Context, name, password string, client netip.Addr) (auth.Account, string, error) {
	// A claimed name is stored as ValidateName gives it (NFKC, usual
	// widths, spaces trimmed), so the name given is read in that form: one
	// typed decomposed, full-width or with an extra space is the same name.
	if n, err := auth.ValidateName(name); err == nil {
		name = n
	}
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
	// A guess of a claimed account takes one of its wrong passwords
	// before the hash (see guess).
	guessable := u.ID != "" && u.PasswordHash != ""
	refund := func() {}
	if guessable {
		if refund, err = s.guess(ctx, u.ID, client); err != nil {
			return auth.Account{}, "", err
		}
	}
	ok, err := s.verify(ctx, password, encoded)
	if err != nil {
		refund()
		return auth.Account{}, "", err
	}
	if !ok || u.ID == "" {
		if guessable {
			s.guessedWrong(ctx, u.ID, client)
		}
		return auth.Account{}, "", auth.ErrBadPassword
	}
	refund()
	secret, hash := newDeviceSecret()
	if err := s.users.AddDevice(ctx, u.ID, hash); err != nil {
		return auth.Account{}, "", fmt.Errorf("%w: %w", auth.ErrAfterHash, err)
	}
	_ = s.seen(ctx, u.ID) // a claimed account is never deleted
	return toAccount(u), secret, nil
}

// guess takes, for a check of account id's password given from client (a
// password login), one of the account's wrong passwords before the hash;
// past them, the one guess of an address that has not guessed it wrong.
// With neither left it returns a *auth.WrongPasswordsError, to answer
// before any hash. Otherwise the caller runs the check, then calls refund
// for a right password or a check that did not run (503), or
// guessedWrong for a wrong one. In a cluster (Config.Guesses) the guess
// is let through only when this node's memory and the cluster's both let
// it through; while the cluster's do not answer, this node's decide
// alone. It may wait on Redis for its timeout.
func (s *Service) guess(ctx context.Context, id string, client netip.Addr) (refund func(), err error) {
	if s.wrong == nil {
		return func() {}, nil
	}
	t, ok, wait := s.wrong.take(id, client, time.Now())
	if !ok {
		return nil, &auth.WrongPasswordsError{Wait: wait}
	}
	local := func() { s.wrong.giveBack(t, time.Now()) }
	if s.shared == nil {
		return local, nil
	}
	st, ok, wait, err := s.shared.Take(ctx, s.wrongLimit, id, client)
	switch {
	case err != nil:
		return local, nil
	case !ok:
		local()
		return nil, &auth.WrongPasswordsError{Wait: wait}
	}
	return func() {
		local()
		// The client may have gone: what was taken is given back all the
		// same, under the Guesses' own deadline.
		_ = s.shared.GiveBack(context.WithoutCancel(ctx), s.wrongLimit, st)
	}, nil
}

// guessedWrong marks client as an address that gave account id a wrong
// password (taken if guess did not take it yet), in this node's memory
// and the cluster's.
func (s *Service) guessedWrong(ctx context.Context, id string, client netip.Addr) {
	if s.wrong == nil {
		return
	}
	s.wrong.mark(id, client, time.Now())
	if s.shared != nil {
		_ = s.shared.Mark(context.WithoutCancel(ctx), s.wrongLimit, id, client)
	}
}

// wrongCurrent counts a wrong current_password given to a claim or a link
// of account id from client, which guess did not let through: a wrong
// password of the account, it takes a token of its bucket when one is
// left and marks client, in this node's memory and the cluster's.
func (s *Service) wrongCurrent(ctx context.Context, id string, client netip.Addr) {
	if s.wrong == nil {
		return
	}
	s.wrong.spend(id, client, time.Now())
	if s.shared != nil {
		_ = s.shared.Spend(context.WithoutCancel(ctx), s.wrongLimit, id, client)
	}
}

// Identity implements auth.Accounts.
func (s *Service) Identity(ctx context.Context, subject, name string) (auth.Account, error) {
	for range 2 {
		u, err := s.users.UserBySubject(ctx, subject)
		if err == nil {
			_ = s.seen(ctx, u.ID) // a linked account is never deleted
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
