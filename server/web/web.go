// Package web is tickroom's public HTTP side, next to the WebSocket port:
// login (POST /v1/login), the client configuration the demo page reads
// (GET /v1/config), the session check clients make after a refused
// WebSocket upgrade (POST /v1/session), and the demo page itself.
package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/tickroom/tickroom/server/auth"
)

// Config configures the public HTTP handler.
type Config struct {
	// Auth serves logins. Required.
	Auth *auth.Authority
	// WebSocketPort is the port of the WebSocket server; the demo connects
	// to it on the host it was loaded from. Required.
	WebSocketPort int
	// WebSocketPath is the tickroom.v1 endpoint's path. Zero value means
	// "/v1/ws".
	WebSocketPath string
	// WebSocketURL is the address clients should connect to when it is not
	// the WebSocket port on the page's host: behind a TLS proxy, the same
	// origin ("/v1/ws", resolved against the page's URL with ws: or wss:)
	// or a full "wss://..." URL. Zero value means the port and path above.
	WebSocketURL string
	// Demo is the demo page's files (index.html at its root). Zero value
	// means no demo: / answers 404.
	Demo fs.FS
	// Games lists the game names the server runs, for the demo's lobby.
	Games []string
	// Origins is the WebSocket server's Origin allowlist, which the session
	// check (SessionPath) and the login apply too (403). Zero value means
	// any origin.
	Origins []string
	// Revoked reports why the WebSocket upgrade refuses a verified token
	// (its user was kicked or banned), as hub.Hub's Revoked does; the
	// session check answers 401 with that message. Nil means none is.
	Revoked func(c auth.Claims, now time.Time) (string, bool)
}

// ClientConfig is what GET /v1/config returns.
type ClientConfig struct {
	WebSocketPort int      `json:"ws_port"`
	WebSocketPath string   `json:"ws_path"`
	WebSocketURL  string   `json:"ws_url,omitempty"`
	Subprotocol   string   `json:"subprotocol"`
	Games         []string `json:"games"`
}

// New returns the public HTTP handler.
func New(cfg Config) http.Handler {
	if cfg.WebSocketPath == "" {
		cfg.WebSocketPath = "/v1/ws"
	}
	mux := http.NewServeMux()
	mux.Handle(auth.LoginPath, loginHandler(cfg))
	cc, _ := json.Marshal(ClientConfig{
		WebSocketPort: cfg.WebSocketPort, WebSocketPath: cfg.WebSocketPath, WebSocketURL: cfg.WebSocketURL,
		Subprotocol: "tickroom.v1", Games: cfg.Games,
	})
	mux.Handle("POST "+SessionPath, sessionHandler(cfg))
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(cc)
	})
	if cfg.Demo != nil {
		mux.Handle("/", secured(FileServer(cfg.Demo)))
	}
	return mux
}

// loginHandler is the login (auth.Authority.LoginHandler) behind the
// WebSocket server's Origin allowlist, as the session check is: a page
// off the list cannot read the answer (CORS gives it no header), but a
// browser sends its POST all the same when it needs no preflight (a
// text/plain body), and each visitor of such a page would make guest
// accounts and password checks, and spend its own address's logins, for
// that page. A request without Origin (not a browser) is not checked.
func loginHandler(cfg Config) http.Handler {
	login := cfg.Auth.LoginHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && !originAllowed(cfg.Origins, o) {
			w.Header().Set("Cache-Control", "no-store")
			writeError(w, http.StatusForbidden, "origin "+o+" is not allowed to log in on this server")
			return
		}
		login.ServeHTTP(w, r)
	})
}

// FileServer serves fsys like http.FileServerFS, but answers 400 to a path
// that is not valid UTF-8, which fs.FS cannot name and the file server
// would answer with 500.
func FileServer(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !utf8.ValidString(r.URL.Path) {
			http.Error(w, "path is not valid UTF-8", http.StatusBadRequest)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// secured adds the headers a page that renders other users' text wants:
// no inline script, no framing, no MIME sniffing.
func secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// CORS lets a page on another origin use the HTTP API (login, the client
// config, the session check, the ICE servers, the account): a request
// whose Origin the WebSocket server's allowlist admits (every origin when
// origins is empty) gets an Access-Control-Allow-Origin naming it, and a
// preflight (OPTIONS with Access-Control-Request-Method, which a browser
// sends before a JSON POST or a request with an Authorization header) is
// answered 204 with the methods and headers the API takes. An origin off
// the list gets no header, so its page cannot read the answers. No
// credentials are allowed: the API takes its token in the body or the
// Authorization header, never from a cookie.
func CORS(origins []string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		if !originAllowed(origins, origin) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
