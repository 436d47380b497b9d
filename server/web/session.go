package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tickroom/tickroom/server/auth"
)

// SessionPath is the session check: POST with "Authorization: Bearer
// <token>" answers whether a WebSocket upgrade with that token, from the
// request's Origin, would be accepted.
//
// Browsers hide the HTTP status of a refused WebSocket upgrade: a page
// sees close code 1006 for a bad token, a wrong path and a network that
// is down alike. client-js asks this endpoint after an upgrade fails, and
// stops retrying on 401 (the session is over: log in again) and 403 (the
// page's origin is not allowed), or when its WebSocket path differs from
// ws_path in the reply (it would get 404). A token of a kicked or banned
// user (Config.Revoked), which the upgrade refuses with 403, is answered
// 401 here: the client is to log in again, not to fix its origin. The
// request is a POST so that browsers send the Origin header even from
// the same origin.
const SessionPath = "/v1/session"

// SessionCheck is the body of a 200 answer from SessionPath.
type SessionCheck struct {
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	Guest     bool      `json:"guest"`
	ExpiresAt time.Time `json:"expires_at"`
	// WebSocketPath and WebSocketURL are as in ClientConfig, so that the
	// client can tell a wrong endpoint from a network that is down.
	WebSocketPath string `json:"ws_path"`
	WebSocketURL  string `json:"ws_url,omitempty"`
}

// sessionHandler answers SessionPath; the checks run in the order the
// WebSocket handshake applies them: origin, then token.
func sessionHandler(cfg Config) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if o := r.Header.Get("Origin"); o != "" && !originAllowed(cfg.Origins, o) {
			writeError(w, http.StatusForbidden, "origin "+o+" is not allowed to open WebSockets on this server")
			return
		}
		tok := auth.BearerToken(r.Header.Get("Authorization"))
		if tok == "" {
			writeError(w, http.StatusUnauthorized, "missing session token")
			return
		}
		now := time.Now()
		c, err := cfg.Auth.Verify(tok, now)
		if err != nil {
			writeError(w, http.StatusUnauthorized, auth.Refusal(err))
			return
		}
		if cfg.Revoked != nil {
			if msg, revoked := cfg.Revoked(c, now); revoked {
				writeError(w, http.StatusUnauthorized, msg)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(SessionCheck{
			UserID: c.UserID, Name: c.Name, Guest: c.Guest, ExpiresAt: c.ExpiresAt,
			WebSocketPath: cfg.WebSocketPath, WebSocketURL: cfg.WebSocketURL,
		})
	}
}

// originAllowed applies the WebSocket server's Origin allowlist: empty
// allows every origin; otherwise a case-insensitive match.
func originAllowed(list []string, origin string) bool {
	if len(list) == 0 {
		return true
	}
	for _, a := range list {
		if strings.EqualFold(a, origin) {
			return true
		}
	}
	return false
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
