package auth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/tickroom/tickroom/server/auth"
)

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name, target, authorization, want string
	}{
		{"query", "/ws?token=abc.def.ghi", "", "abc.def.ghi"},
		{"query escaped", "/ws?room=1&token=a%2Bb", "", "a+b"},
		{"bearer", "/ws", "Bearer abc", "abc"},
		{"bearer lower-case scheme", "/ws", "bearer  abc ", "abc"},
		{"query wins", "/ws?token=q", "Bearer h", "q"},
		{"basic is not bearer", "/ws", "Basic YWxhZGRpbg==", ""},
		{"none", "/ws", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.authorization != "" {
				r.Header.Set("Authorization", tt.authorization)
			}
			if got := auth.TokenFromRequest(r); got != tt.want {
				t.Errorf("TokenFromRequest = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQueryToken(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"/ws?token=abc", "abc"},
		{"/ws?x=1&token=a%2Eb#frag", "a.b"},
		{"/ws", ""},
		{"/ws?token=%zz", ""},
		{"/ws?tok=abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			if got := auth.QueryToken(tt.uri); got != tt.want {
				t.Errorf("QueryToken(%q) = %q, want %q", tt.uri, got, tt.want)
			}
		})
	}
}
