package account

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tickroom/tickroom/server/auth"
	"github.com/tickroom/tickroom/store"
)

// Path is the prefix the account endpoints are served under.
const Path = "/v1/account"

// maxBody caps an account request's body.
const maxBody = 4 << 10

// Reply is the JSON body of every successful account request.
type Reply struct {
	UserID  string `json:"user_id"`
	Name    string `json:"name"`
	Claimed bool   `json:"claimed"`
	// Subject is the linked identity's "sub", empty when none.
	Subject string `json:"subject,omitempty"`
	Guest   bool   `json:"guest"`
	// Token is a new session token carrying the account's new name (after
	// a claim), or one that is no guest's (after a link); empty otherwise.
	Token     string     `json:"token,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// DeviceSecret is the claimer's new device secret, after a claim that
	// set a new password: the account's other device secrets, the one
	// the claim gave included, no longer log in. Empty otherwise.
	DeviceSecret string `json:"device_secret,omitempty"`
}

// Handler returns the handler of the account endpoints (see the package
// doc). Each needs the session token as Authorization: Bearer. Answers:
// 200 with a Reply; 400 for a malformed body, an invalid name or password;
// 401 without a valid session token, with the token of a kicked or banned
// user or of a session a new password ended (Config.Revoked), or with an
// identity token that fails
// verification; 403 for a claim or a link of a guest account (no
// password, no identity) without the secret of one of its devices
// (device_secret: a wrong one counts against the claim limits), a claim
// or a link of an account that has a password without its
// current_password, or a claim of one linked to an identity without a
// token of it (identity_token) or its current_password; 404 for an
// account the store does not have (a session
// from before the server kept accounts); 409 for a name or identity
// another account has, or a link of an account linked to another
// identity (a link is never replaced); 413 for a body over 4 KiB; 429 with Retry-After
// (seconds) for a claim over the claim rate of its client address or its
// account (a wrong current_password is a wrong password of the account
// besides, as a login's is, but a claim or link is never refused for the
// account's wrong passwords); 503 with Retry-After when too many password hashes wait
// (Config.MaxHashWaiting), 503 without when the store cannot be reached
// (a claim or link answered 503 before any password hash ran for it
// takes none of the claim limits). Error bodies are {"error": "..."}.
// a verifies session and identity tokens and issues the new session token
// a claim or a link returns.
func (s *Service) Handler(a *auth.Authority) http.Handler {
	h := &httpHandler{Service: s, auth: a}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, h.withUser(h.get))
	mux.HandleFunc("POST "+Path+"/claim", h.withUser(h.claim))
	mux.HandleFunc("POST "+Path+"/link", h.withUser(h.link))
	return mux
}

type httpHandler struct {
	*Service
	auth *auth.Authority
}

type handler func(w http.ResponseWriter, r *http.Request, u store.User)

// claimsKey keys the request's session token claims in its context
// (withUser).
type claimsKey struct{}

// withUser verifies the session token and loads its account.
func (s *httpHandler) withUser(next handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		c, err := s.auth.Verify(auth.BearerToken(r.Header.Get("Authorization")), now)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tickroom"`)
			writeError(w, http.StatusUnauthorized, "a valid session token is required (Authorization: Bearer)")
			return
		}
		if s.revoked != nil {
			if msg, revoked := s.revoked(c, now); revoked {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tickroom"`)
				writeError(w, http.StatusUnauthorized, msg)
				return
			}
		}
		u, err := s.users.UserByID(r.Context(), c.UserID)
		if err != nil {
			s.storeError(w, err, "no account for this session; log in again")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)), u)
	}
}

func (s *httpHandler) get(w http.ResponseWriter, _ *http.Request, u store.User) {
	writeJSON(w, http.StatusOK, reply(u))
}

