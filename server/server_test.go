package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value", Config{}, true},
		{"negative loops", Config{Loops: -1}, false},
		{"negative timeout", Config{IdleTimeout: -time.Second}, false},
		{"tiny request cap", Config{MaxRequestSize: 10}, false},
		{"frame over message", Config{MaxFrameSize: 2 << 20, MaxMessageSize: 1 << 20}, false},
		{"hard cap under budget", Config{ReliableBudget: 10 << 20, HardCap: 1 << 20}, false},
		{"hard cap under budget plus a message", Config{ReliableBudget: 1 << 20, MaxMessageSize: 16 << 20, MaxFrameSize: 64 << 10, HardCap: 4 << 20}, false},
		{"hard cap derived from a big message", Config{MaxMessageSize: 16 << 20, MaxFrameSize: 64 << 10}, true},
		{"message of 1 GiB", Config{MaxMessageSize: 1 << 30}, true},
		{"message over 1 GiB", Config{MaxMessageSize: 1<<30 + 1}, false},
		{"request over 1 GiB", Config{MaxRequestSize: 1<<30 + 1}, false},
		{"message rate of 2^20", Config{MessageRate: 1 << 20}, true},
		{"message rate over 2^20", Config{MessageRate: 1<<20 + 1}, false},
		{"outbound budget under the hard cap", Config{HardCap: 8 << 20, MaxOutboundBytes: 4 << 20}, false},
		{"negative conns per IP", Config{MaxConnsPerIP: -1}, false},
		{"negative message rate", Config{MessageRate: -5}, false},
		{"negative outbound budget", Config{MaxOutboundBytes: -1}, false},
		{"negative frame timeout", Config{FrameTimeout: -time.Second}, false},
		{"reserved rate code", Config{RateCloseCode: 1005}, false},
		{"reserved idle code", Config{IdleCloseCode: 1015}, false},
		{"reserved slow code", Config{SlowCloseCode: 1006}, false},
		{"app slow code", Config{SlowCloseCode: 4008}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}

func TestDerivedLimits(t *testing.T) {
	s, err := New(Config{MaxFrameSize: 64 << 10, MaxMessageSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxMessageSize() != 16<<20 {
		t.Fatalf("MaxMessageSize %d", s.MaxMessageSize())
	}
	if min := s.cfg.ReliableBudget + 16<<20 + maxHeaderLen; s.cfg.HardCap < min {
		t.Fatalf("HardCap %d cannot hold the budget and one message (%d)", s.cfg.HardCap, min)
	}
	if s.cfg.MaxOutboundBytes < s.cfg.HardCap {
		t.Fatalf("MaxOutboundBytes %d under HardCap %d", s.cfg.MaxOutboundBytes, s.cfg.HardCap)
	}
}

func TestLifecycleErrors(t *testing.T) {
	t.Run("start twice", func(t *testing.T) {
		s := startServer(t, Config{})
		if err := s.Start(); !errors.Is(err, ErrStarted) {
			t.Fatalf("second Start: %v, want ErrStarted", err)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		s := startServer(t, Config{})
		s2, err := New(Config{Addr: s.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
		// gnet sets SO_REUSEPORT only when asked; a second bind fails.
		if err := s2.Start(); err == nil {
			_ = s2.Shutdown(context.Background())
			t.Skip("the kernel let a second listener bind the same port")
		}
		if err := s2.Shutdown(context.Background()); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Shutdown after a failed Start: %v", err)
		}
	})
	t.Run("shutdown before start", func(t *testing.T) {
		s, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := s.Start(); !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Start after Shutdown: %v", err)
		}
	})
}

func TestRequestQuery(t *testing.T) {
	tests := []struct {
		raw, key, want string
	}{
		{"token=abc", "token", "abc"},
		{"a=1&token=x%2By&token=second", "token", "x+y"},
		{"q=a+b", "q", "a b"},
		{"t%6Fken=enc", "token", "enc"},
		{"token", "token", ""},
		{"other=1", "token", ""},
		{"token=%zz", "token", ""},
		{"", "token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.key, func(t *testing.T) {
			r := &Request{RawQuery: tt.raw}
			if got := r.Query(tt.key); got != tt.want {
				t.Fatalf("Query(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// LookupQuery tells a parameter sent empty, or with bad escapes, from one
// not sent (a declared protocol version that is not a number).
func TestRequestLookupQuery(t *testing.T) {
	tests := []struct {
		raw, want string
		present   bool
	}{
		{"token=a&protocol_version=2", "2", true},
		{"protocol_version=", "", true},
		{"protocol_version", "", true},
		{"protocol_version=%zz", "%zz", true},
		{"token=a", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		r := &Request{RawQuery: tt.raw}
		if v, ok := r.LookupQuery("protocol_version"); v != tt.want || ok != tt.present {
			t.Errorf("LookupQuery in %q = %q, %v; want %q, %v", tt.raw, v, ok, tt.want, tt.present)
		}
	}
}
