package main

import "testing"

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		ws, http string
		ok       bool
	}{
		{"127.0.0.1:8081", "http://127.0.0.1:8080", true},
		{"127.0.0.9:1", "http://[::1]:8080", true},
		{"10.0.0.1:8081", "http://127.0.0.1:8080", false},
		{"127.0.0.1:8081", "http://192.168.1.2:8080", false},
		{"example.org:80", "http://127.0.0.1:8080", false},
		{"127.0.0.1", "http://127.0.0.1:8080", false},
	} {
		if err := loopbackOnly(tc.ws, tc.http); (err == nil) != tc.ok {
			t.Errorf("loopbackOnly(%q, %q) = %v, want ok=%v", tc.ws, tc.http, err, tc.ok)
		}
	}
}