func (s *httpHandler) claim(w http.ResponseWriter, r *http.Request, u store.User) {
	var req struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		// Current is the account's password, which a claimed account
		// must give to change its name or password: a session token
		// alone (a day long, and carried in URLs) does not.
		Current string `json:"current_password"`
		// IdentityToken, a token of the identity the account is linked
		// to, does as well as Current, and an account linked to one and
		// without a password needs it: a password set with a session
		// token alone could never be changed by the owner after.
		IdentityToken string `json:"identity_token"`
		// DeviceSecret, the secret of one of the account's devices (as
		// POST /v1/login takes it), is what a guest account (no
		// password, no identity) must give: a session token alone would
		// let its holder set a password of their own and share the
		// account with its owner for good.
		DeviceSecret string `json:"device_secret"`
	}
	if !decode(w, r, &req) {
		return
	}
	name, err := auth.ValidateName(req.Name)
	if err != nil {
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "auth: "))
		return
	}
	if n := len(req.Password); n < MinPasswordLen || n > MaxPasswordLen {
		writeError(w, http.StatusBadRequest, "the password must be 8 to 256 bytes")
		return
	}
	// A name another account holds is refused before any hashing; the
	// store's insert below still decides a race for the name.
	if other, err := s.users.UserByName(r.Context(), name); err == nil && other.ID != u.ID {
		writeError(w, http.StatusConflict, "the name "+name+" is taken")
		return
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeError(w, err, "")
		return
	}
	if !s.allowClaim(w, r, u.ID) {
		return
	}
	// samePassword: the claim sets the password the account has (a
	// rename, proved with that password or with the identity), which
	// ends no login.
	samePassword := false
	// hashed: a password hash ran for the claim, which then keeps its
	// claims whatever the answer (see claimError).
	hashed := false
	if isGuest(u) {
		ok, err := s.ownsDevice(r.Context(), req.DeviceSecret, u.ID)
		if err != nil {
			s.claimError(w, r, u.ID, err, "", false)
			return
		}
		if !ok {
			writeError(w, http.StatusForbidden, guestProof+" to claim a name")
			return
		}
	} else {
		ok := false
		if u.Subject != "" && req.IdentityToken != "" {
			id, err := s.auth.VerifyIdentity(req.IdentityToken, time.Now())
			ok = err == nil && id.Subject == u.Subject
		}
		byIdentity := ok
		if !ok && u.PasswordHash != "" && req.Current != "" && len(req.Current) <= MaxPasswordLen {
			if ok, hashed = s.checkCurrent(w, r, u, req.Current); !hashed {
				return
			}
			samePassword = ok && req.Password == req.Current
		}
		if byIdentity && u.PasswordHash != "" {
			// Proven with the identity: the claim keeps the password
			// when it gives the one the account has (a rename), which
			// ends no login either.
			var err error
			if samePassword, err = s.verify(r.Context(), req.Password, u.PasswordHash); err != nil {
				s.claimError(w, r, u.ID, err, "", false)
				return
			}
			hashed = true
		}
		switch {
		case ok:
		case u.Subject != "":
			writeError(w, http.StatusForbidden, "this account is linked to an identity: give a token of that identity (identity_token), or its current password (current_password), to change its name or password")
			return
		default:
			writeError(w, http.StatusForbidden, "this account has a password: give the current password (current_password) to change its name or password")
			return
		}
	}
	hash, err := s.hash(r.Context(), req.Password)
	if err != nil {
		s.claimError(w, r, u.ID, err, "", hashed)
		return
	}
	hashed = true
	// A new password signs the account's devices out: their secrets, and
	// a guest's (which whoever borrowed its device may have copied), no
	// longer log in. The claimer's device gets a new secret in their place.
	var secret string
	if samePassword {
		err = s.users.ClaimName(r.Context(), u.ID, name, hash)
	} else {
		var device []byte
		secret, device = newDeviceSecret()
		err = s.users.ClaimNameSigningOut(r.Context(), u.ID, name, hash, device)
	}
	if err != nil {
		if errors.Is(err, store.ErrNameTaken) {
			writeError(w, http.StatusConflict, "the name "+name+" is taken")
			return
		}
		s.claimError(w, r, u.ID, err, "no account for this session; log in again", hashed)
		return
	}
	u.Name, u.Claimed, u.PasswordHash = name, true, hash
	out := reply(u)
	now := time.Now()
	if !samePassword && s.signOut != nil {
		// Tokens carry whole seconds: the sign-out refuses those issued
		// up to this one (or a little later, see hub.Hub's SignOut),
		// every login made before the new password included, and the
		// new token is issued in the next.
		// The claimer's own connection, that of the request's token,
		// stays open.
		c, _ := r.Context().Value(claimsKey{}).(auth.Claims)
		now = s.signOut(u.ID, now, c.IssuedAt).Truncate(time.Second).Add(time.Second)
	} else if s.signedOut != nil {
		// A rename ends nothing; its token is issued past the sign-outs
		// that would refuse it, as a link's (an earlier claim's in this
		// second, say).
		if t, ok := s.signedOut(u.ID, now); ok {
			now = t.Truncate(time.Second).Add(time.Second)
		}
	}
	tok, err := s.auth.Issue(auth.Claims{UserID: u.ID, Name: name, IssuedAt: now, ExpiresAt: now.Add(s.auth.TTL())})
	if err != nil {
		s.claimError(w, r, u.ID, err, "", hashed)
		return
	}
	exp := time.Unix(now.Add(s.auth.TTL()).Unix(), 0).UTC()
	out.Token, out.ExpiresAt, out.DeviceSecret = tok, &exp, secret
	writeJSON(w, http.StatusOK, out)
}

