package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// TokenFromRequest returns the session token a WebSocket handshake carries:
// the "token" query parameter (browsers cannot set headers on a WebSocket),
// else an "Authorization: Bearer" header; empty when neither is there.
func TokenFromRequest(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	return BearerToken(r.Header.Get("Authorization"))
}

// QueryToken returns the "token" query parameter of a request URI such as
// "/ws?token=abc", for handshakes parsed without net/http; empty when it is
// absent or the query does not parse.
func QueryToken(requestURI string) string {
	_, query, ok := strings.Cut(requestURI, "?")
	if !ok {
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	v, err := url.ParseQuery(query)
	if err != nil {
		return ""
	}
	return v.Get("token")
}

// BearerToken returns the token of an Authorization header value
// "Bearer <token>" (scheme matched case-insensitively); empty otherwise.
func BearerToken(authorization string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
