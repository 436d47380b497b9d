package social

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tickroom/tickroom/internal/limits"
)

// ICEConfig is the STUN and TURN configuration players' browsers use to
// set up a voice call between them (WebRTC). The server hands it out and
// never carries media. TURN credentials follow the TURN REST convention
// that coturn's use-auth-secret implements: the username is
// "expiry:user" (expiry in Unix seconds) and the credential is
// base64(HMAC-SHA1(secret, username)), so the TURN server checks them with
// the shared secret alone and they stop working at the expiry.
type ICEConfig struct {
	// URLs are the ICE servers, "stun:host:3478", "turn:host:3478",
	// "turns:host:5349?transport=tcp". Zero value means none: browsers on
	// one network still connect through host candidates.
	URLs []string
	// TURNSecret is the secret shared with the TURN server. Zero value
	// means the turn: and turns: URLs get no credentials.
	TURNSecret []byte
	// TTL is how long TURN credentials are valid. Zero value means 1 hour;
	// a negative one is refused by Validate.
	TTL time.Duration
}

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEServers is what GET /v1/ice-servers returns.
type ICEServers struct {
	// Servers goes into RTCConfiguration.iceServers as it is.
	Servers []ICEServer `json:"ice_servers"`
	// TTL is how many seconds the TURN credentials stay valid.
	TTL int64 `json:"ttl"`
}

// ICEPath is the route of the ICE configuration on the public HTTP port.
const ICEPath = "/v1/ice-servers"

func (c ICEConfig) ttl() time.Duration {
	if c.TTL == 0 {
		return time.Hour
	}
	return c.TTL
}

// Validate refuses a negative TTL (wrapping ErrConfig); zero means an
// hour.
func (c ICEConfig) Validate() error {
	if err := limits.NonNegative("ICEConfig.TTL", c.TTL); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// Servers returns the ICE servers for userID at now: STUN URLs as they
// are, TURN URLs with credentials that expire after TTL.
func (c ICEConfig) Servers(userID string, now time.Time) ICEServers {
	out := ICEServers{Servers: []ICEServer{}, TTL: int64(c.ttl() / time.Second)}
	var stun, turn []string
	for _, u := range c.URLs {
		if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
			turn = append(turn, u)
		} else {
			stun = append(stun, u)
		}
	}
	if len(stun) > 0 {
		out.Servers = append(out.Servers, ICEServer{URLs: stun})
	}
	if len(turn) > 0 {
		s := ICEServer{URLs: turn}
		if len(c.TURNSecret) > 0 {
			s.Username, s.Credential = TURNCredential(c.TURNSecret, userID, now.Add(c.ttl()))
		}
		out.Servers = append(out.Servers, s)
	}
	return out
}

// TURNCredential returns the TURN REST username ("expiry:user") and
// credential (base64 of HMAC-SHA1 of the username under secret) valid
// until expiry.
func TURNCredential(secret []byte, userID string, expiry time.Time) (username, credential string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + userID
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ICEHandler serves GET /v1/ice-servers to a logged-in user: verify
// returns the user id of the request's session token (Authorization:
// Bearer) or an error, answered 401. Credentials are made per request and
// per user, so a leaked one names its user and dies at its expiry.
func (c ICEConfig) ICEHandler(verify func(token string) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		user, err := verify(tok)
		if !ok || err != nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "a session token is required", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Servers(user, time.Now()))
	})
}