func (s *httpHandler) link(w http.ResponseWriter, r *http.Request, u store.User) {
	var req struct {
		IdentityToken string `json:"identity_token"`
		// Current is the account's password, which an account that has
		// one must give to link an identity: a link is never replaced, so
		// one made with a session token alone would give its holder the
		// account for good.
		Current string `json:"current_password"`
		// DeviceSecret, the secret of one of the account's devices, is
		// what a guest account (no password, no identity) must give, for
		// the same reason.
		DeviceSecret string `json:"device_secret"`
	}
	if !decode(w, r, &req) {
		return
	}
	id, err := s.auth.VerifyIdentity(req.IdentityToken, time.Now())
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, auth.ErrIdentityDisabled) {
			status = http.StatusBadRequest
		}
		writeError(w, status, "identity token refused: "+strings.TrimPrefix(err.Error(), "auth: "))
		return
	}
	if strings.HasPrefix(id.Subject, auth.GuestIDPrefix) {
		writeError(w, http.StatusUnauthorized, "identity token refused: subject uses the reserved prefix "+auth.GuestIDPrefix)
		return
	}
	// A linked identity is not replaced: a session token alone (a day
	// long, and carried in URLs) would otherwise swap in its holder's
	// identity and lock the owner out of their identity login.
	if u.Subject != "" && u.Subject != id.Subject {
		writeError(w, http.StatusConflict, "this account is linked to another identity")
		return
	}
	// claimed: a claim taken, given back if the server cannot link
	// before any password hash ran for the link (hashed).
	claimed, hashed := false, false
	if isGuest(u) {
		ok := false
		if req.DeviceSecret != "" {
			// A guess of the secret: it counts against the claim limits.
			if !s.allowClaim(w, r, u.ID) {
				return
			}
			claimed = true
			if ok, err = s.ownsDevice(r.Context(), req.DeviceSecret, u.ID); err != nil {
				s.claimError(w, r, u.ID, err, "", false)
				return
			}
		}
		if !ok {
			writeError(w, http.StatusForbidden, guestProof+" to link an identity")
			return
		}
	}
	if u.PasswordHash != "" && u.Subject != id.Subject {
		ok := false
		if req.Current != "" && len(req.Current) <= MaxPasswordLen {
			// A guess of the password: it counts against the claim limits.
			if !s.allowClaim(w, r, u.ID) {
				return
			}
			claimed = true
			if ok, hashed = s.checkCurrent(w, r, u, req.Current); !hashed {
				return
			}
		}
		if !ok {
			writeError(w, http.StatusForbidden, "this account has a password: give the current password (current_password) to link an identity")
			return
		}
	}
	if err := s.users.LinkSubject(r.Context(), u.ID, id.Subject); err != nil {
		if errors.Is(err, store.ErrIdentityTaken) {
			writeError(w, http.StatusConflict, "this identity is linked to another account")
			return
		}
		if errors.Is(err, store.ErrAccountLinked) {
			// Linked since it was read above.
			writeError(w, http.StatusConflict, "this account is linked to another identity")
			return
		}
		if claimed {
			s.claimError(w, r, u.ID, err, "no account for this session; log in again", hashed)
		} else {
			s.storeError(w, err, "no account for this session; log in again")
		}
		return
	}
	u.Subject = id.Subject
	out := reply(u)
	// The request's token says the account is a guest, which it is no
	// more; it stays valid, as no password changed, and the new one
	// carries on. It is issued past the sign-outs that would refuse it
	// (a claim's, with its token of the next second, just before).
	now := time.Now()
	if s.signedOut != nil {
		if t, ok := s.signedOut(u.ID, now); ok {
			now = t.Truncate(time.Second).Add(time.Second)
		}
	}
	tok, err := s.auth.Issue(auth.Claims{UserID: u.ID, Name: u.Name, Guest: out.Guest, IssuedAt: now, ExpiresAt: now.Add(s.auth.TTL())})
	if err != nil {
		s.log.Error("account: issuing a session token after a link", "user", u.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "linked, but could not issue a new token: log in again")
		return
	}
	exp := time.Unix(now.Add(s.auth.TTL()).Unix(), 0).UTC()
	out.Token, out.ExpiresAt = tok, &exp
	writeJSON(w, http.StatusOK, out)
}

// checkCurrent checks current, the account's password as a claim or a
// link gives it (current_password), once the request took its claim. It
// is never refused for the account's wrong passwords, as a password
// login is: the owner, logged in with a device secret while someone
// guesses the password, changes it from any address, the guessers' NAT's
// too; its guesses are bounded by the claim limits. A wrong one is a
// wrong password of the account all the same (Service.wrongCurrent). It
// reports whether current is right, and whether its hash ran: when not,
// it has answered the request (503, as claimError).
func (s *httpHandler) checkCurrent(w http.ResponseWriter, r *http.Request, u store.User, current string) (ok, hashed bool) {
	ok, err := s.verify(r.Context(), current, u.PasswordHash)
	if err != nil {
		s.claimError(w, r, u.ID, err, "", false)
		return false, false
	}
	if !ok {
		s.wrongCurrent(r.Context(), u.ID, s.trusted.FromRequest(r))
	}
	return ok, true
}

