package auth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tickroom/tickroom/internal/limits"
)

// LoginPath is where the login handler is mounted.
const LoginPath = "/v1/login"

// LoginRequest is the JSON body of POST /v1/login: a guest login sets Name;
// an identity login sets IdentityToken (and may set Name as the display
// name when the token has no "name" claim).
//
// With accounts (Config.Accounts), a returning guest sets DeviceSecret
// (the one a previous login returned), and an account with a claimed name
// sets Name and Password.
type LoginRequest struct {
	Name          string `json:"name"`
	IdentityToken string `json:"identity_token"`
	DeviceSecret  string `json:"device_secret,omitempty"`
	Password      string `json:"password,omitempty"`
}

// LoginResponse is the JSON reply to a successful login.
type LoginResponse struct {
	Token     string    `json:"token"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	Guest     bool      `json:"guest"`
	ExpiresAt time.Time `json:"expires_at"`
	// DeviceSecret logs the same account in again (device_secret in a
	// later LoginRequest); set with accounts, for guest, device and
	// password logins. Keep it like a password.
	DeviceSecret string `json:"device_secret,omitempty"`
}

// ErrorResponse is the JSON body of every refused login.
type ErrorResponse struct {
	Error string `json:"error"`
}

// LoginHandler returns the handler for POST /v1/login. It answers 200 with
// a LoginResponse; 400 for a body that is not a LoginRequest, an invalid
// name or an identity login the server does not offer; 401 for an identity
// token that fails verification; 403 for a guest login when guests are
// disabled; 405 for any method but POST; 413 for a body over
// Config.MaxBodyBytes; 429 with Retry-After (seconds) for a guest login
// over Config.GuestLoginRate from its address, and for a password login
// the accounts refuse while its account's wrong passwords are past their
// limit (WrongPasswordsError); 503 when the accounts are
// unavailable, with Retry-After when too many password checks wait
// (ErrBusy): such a login, as one refused with 400, takes none of its
// address's logins, unless its password's hash ran (ErrAfterHash). Every
// error body is an ErrorResponse.
func (a *Authority) LoginHandler() http.Handler { return http.HandlerFunc(a.serveLogin) }

func (a *Authority) serveLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	var req LoginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			writeError(w, http.StatusRequestTimeout, "request body not sent in time")
			return
		}
		writeError(w, http.StatusBadRequest, "body must be a JSON object with \"name\" or \"identity_token\"")
		return
	}
	now := a.cfg.Now()
	var claims Claims
	var device string
	acc := a.cfg.Accounts
	client := a.cfg.TrustedProxies.FromRequest(r)
	var shared bool // the cluster's buckets took the login (Config.Logins)
	limited := func() bool {
		var ok bool
		var wait time.Duration
		ok, wait, shared = a.allowLogin(r.Context(), client, now)
		if !ok {
			RetryLater(w, http.StatusTooManyRequests, wait, "too many logins from this address")
		}
		return !ok
	}
	switch {
	case (req.DeviceSecret != "" || req.Password != "") && acc == nil:
		writeError(w, http.StatusBadRequest, "this server keeps no accounts: log in with \"name\" or \"identity_token\"")
		return
	case req.DeviceSecret != "" && req.IdentityToken == "":
		// A returning device: the same rate as new guests, so that a
		// secret cannot be guessed at speed (nor could it be: 256 bits).
		if limited() {
			return
		}
		ac, err := acc.Device(r.Context(), req.DeviceSecret)
		if err != nil {
			if a.accountError(w, err, http.StatusUnauthorized, "device secret not recognized; log in again with a name") {
				a.refundLogin(r.Context(), client, shared)
			}
			return
		}
		claims, device = Claims{UserID: ac.UserID, Name: ac.Name, Guest: ac.Guest}, req.DeviceSecret
	case req.Password != "":
		if limited() {
			return
		}
		ac, secret, err := acc.Password(r.Context(), req.Name, req.Password, client)
		if err != nil {
			if a.accountError(w, err, http.StatusUnauthorized, "wrong name or password") && !errors.Is(err, ErrAfterHash) {
				a.refundLogin(r.Context(), client, shared)
			}
			return
		}
		claims, device = Claims{UserID: ac.UserID, Name: ac.Name, Guest: ac.Guest}, secret
	case req.IdentityToken != "":
		id, err := a.VerifyIdentity(req.IdentityToken, now)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrIdentityDisabled) {
				status = http.StatusBadRequest
			}
			a.cfg.Logger.Debug("auth: identity login refused", "err", err)
			writeError(w, status, "identity token refused: "+strings.TrimPrefix(err.Error(), "auth: "))
			return
		}
		if strings.HasPrefix(id.Subject, GuestIDPrefix) {
			writeError(w, http.StatusUnauthorized, "identity token refused: subject uses the reserved prefix "+GuestIDPrefix)
			return
		}
		name, err := pickName(id.Name, req.Name, id.Subject)
		if err != nil {
			writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "auth: "))
			return
		}
		claims = Claims{UserID: id.Subject, Name: name}
		if acc != nil {
			ac, err := acc.Identity(r.Context(), id.Subject, name)
			if err != nil {
				a.accountError(w, err, http.StatusInternalServerError, "")
				return
			}
			claims = Claims{UserID: ac.UserID, Name: ac.Name}
		}
	case req.Name != "":
		if a.cfg.DisableGuests {
			writeError(w, http.StatusForbidden, "guest login is disabled on this server")
			return
		}
		// A name refused costs nothing: it takes none of the address's
		// logins.
		name, err := ValidateName(req.Name)
		if err != nil {
			writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "auth: "))
			return
		}
		if limited() {
			return
		}
		claims = Claims{UserID: newGuestID(), Name: name, Guest: true}
		if acc != nil {
			// With the account store unreachable, play goes on: the guest
			// gets a session for this visit, without a device secret.
			if device, err = acc.NewGuest(r.Context(), claims.UserID, name); err != nil {
				a.cfg.Logger.Warn("auth: guest account not stored; this guest will not come back by device", "user", claims.UserID, "err", err)
				device = ""
			}
		}
	default:
		writeError(w, http.StatusBadRequest, "set \"name\" for a guest login or \"identity_token\"")
		return
	}
	claims.IssuedAt = now
	if a.cfg.SignedOut != nil {
		if t, ok := a.cfg.SignedOut(claims.UserID, now); ok {
			claims.IssuedAt = t.Truncate(time.Second).Add(time.Second)
		}
	}
	claims.ExpiresAt = claims.IssuedAt.Add(a.cfg.TTL)
	tok, err := a.Issue(claims)
	if err != nil {
		a.cfg.Logger.Error("auth: issuing a session token", "user", claims.UserID, "err", err)
		writeError(w, http.StatusInternalServerError, "could not issue a token")
		return
	}
	writeJSON(w, http.StatusOK, LoginResponse{
		Token: tok, UserID: claims.UserID, Name: claims.Name, Guest: claims.Guest,
		ExpiresAt: time.Unix(claims.ExpiresAt.Unix(), 0).UTC(), DeviceSecret: device,
	})
}

// accountError answers a failed account lookup: status with msg for the
// expected refusals, 429 with Retry-After for an account past its wrong
// passwords (WrongPasswordsError), 503 with Retry-After when too many
// password checks wait (ErrBusy), 503 when the account store cannot be
// reached (logged at debug level only when the client hung up: a
// canceled request is no store failure). It reports a 503: the server
// could not take the login, which then gives its address's login back,
// as a login refused with 400 takes none.
func (a *Authority) accountError(w http.ResponseWriter, err error, status int, msg string) (unavailable bool) {
	if errors.Is(err, ErrUnknownDevice) || errors.Is(err, ErrBadPassword) {
		writeError(w, status, msg)
		return false
	}
	var wrong *WrongPasswordsError
	if errors.As(err, &wrong) {
		RetryLater(w, http.StatusTooManyRequests, wrong.Wait, WrongPasswordsMessage)
		return false
	}
	if errors.Is(err, ErrBusy) {
		RetryLater(w, http.StatusServiceUnavailable, BusyRetryAfter, ErrBusyMessage)
		return true
	}
	if errors.Is(err, context.Canceled) {
		// The client hung up (while it waited for a hash slot, say): no
		// store failure.
		a.cfg.Logger.Debug("auth: login given up by its client", "err", err)
	} else if ok, skipped := a.storeLogs.Allow(time.Now()); ok {
		a.cfg.Logger.Error("auth: account store", "err", err, "left_out", skipped)
	}
	writeError(w, http.StatusServiceUnavailable, "accounts are unavailable; try again shortly")
	return true
}

// pickName returns the first of the token's name, the requested name and
// the subject that is a valid display name; the error is the requested
// name's when it was set and invalid.
func pickName(fromToken, requested, subject string) (string, error) {
	if n, err := ValidateName(fromToken); err == nil {
		return n, nil
	}
	if requested != "" {
		return ValidateName(requested)
	}
	if n, err := ValidateName(subject); err == nil {
		return n, nil
	}
	return "player", nil
}

// RetryLater answers status (429 or 503) with Retry-After: wait in whole
// seconds, rounded up and at most an hour, and the error body msg and when to retry. The
// login and the account endpoints answer every refusal to come back
// later with it.
func RetryLater(w http.ResponseWriter, status int, wait time.Duration, msg string) {
	secs := strconv.FormatInt(limits.RetryAfterSeconds(wait), 10)
	w.Header().Set("Retry-After", secs)
	writeError(w, status, msg+"; retry in "+secs+" s")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