// guestProof begins the 403 of a claim or a link of a guest account
// without the secret of one of its devices.
const guestProof = "this guest account has no password: give the device secret its login returned (device_secret, as POST /v1/login takes it)"

// isGuest reports an account with neither a password nor an identity,
// which only its device secrets prove.
func isGuest(u store.User) bool { return u.PasswordHash == "" && u.Subject == "" }

// ownsDevice reports whether secret is the device secret of one of the
// account id's devices, looked up by its hash as a device login does.
func (s *Service) ownsDevice(ctx context.Context, secret, id string) (bool, error) {
	if secret == "" || len(secret) > maxSecretLen {
		return false, nil
	}
	d, err := s.users.UserByDevice(ctx, deviceHash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(d.ID), []byte(id)) == 1, nil
}

func reply(u store.User) Reply {
	return Reply{UserID: u.ID, Name: u.Name, Claimed: u.Claimed, Subject: u.Subject, Guest: !u.Claimed && u.Subject == ""}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			writeError(w, http.StatusRequestTimeout, "request body not sent in time")
			return false
		}
		writeError(w, http.StatusBadRequest, "body must be one JSON object")
		return false
	}
	return true
}

// storeError answers a store failure: 404 with notFound for ErrNotFound,
// 503 with Retry-After for auth.ErrBusy, 503 otherwise (logged at error
// level, but at debug level for a client that hung up). It reports a 503:
// the server could not take the request.
func (s *Service) storeError(w http.ResponseWriter, err error, notFound string) (unavailable bool) {
	if errors.Is(err, store.ErrNotFound) && notFound != "" {
		writeError(w, http.StatusNotFound, notFound)
		return false
	}
	if errors.Is(err, auth.ErrBusy) {
		auth.RetryLater(w, http.StatusServiceUnavailable, auth.BusyRetryAfter, auth.ErrBusyMessage)
		return true
	}
	if errors.Is(err, context.Canceled) {
		// The client hung up (while it waited for a hash slot, say): no
		// store failure.
		s.log.Debug("account: request given up by its client", "err", err)
	} else if ok, skipped := s.storeLogs.Allow(time.Now()); ok {
		s.log.Error("account: store", "err", err, "left_out", skipped)
	}
	writeError(w, http.StatusServiceUnavailable, "accounts are unavailable; try again shortly")
	return true
}

// claimError answers err as storeError does for a request that took a
// claim (allowClaim); a 503 before any password hash ran for the request
// (hashed false) gives the claim back to the request's address and to the
// account user, as a claim refused with 400 takes none: a client retrying
// while the server is busy or its store out of reach finds its claims
// there once it answers. Once a hash ran the claim is kept, whatever the
// answer: a client that knows its own password would otherwise have the
// server hash for it without end, each claim answered 503 (the new
// password's hash finding the queue full, the store failing after it).
func (s *httpHandler) claimError(w http.ResponseWriter, r *http.Request, user string, err error, notFound string, hashed bool) {
	if s.storeError(w, err, notFound) && !hashed {
		s.refundClaim(r, user)
	}
}

// refundClaim gives back the claim allowClaim took of the request's
// address and of the account user.
func (s *httpHandler) refundClaim(r *http.Request, user string) {
	now := time.Now()
	s.claimAddrs.Refund(s.trusted.FromRequest(r), now)
	s.claimUsers.Refund(user, now)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// allowClaim takes a claim (or a guess of the account's password) from
// the claim limits of the request's address and of the account; past
// either it answers 429 with Retry-After and reports false. A refused
// claim takes nothing: an account past its own burst, retrying, does not
// spend the claims of the others at its address (the account's bucket is
// looked at first and charged last; two claims of one account at once
// may still both take from the address).
func (s *httpHandler) allowClaim(w http.ResponseWriter, r *http.Request, user string) bool {
	now := time.Now()
	if wait := s.claimUsers.Wait(user, now); wait > 0 {
		auth.RetryLater(w, http.StatusTooManyRequests, wait, "too many claims for this account")
		return false
	}
	if ok, wait := s.claimAddrs.Allow(s.trusted.FromRequest(r), now); !ok {
		auth.RetryLater(w, http.StatusTooManyRequests, wait, "too many claims from this address")
		return false
	}
	if ok, wait := s.claimUsers.Allow(user, now); !ok {
		auth.RetryLater(w, http.StatusTooManyRequests, wait, "too many claims for this account")
		return false
	}
	return true
}
